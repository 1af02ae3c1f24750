// Counts words, and keeps a running total in the shared namespace text.stats.
export const manifest = {
  name: 'text.wordcount',
  version: '1.0.0',
  description: 'Counts words in a text',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  outputSchema: { type: 'object', properties: { words: { type: 'integer' } }, required: ['words'] },
  dependencies: { 'text.tokenize': '^1.0.0' },
  state: { shared: { 'text.stats': 'rw' } },
  tests: [
    { name: 'two words', input: { text: 'a b' }, expect: { words: 2 } },
    { name: 'counts into the total', input: { text: 'one two three' }, expect: { words: 3 }, sharedState: { 'text.stats': { total: 10 } } },
  ],
};

export default async function (input, ctx) {
  const { tokens } = await ctx.call('text.tokenize', { text: input.text });
  const stats = ctx.state.ns('text.stats');
  await stats.set('total', ((await stats.get('total')) ?? 0) + tokens.length);
  await ctx.state.set('last', tokens.length);
  return { words: tokens.length };
}
