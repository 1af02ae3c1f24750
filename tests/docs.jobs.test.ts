// docs/jobs.md's worked example works as the page says: notes.add stores a note and enqueues its
// indexing (notes.index, a retrying worker), and notes.digest builds the morning digest from state
// on its schedule (a fake clock stands in for the night).

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import { eventually, startTestKernel, type TestKernel } from './helpers.ts';
import { REPO_ROOT } from './typecheck.ts';

const op = LOCAL_OPERATOR;
const example = (f: string) => readFileSync(path.join(REPO_ROOT, 'docs', 'examples', f), 'utf8');
let now = Date.UTC(2031, 0, 1, 12, 0, 0);
let k: TestKernel;

beforeAll(async () => {
  k = await startTestKernel({ now: () => now });
  await k.kernel.apply(op, {
    changes: ['notes-index.js', 'notes-add.js', 'notes-digest.js'].map((f) => ({ op: 'register' as const, source: example(f) })),
  });
});
afterAll(async () => {
  await k?.stop();
});

describe('docs/jobs.md example', () => {
  it('graph/get marks the dependency a version enqueues, and only that one', () => {
    const edges = k.kernel.graphView({ root: 'notes.add' }).edges.filter((e) => e.kind === 'call');
    expect(edges).toEqual([expect.objectContaining({ from: 'notes.add', to: 'notes.index', enqueue: true })]);
    const calls = k.kernel.graphView().edges.filter((e) => e.kind === 'call' && e.from !== 'notes.add');
    for (const e of calls) expect(e).not.toHaveProperty('enqueue');
  });

  it('docs/jobs.md names the example files', () => {
    const page = readFileSync(path.join(REPO_ROOT, 'docs', 'jobs.md'), 'utf8');
    for (const f of ['notes-add.js', 'notes-index.js', 'notes-digest.js']) expect(page).toContain(`examples/${f}`);
  });

  it('a stored note is indexed by its job, and the morning digest lists the new notes', async () => {
    const ids = [];
    for (const text of ['Buy milk', 'Call Ann about milk']) ids.push(((await k.kernel.invoke({ name: 'notes.add', input: { text } })).output as { id: number }).id);
    await eventually(() => {
      const jobs = k.kernel.jobs.list({ name: 'notes.index' }).items;
      expect(jobs.map((j) => j.status)).toEqual(['succeeded', 'succeeded']);
    });
    expect(k.kernel.stateGet('shared:notes.data', 'word:milk').value).toEqual(ids);
    expect(k.kernel.jobs.schedules({ name: 'notes.digest' }).items[0].nextRun).toBe('2031-01-02T06:00:00.000Z');
    now = Date.UTC(2031, 0, 2, 6, 0, 20);
    k.kernel.evaluateSchedules();
    await eventually(() => expect(k.kernel.jobs.list({ name: 'notes.digest' }).items[0]?.status).toBe('succeeded'));
    expect(k.kernel.stateGet('shared:notes.data', 'digest:2031-01-02').value).toEqual({ notes: ['Buy milk', 'Call Ann about milk'], upTo: 2 });
  });
});
