// text.tokenize 1.1.0, done right: one regular expression, lowercased. See docs/upgrades.md.
export const manifest = {
  name: 'text.tokenize',
  version: '1.1.0',
  description: 'Splits a text into word tokens (fast path)',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  outputSchema: { type: 'object', properties: { tokens: { type: 'array', items: { type: 'string' } } }, required: ['tokens'] },
  tests: [{ name: 'splits on spaces', input: { text: 'a b' }, expect: { tokens: ['a', 'b'] } }],
};
export default async function (input) {
  return { tokens: input.text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [] };
}
