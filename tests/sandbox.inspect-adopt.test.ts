// The first run of a version may take over the isolate that inspected its code (one isolate fewer
// per cold start). What must hold either way: the module is evaluated once per isolate, errors
// name the capability, and the version's own memory limit is the one enforced.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxPool } from '../sandbox/pool.ts';
import { makePool, spec, Versions } from './sandbox.fixtures.ts';

const versions = new Versions();
let pool: SandboxPool;

beforeAll(async () => {
  ({ pool } = makePool(versions, { size: 2 }));
  await pool.start();
});

afterAll(async () => {
  await pool.close();
});

describe('the first run after an inspection', () => {
  it('does not evaluate the module again', async () => {
    const code = 'globalThis.loads = (globalThis.loads ?? 0) + 1; export const manifest = { name: "ad.once" }; export default () => globalThis.loads;';
    await expect(pool.inspect(code)).resolves.toMatchObject({ hasDefault: true });
    const h = versions.add('ad.once', code);
    const r = await pool.run(spec(h, null));
    expect(r).toMatchObject({ ok: true, output: 1 });
    expect(await pool.run(spec(h, null))).toMatchObject({ ok: true, output: 1 });
  });

  it('reports errors with the capability in the stack, and grants as in its manifest', async () => {
    const code = 'export default async (i, ctx) => { await ctx.state.ns("ad.board").set("k", 1); throw new Error("bad " + await ctx.state.ns("ad.board").get("k")); };';
    await pool.inspect(code);
    const h = versions.add('ad.thrower', code, { shared: { 'ad.board': 'rw' } });
    const r = await pool.run(spec(h, null));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.type).toBe('CAPABILITY_ERROR');
      expect(r.error.message).toBe('bad 1');
      expect(String((r.error.data as { stack?: string }).stack)).toContain('capability:ad.thrower@1.0.0');
    }
  });

  it('enforces the version\'s memory limit, not the inspection\'s', async () => {
    const code = 'export default () => { const a = []; for (let i = 0; i < 4e6; i++) a.push({ i, s: "x" + i }); return a.length; };';
    await pool.inspect(code);
    const h = versions.add('ad.small', code, { memoryMb: 16 });
    const r = await pool.run(spec(h, null));
    expect(r).toMatchObject({ ok: false, error: { type: 'MEMORY_LIMIT' } });
  });
});
