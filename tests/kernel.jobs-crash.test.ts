// Issue 12: kill -9 of the kernel with jobs pending and running, then a restart on the same data
// directory: every acknowledged job runs, none is lost, and a job runs again only if it was
// running at the kill.

import { rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SubstrateClient } from '../kernel/client.ts';
import { cap, eventually, tmpDir } from './helpers.ts';
import { spawnKernel, type KernelProcess } from './kernel-process.ts';

const dataDir = tmpDir();
let current: KernelProcess | undefined;
afterAll(async () => {
  await current?.kill9();
  rmSync(dataDir, { recursive: true, force: true });
});

const db = () => new Database(path.join(dataDir, 'substrate.db'), { readonly: true });

describe('kill -9 with jobs pending and running', () => {
  it('loses no acknowledged job and re-runs only those that were running', async () => {
    current = await spawnKernel(dataDir, 2);
    let c = await SubstrateClient.connect(current.url, { token: current.token });
    await c.call('capabilities/apply', {
      changes: [
        // Each run counts itself in its own state, by job id, then takes a while.
        { op: 'register', source: cap({ name: 'kj.slow', body: 'const k = "runs:" + ctx.invocation.job.id; await ctx.state.set(k, ((await ctx.state.get(k)) ?? 0) + 1); await new Promise((r) => setTimeout(r, 150)); return 1;' }) },
        { op: 'register', source: cap({ name: 'kj.enq', deps: { 'kj.slow': '^1' }, body: 'const ids = []; for (let i = 0; i < 5; i++) ids.push((await ctx.enqueue("kj.slow", { i })).jobId); return ids;' }) },
      ],
    });
    const acknowledged: string[] = [];
    for (let i = 0; i < 30; i++) acknowledged.push(...((await c.call('capabilities/invoke', { name: 'kj.enq', input: null })).output as string[]));
    // Some have run, some run now, most wait.
    await eventually(() => {
      const d = db();
      try {
        expect((d.prepare("SELECT count(*) AS n FROM jobs WHERE status = 'succeeded'").get() as { n: number }).n).toBeGreaterThan(3);
      } finally {
        d.close();
      }
    }, { timeoutMs: 60_000, intervalMs: 20 });
    c.close();
    await current.kill9();
    const d = db();
    const runningAtKill = new Set((d.prepare("SELECT id FROM jobs WHERE status = 'running'").all() as Array<{ id: string }>).map((r) => r.id));
    const pendingAtKill = (d.prepare("SELECT count(*) AS n FROM jobs WHERE status = 'pending'").get() as { n: number }).n;
    d.close();
    expect(pendingAtKill).toBeGreaterThan(0);

    current = await spawnKernel(dataDir, 2);
    c = await SubstrateClient.connect(current.url, { token: current.token });
    await eventually(async () => {
      const r = await c.call('jobs/list', { name: 'kj.slow', status: 'succeeded', limit: 1000 });
      expect(r.items.length).toBe(acknowledged.length);
    }, { timeoutMs: 120_000, intervalMs: 250 });
    for (const id of acknowledged) {
      const runs = (await c.call('state/get', { namespace: 'kj.slow', key: `runs:${id}` })).value as number;
      if (runningAtKill.has(id)) expect(runs).toBeGreaterThanOrEqual(1);
      else expect(runs, `job ${id} was not running at the kill`).toBe(1);
      expect(runs).toBeLessThanOrEqual(2);
    }
    c.close();
    await current.stop();
    current = undefined;
  }, 240_000);
});
