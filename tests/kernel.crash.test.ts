// Issues 3 and 4: kill -9 of the kernel process. Changesets are never half-applied, the generation
// matches the journal, and every state write acknowledged to a client survives.

import { rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SubstrateClient } from '../kernel/client.ts';
import { cap, tmpDir } from './helpers.ts';
import { spawnKernel, type KernelProcess } from './kernel-process.ts';

const dirs: string[] = [];
let current: KernelProcess | undefined;
afterAll(async () => {
  await current?.kill9();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function inspect(dataDir: string) {
  const db = new Database(path.join(dataDir, 'substrate.db'), { readonly: true });
  try {
    const generation = Number((db.prepare("SELECT value FROM meta WHERE key = 'generation'").get() as { value: string }).value);
    const journalMax = (db.prepare('SELECT max(generation) AS g FROM journal').get() as { g: number | null }).g ?? 0;
    const current = db
      .prepare('SELECT c.name, v.version, v.hash FROM capabilities c LEFT JOIN versions v ON v.hash = c.current_hash WHERE c.current_hash IS NOT NULL')
      .all() as Array<{ name: string; version: string | null; hash: string }>;
    const state = db.prepare("SELECT key, value FROM state WHERE namespace = 'crash.counter'").all() as Array<{ key: string; value: string }>;
    return { generation, journalMax, current, state };
  } finally {
    db.close();
  }
}

describe('kill -9 of the kernel', () => {
  it('never leaves a changeset half-applied (20 kills during a loop of changesets)', async () => {
    const dataDir = tmpDir();
    dirs.push(dataDir);
    let lastCommitted = 0;
    for (let round = 0; round < 20; round++) {
      current = await spawnKernel(dataDir);
      const client = await SubstrateClient.connect(current.url, { token: current.token });
      // Each changeset moves pair.a and pair.b to the same version together.
      let stop = false;
      const loop = (async () => {
        for (let i = 0; !stop; i++) {
          const v = `1.${round}.${i}`;
          try {
            await client.call('capabilities/apply', {
              changes: [
                { op: 'register', source: cap({ name: 'pair.b', version: v, body: `return "${v}";` }) },
                { op: 'register', source: cap({ name: 'pair.a', version: v, deps: { 'pair.b': '^1' }, body: 'return ctx.call("pair.b", null);' }) },
              ],
            });
            lastCommitted = Math.max(lastCommitted, 1);
          } catch {
            return; // the kernel died under us
          }
        }
      })();
      await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 900)));
      await current.kill9();
      stop = true;
      client.close();
      await loop;
      const s = inspect(dataDir);
      expect(s.generation).toBe(s.journalMax);
      const a = s.current.find((c) => c.name === 'pair.a');
      const b = s.current.find((c) => c.name === 'pair.b');
      for (const c of s.current) expect(c.version).not.toBeNull(); // every current pointer names a stored version
      if (a || b) expect(a?.version).toBe(b?.version);
    }
    expect(lastCommitted).toBe(1);
    // And the store still opens and serves after all of it.
    current = await spawnKernel(dataDir);
    const client = await SubstrateClient.connect(current.url, { token: current.token });
    const info = await client.call('kernel/info');
    expect(info.generation).toBe(inspect(dataDir).generation);
    client.close();
    await current.stop();
  });

  it('keeps every acknowledged state write (kill -9 during a write-heavy load)', async () => {
    const dataDir = tmpDir();
    dirs.push(dataDir);
    current = await spawnKernel(dataDir, 2);
    const setup = await SubstrateClient.connect(current.url, { token: current.token });
    await setup.call('capabilities/register', {
      source: cap({
        name: 'crash.counter',
        body: 'const n = (await ctx.state.get(input.key)) ?? 0; await ctx.state.set(input.key, n + 1); return n + 1;',
      }),
    });
    setup.close();
    // Eight clients, each with its own key, log every acknowledged value.
    const acked = new Map<string, number>();
    const clients = await Promise.all(Array.from({ length: 8 }, () => SubstrateClient.connect(current!.url, { token: current!.token })));
    const loops = clients.map(async (c, i) => {
      const key = `k${i}`;
      for (;;) {
        try {
          const r = await c.call('capabilities/invoke', { name: 'crash.counter', input: { key } });
          acked.set(key, r.output as number);
        } catch {
          return;
        }
      }
    });
    await new Promise((r) => setTimeout(r, 2000));
    await current.kill9();
    for (const c of clients) c.close();
    await Promise.all(loops);
    const stored = new Map(inspect(dataDir).state.map((r) => [r.key, JSON.parse(r.value) as number]));
    expect(acked.size).toBe(8);
    for (const [key, n] of acked) {
      // Every acknowledged increment is there; at most the one in flight at the kill went further.
      expect(stored.get(key)).toBeGreaterThanOrEqual(n);
      expect(stored.get(key)! - n).toBeLessThanOrEqual(1);
    }
  });
});
