// A broken text.tokenize 1.1.0 for docs/upgrades.md: splits on spaces only and forgets to lowercase,
// so the gates refuse it (text.report's test fails).
export const manifest = {
  name: 'text.tokenize',
  version: '1.1.0',
  description: 'Splits a text into word tokens (fast path)',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  outputSchema: { type: 'object', properties: { tokens: { type: 'array', items: { type: 'string' } } }, required: ['tokens'] },
  tests: [{ name: 'splits on spaces', input: { text: 'a b' }, expect: { tokens: ['a', 'b'] } }],
};
export default async function (input) {
  return { tokens: input.text.split(' ').filter(Boolean) };
}
