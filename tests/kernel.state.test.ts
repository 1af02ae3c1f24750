// Issue 4: shared state, one transaction per call tree, conflicts re-run, typed refusals.

import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import type { SubstrateClient } from '../kernel/client.ts';
import { cap, expectType, startTestKernel, tmpDir, type TestKernel } from './helpers.ts';

let k: TestKernel;
const op = LOCAL_OPERATOR;

beforeAll(async () => {
  k = await startTestKernel({ workers: 2 });
  await k.kernel.apply(op, {
    changes: [
      { op: 'register', source: cap({ name: 'st.incr', body: 'const n = (await ctx.state.get("n")) ?? 0; await ctx.state.set("n", n + 1); return n + 1;' }) },
      {
        op: 'register',
        source: cap({
          name: 'st.transfer',
          body: `const from = input.flip ? 'b' : 'a', to = input.flip ? 'a' : 'b';
                 const x = (await ctx.state.get(from)) ?? 0, y = (await ctx.state.get(to)) ?? 0;
                 await ctx.state.set(from, x - input.amount); await ctx.state.set(to, y + input.amount); return x + y;`,
        }),
      },
    ],
  });
});
afterAll(async () => {
  await k?.stop();
});

describe('transactions under concurrency', () => {
  it('50 connections x 40 increments of one counter end at exactly 2,000', async () => {
    const clients: SubstrateClient[] = await Promise.all(Array.from({ length: 50 }, () => k.client()));
    await Promise.all(
      clients.map(async (c) => {
        for (let i = 0; i < 40; i++) await c.call('capabilities/invoke', { name: 'st.incr', input: null });
      }),
    );
    expect(k.kernel.stateGet('st.incr', 'n').value).toBe(2000);
  }, 300_000);

  it('transfers between two keys under the same load keep their sum', async () => {
    const clients: SubstrateClient[] = await Promise.all(Array.from({ length: 50 }, () => k.client()));
    await Promise.all(
      clients.map(async (c, i) => {
        for (let j = 0; j < 20; j++) {
          await c.call('capabilities/invoke', { name: 'st.transfer', input: { amount: (i % 7) + 1, flip: (i + j) % 2 === 0 } });
        }
      }),
    );
    const a = k.kernel.stateGet('st.transfer', 'a').value as number;
    const b = k.kernel.stateGet('st.transfer', 'b').value as number;
    expect(a + b).toBe(0);
  }, 300_000);
});

describe('atomicity of a call tree', () => {
  it('a failing root call leaves no write', async () => {
    await k.kernel.register(op, { source: cap({ name: 'st.fail', body: 'await ctx.state.set("x", 1); throw new Error("no");' }) });
    await expectType(k.kernel.invoke({ name: 'st.fail', input: null }), 'CAPABILITY_ERROR');
    expect(k.kernel.stateList({ namespace: 'st.fail' }).items).toEqual([]);
  });

  it("a failed nested call that its caller catches leaves none of its own writes and all of the caller's", async () => {
    await k.kernel.apply(op, {
      changes: [
        { op: 'register', source: cap({ name: 'st.child', shared: { 'st.common': 'rw' }, body: 'await ctx.state.ns("st.common").set("child", 1); await ctx.state.set("mine", 1); throw new Error("child fails");' }) },
        {
          op: 'register',
          source: cap({
            name: 'st.parent',
            deps: { 'st.child': '^1' },
            shared: { 'st.common': 'rw' },
            body: `await ctx.state.ns("st.common").set("parent", 1);
                   let caught = null;
                   try { await ctx.call("st.child", null); } catch (e) { caught = e.message; }
                   await ctx.state.set("after", true);
                   return { caught, seesChild: (await ctx.state.ns("st.common").get("child")) ?? null };`,
          }),
        },
      ],
    });
    const r = await k.kernel.invoke({ name: 'st.parent', input: null });
    expect(r.output).toMatchObject({ seesChild: null });
    expect(String((r.output as { caught: string }).caught)).toMatch(/child fails/);
    expect(k.kernel.stateList({ namespace: 'shared:st.common' }).items.map((i) => i.key)).toEqual(['parent']);
    expect(k.kernel.stateList({ namespace: 'st.child' }).items).toEqual([]);
    expect(k.kernel.stateGet('st.parent', 'after').value).toBe(true);
  });

  it('reads see the transaction\'s own writes, including a nested call\'s', async () => {
    await k.kernel.apply(op, {
      changes: [
        { op: 'register', source: cap({ name: 'st.w', shared: { 'st.rw': 'rw' }, body: 'await ctx.state.ns("st.rw").set("k", input); return null;' }) },
        { op: 'register', source: cap({ name: 'st.r', deps: { 'st.w': '^1' }, shared: { 'st.rw': 'r' }, body: 'await ctx.call("st.w", 42); return ctx.state.ns("st.rw").get("k");' }) },
      ],
    });
    expect((await k.kernel.invoke({ name: 'st.r', input: null })).output).toBe(42);
  });
});

describe('refusals', () => {
  it('a namespace not granted gives STATE_FORBIDDEN', async () => {
    await k.kernel.register(op, { source: cap({ name: 'st.nogrant', body: 'return ctx.state.ns("st.common").get("parent");' }) });
    await expectType(k.kernel.invoke({ name: 'st.nogrant', input: null }), 'STATE_FORBIDDEN');
  });

  it("another capability's own namespace can never be opened", async () => {
    await k.kernel.register(op, { source: cap({ name: 'st.snoop', shared: { 'st.incr': 'r' }, body: 'return ctx.state.ns("st.incr").get("n");' }) });
    // Granting `st.incr` names the shared namespace shared:st.incr, never st.incr's own.
    expect((await k.kernel.invoke({ name: 'st.snoop', input: null })).output).toBeNull();
  });

  it('a write to a read-only grant gives STATE_FORBIDDEN', async () => {
    await k.kernel.register(op, { source: cap({ name: 'st.ro', shared: { 'st.common': 'r' }, body: 'await ctx.state.ns("st.common").set("x", 1);' }) });
    await expectType(k.kernel.invoke({ name: 'st.ro', input: null }), 'STATE_FORBIDDEN');
  });

  it('an oversize key or value gives PAYLOAD_TOO_LARGE', async () => {
    await k.kernel.register(op, { source: cap({ name: 'st.big', body: 'await ctx.state.set(input.k === "long" ? "k".repeat(513) : "k", input.k === "long" ? 1 : "v".repeat(1024 * 1024 + 1));' }) });
    await expectType(k.kernel.invoke({ name: 'st.big', input: { k: 'long' } }), 'PAYLOAD_TOO_LARGE');
    await expectType(k.kernel.invoke({ name: 'st.big', input: { k: 'value' } }), 'PAYLOAD_TOO_LARGE');
  });
});

describe('operators', () => {
  it('state/get and state/list, and namespaces in the graph', async () => {
    const c = await k.client();
    expect((await c.call('state/get', { namespace: 'st.incr', key: 'n' })).value).toBeGreaterThan(0);
    const list = await c.call('state/list', { namespace: 'shared:st.common' });
    expect(list.items.map((i) => i.key)).toEqual(['parent']);
    const g = await c.call('graph/get', {});
    expect(g.nodes).toContainEqual({ kind: 'namespace', name: 'shared:st.common', version: null });
    expect(g.edges).toContainEqual(expect.objectContaining({ kind: 'state', from: 'st.ro', to: 'shared:st.common', access: 'r' }));
  });

  it('backs up the store while the kernel runs', async () => {
    const dir = tmpDir();
    try {
      const file = path.join(dir, 'backup.db');
      const c = await k.client();
      const r = await c.call('kernel/backup', { file });
      expect(r.bytes).toBeGreaterThan(0);
      expect(existsSync(file)).toBe(true);
      const db = new Database(file, { readonly: true });
      const row = db.prepare("SELECT value FROM state WHERE namespace = 'st.incr' AND key = 'n'").get() as { value: string };
      db.close();
      expect(JSON.parse(row.value)).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
