// A hot version is served by more than one worker (sandbox/spill.ts): once it has run successfully
// SPILL_AFTER_RUNS times and its home worker is busy, runs go to a less loaded worker too. A version
// whose worker died while running it stays on its home worker, so a crasher reaches one worker.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxPool } from '../sandbox/pool.ts';
import { SPILL_AFTER_RUNS } from '../sandbox/spill.ts';
import { eventually } from './helpers.ts';
import { makePool, spec, Versions } from './sandbox.fixtures.ts';

const versions = new Versions();
let pool: SandboxPool;

/** Reports the worker it ran on, after waiting a little so that runs pile up. */
const WHERE = `export default async function (input) {
  await new Promise((r) => setTimeout(r, input.waitMs));
  if (input.crash) { const a = []; for (;;) a.push(new Array(1e6).fill(1)); }
  return { ok: true };
}`;

beforeAll(async () => {
  ({ pool } = makePool(versions, { size: 2 }));
  await pool.start();
});
afterAll(async () => {
  await pool?.close();
});

/** Calls each worker has served so far, by pid. */
const callsByPid = () => new Map(pool.stats().workers.map((w) => [w.pid, w.calls]));

describe('a hot version on every worker', () => {
  it('runs on its home worker while it is cold or quiet, then on both under load', async () => {
    const hot = versions.add('spill.hot', WHERE);
    const before = callsByPid();
    // Sequential runs never make the home worker busy: they all stay home.
    for (let i = 0; i < SPILL_AFTER_RUNS; i++) expect((await pool.run(spec(hot, { waitMs: 0 }))).ok).toBe(true);
    const afterQuiet = callsByPid();
    const servedQuiet = [...afterQuiet].filter(([pid, n]) => n > (before.get(pid) ?? 0));
    expect(servedQuiet).toHaveLength(1);
    // 32 at once, each waiting 30 ms: the home worker is busy and the other takes a share.
    const results = await Promise.all(Array.from({ length: 32 }, () => pool.run(spec(hot, { waitMs: 30 }))));
    expect(results.every((r) => r.ok)).toBe(true);
    const afterLoad = callsByPid();
    const served = [...afterLoad].filter(([pid, n]) => n > (afterQuiet.get(pid) ?? 0));
    expect(served).toHaveLength(2);
  });

  it('a version whose worker died while running it is not spread to the other worker', async () => {
    const bad = versions.add('spill.crasher', WHERE);
    for (let i = 0; i < SPILL_AFTER_RUNS; i++) expect((await pool.run(spec(bad, { waitMs: 0 }))).ok).toBe(true);
    // Its worker dies while it runs (killed here; a capability that crashes a worker looks the same).
    const running = pool.run(spec(bad, { waitMs: 5000 }));
    const holder = await eventually(() => {
      const w = pool.stats().workers.find((x) => x.pending > 0);
      expect(w).toBeDefined();
      return w!;
    });
    process.kill(holder.pid, 'SIGKILL');
    const crash = await running;
    expect(crash.ok === false && crash.error.type).toBe('SANDBOX_CRASHED');
    await eventually(() => expect(pool.stats().workers.filter((w) => w.ready)).toHaveLength(2));
    const before = callsByPid();
    const results = await Promise.all(Array.from({ length: 24 }, () => pool.run(spec(bad, { waitMs: 30 }))));
    expect(results.every((r) => r.ok)).toBe(true);
    const after = callsByPid();
    const served = [...after].filter(([pid, n]) => n > (before.get(pid) ?? 0));
    expect(served).toHaveLength(1);
  });
});
