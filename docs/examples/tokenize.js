// Splits a text into lowercase word tokens. The leaf of the example graph.
export const manifest = {
  name: 'text.tokenize',
  version: '1.0.0',
  description: 'Splits a text into lowercase word tokens',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  outputSchema: { type: 'object', properties: { tokens: { type: 'array', items: { type: 'string' } } }, required: ['tokens'] },
  tests: [
    { name: 'splits on spaces and punctuation', input: { text: 'Hello, hello world!' }, expect: { tokens: ['hello', 'hello', 'world'] } },
    { name: 'empty text', input: { text: '' }, expect: { tokens: [] } },
  ],
};

export default async function (input) {
  const tokens = input.text.toLowerCase().split(/[^\p{L}\p{N}']+/u).filter(Boolean);
  return { tokens };
}
