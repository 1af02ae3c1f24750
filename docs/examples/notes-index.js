// A retrying worker: indexes one note's words. It is a job, so it runs at least once: a failure is
// retried with backoff (retry below), and a run may repeat after a crash. The job id is its
// idempotency key: a repeated run finds its own mark and does nothing twice.
export const manifest = {
  name: 'notes.index',
  version: '1.0.0',
  description: 'Indexes the words of one note (a job of notes.add)',
  inputSchema: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
  state: { shared: { 'notes.data': 'rw' } },
  retry: { attempts: 5, backoffMs: 2000 },
  tests: [
    { name: 'indexes', input: { id: 1 }, sharedState: { 'notes.data': { 'note:1': { text: 'Buy milk' } } }, expect: { words: 2 } },
    { name: 'a missing note fails (and is retried)', input: { id: 9 }, expectError: { type: 'CAPABILITY_ERROR', message: 'no note 9' } },
  ],
};

export default async function (input, ctx) {
  const data = ctx.state.ns('notes.data');
  const done = ctx.invocation.job ? `done:${ctx.invocation.job.id}` : null;
  if (done && (await data.get(done))) return { words: 0, repeated: true };
  const note = await data.get(`note:${input.id}`);
  if (!note) throw new Error(`no note ${input.id}`);
  const words = note.text.toLowerCase().split(/\W+/).filter(Boolean);
  for (const w of words) {
    const ids = (await data.get(`word:${w}`)) ?? [];
    if (!ids.includes(input.id)) await data.set(`word:${w}`, [...ids, input.id]);
  }
  if (done) await data.set(done, true);
  return { words: words.length };
}
