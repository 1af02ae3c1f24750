// A nightly digest built from state: every day at 07:00 Berlin time, the notes added since the
// last digest, stored under the occurrence's date. The occurrence's time (scheduledAt) names the
// digest, so a repeated run writes the same digest again instead of a second one.
export const manifest = {
  name: 'notes.digest',
  version: '1.0.0',
  description: 'The notes of the day, every morning',
  state: { shared: { 'notes.data': 'rw' } },
  schedules: [{ cron: '0 7 * * *', timezone: 'Europe/Berlin', catchUp: 'latest' }],
  tests: [
    {
      name: 'digests what is new',
      input: null,
      sharedState: { 'notes.data': { last: 2, digested: 1, 'note:2': { text: 'call Ann' } } },
      expect: { notes: ['call Ann'] },
    },
  ],
};

export default async function (input, ctx) {
  const data = ctx.state.ns('notes.data');
  const last = (await data.get('last')) ?? 0;
  const from = (await data.get('digested')) ?? 0;
  const notes = [];
  for (let id = from + 1; id <= last; id++) {
    const note = await data.get(`note:${id}`);
    if (note) notes.push(note.text);
  }
  const day = (ctx.invocation.job?.scheduledAt ?? new Date().toISOString()).slice(0, 10);
  await data.set(`digest:${day}`, { notes, upTo: last });
  await data.set('digested', last);
  return { notes };
}
