// Stores a note and enqueues its indexing: the job exists only if this call commits, so a note is
// never indexed without being stored, nor stored without being indexed (docs/jobs.md).
export const manifest = {
  name: 'notes.add',
  version: '1.0.0',
  description: 'Stores a note and enqueues its indexing',
  inputSchema: { type: 'object', properties: { text: { type: 'string', minLength: 1 } }, required: ['text'] },
  dependencies: { 'notes.index': '^1.0.0' },
  state: { shared: { 'notes.data': 'rw' } },
  tests: [
    { name: 'stores and enqueues', input: { text: 'buy milk' }, expect: { id: 1 }, expectJobs: [{ name: 'notes.index', input: { id: 1 } }] },
  ],
};

export default async function (input, ctx) {
  const data = ctx.state.ns('notes.data');
  const id = ((await data.get('last')) ?? 0) + 1;
  await data.set('last', id);
  await data.set(`note:${id}`, { text: input.text, at: new Date().toISOString() });
  await ctx.enqueue('notes.index', { id });
  return { id };
}
