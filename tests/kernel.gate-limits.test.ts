// Issue 10, item 2: the limits of changesets and transactions, against a real kernel with real
// workers: tests per version, the time all gates of one changeset may take, the state keys one
// transaction may write, and fairness between agents (gates run outside the commit lock).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KERNEL_LIMITS } from '../capabilities/types.ts';
import { cap, expectType, startTestKernel, type TestKernel } from './helpers.ts';
import type { SubstrateClient } from '../kernel/client.ts';

const GATE_BUDGET_MS = 3000;

let k: TestKernel;
let op: SubstrateClient;

beforeAll(async () => {
  k = await startTestKernel({ workers: 2, gateBudgetMs: GATE_BUDGET_MS });
  op = await k.client();
});
afterAll(async () => {
  await k?.stop();
});

async function agent(name: string): Promise<SubstrateClient> {
  const t = (await op.call('tokens/create', { role: 'agent', name })) as { token: string };
  return k.client(t.token);
}

const sleepTest = (name: string, ms: number) => ({ name, input: { ms }, expect: { slept: ms } });
const SLEEPER = 'await new Promise((r) => setTimeout(r, input.ms)); return { slept: input.ms };';

describe('limits of a changeset', () => {
  it('more gate tests than maxTestsPerVersion: INVALID_MANIFEST naming the limit', async () => {
    const tests = Array.from({ length: KERNEL_LIMITS.maxTestsPerVersion + 1 }, (_, i) => ({ name: `t${i}`, input: {}, expect: {} }));
    const e = await expectType(op.call('capabilities/register', { source: cap({ name: 'many.tests', body: 'return {};', tests }) }), 'INVALID_MANIFEST');
    expect(e.message).toMatch(/maxTestsPerVersion/);
    // Exactly the limit is fine.
    const ok = await op.call('capabilities/register', { source: cap({ name: 'many.tests', body: 'return {};', tests: tests.slice(0, KERNEL_LIMITS.maxTestsPerVersion) }) });
    expect(ok.activated).toBe(true);
  });

  it('gates that together outlast gateTimeMs: GATE_FAILED naming the limit, nothing committed', async () => {
    const before = (await op.call('kernel/info')).generation;
    // Each test is within its own timeoutMs (5 s), but four of 2 s do not fit in 3 s with the
    // default concurrency of 4 plus one more after them.
    const tests = [1, 2, 3, 4, 5].map((i) => sleepTest(`slow ${i}`, 2000));
    const e = await expectType(op.call('capabilities/register', { source: cap({ name: 'slow.gates', body: SLEEPER, tests }) }), 'GATE_FAILED');
    expect(e.data.limit).toBe('gateTimeMs');
    expect(e.data.max).toBe(GATE_BUDGET_MS);
    expect(e.message).toMatch(/gateTimeMs/);
    expect((await op.call('kernel/info')).generation).toBe(before);
    await expectType(op.call('capabilities/describe', { name: 'slow.gates' }), 'NOT_FOUND');
  });
});

describe('rows one transaction may write', () => {
  it('a call writing more than maxTxnRows keys fails with PAYLOAD_TOO_LARGE and commits nothing', async () => {
    const n = KERNEL_LIMITS.maxTxnRows + 1;
    await op.call('capabilities/register', {
      source: cap({
        name: 'many.writes',
        limits: { timeoutMs: 20_000 },
        // The capability even catches what it can: the refused write still fails the call.
        body: `for (let i = 0; i < input.n; i++) { try { await ctx.state.set('k' + i, i); } catch {} } return { wrote: input.n };`,
      }),
    });
    const e = await expectType(op.call('capabilities/invoke', { name: 'many.writes', input: { n } }), 'PAYLOAD_TOO_LARGE');
    expect(e.data.what).toBe('transaction rows');
    expect(e.data.limit).toBe(KERNEL_LIMITS.maxTxnRows);
    const listed = (await op.call('state/list', { namespace: 'many.writes', limit: 10 })) as { items: unknown[] };
    expect(listed.items).toEqual([]);
    // Within the limit it commits.
    expect((await op.call('capabilities/invoke', { name: 'many.writes', input: { n: 3 } })).output).toEqual({ wrote: 3 });
    const after = (await op.call('state/list', { namespace: 'many.writes', limit: 10 })) as { items: unknown[] };
    expect(after.items).toHaveLength(3);
  });
});

describe('fairness: gates run outside the commit lock', () => {
  it("one agent's slow gates do not hold back another agent's change", async () => {
    const alice = await agent('alice');
    const bob = await agent('bob');
    let aliceDone = false;
    const slow = alice
      .call('capabilities/register', { source: cap({ name: 'alice.slow', body: SLEEPER, tests: [sleepTest('slow', 2500)] }) })
      .finally(() => {
        aliceDone = true;
      });
    // Alice's gate is running (or about to) when Bob registers.
    await new Promise((r) => setTimeout(r, 300));
    const fast = await bob.call('capabilities/register', { source: cap({ name: 'bob.fast', body: 'return { ok: true };', tests: [{ name: 'ok', input: {}, expect: { ok: true } }] }) });
    expect(fast.activated).toBe(true);
    expect(aliceDone, "Bob's change committed while Alice's gates still ran").toBe(false);
    const a = await slow;
    // Alice's changeset is re-validated against the graph with Bob's change and commits after it.
    expect(a.activated).toBe(true);
    expect(a.generation).toBeGreaterThan(fast.generation);
    expect((await bob.call('capabilities/invoke', { name: 'alice.slow', input: { ms: 1 } })).output).toEqual({ slept: 1 });
  });

  it('a dependency changed while the gates ran: the gates run again on the new graph', async () => {
    await op.call('capabilities/register', { source: cap({ name: 'dep.value', body: 'return { v: 1 };' }) });
    const app = op.call('capabilities/register', {
      source: cap({
        name: 'app.uses-dep',
        deps: { 'dep.value': '^1.0.0' },
        body: 'await new Promise((r) => setTimeout(r, input.ms)); return await ctx.call("dep.value", {});',
        tests: [{ name: 'sees v 1', input: { ms: 900 }, expect: { v: 1 } }],
      }),
    });
    await new Promise((r) => setTimeout(r, 300));
    // While app's gate runs against dep.value 1.0.0, 1.1.0 (which breaks app's test) commits.
    await op.call('capabilities/register', { source: cap({ name: 'dep.value', version: '1.1.0', body: 'return { v: 2 };' }) });
    const e = await expectType(app, 'GATE_FAILED');
    expect(e.data.test, e.message).toBe('sees v 1');
    expect(e.data.limit, e.message).toBeUndefined();
    expect(e.data.actual).toEqual({ v: 2 });
    await expectType(op.call('capabilities/describe', { name: 'app.uses-dep' }), 'NOT_FOUND');
  });
});
