// A report on a text: its word count, its top words, and how many words were counted in all.
export const manifest = {
  name: 'text.report',
  version: '1.0.0',
  description: 'Word count, top words and the running total',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  dependencies: { 'text.wordcount': '^1.0.0', 'text.frequency': '^1.0.0' },
  state: { shared: { 'text.stats': 'r' } },
  tests: [
    {
      name: 'reports',
      input: { text: 'To be, or not to be.' },
      expect: { words: 6, top: [{ word: 'be', count: 2 }, { word: 'to', count: 2 }, { word: 'not', count: 1 }], total: 6 },
    },
  ],
};

export default async function (input, ctx) {
  const [{ words }, { top }] = await Promise.all([
    ctx.call('text.wordcount', { text: input.text }),
    ctx.call('text.frequency', { text: input.text, top: 3 }),
  ]);
  const total = (await ctx.state.ns('text.stats').get('total')) ?? 0;
  console.log(`report: ${words} words, ${total} in all`);
  return { words, top, total };
}
