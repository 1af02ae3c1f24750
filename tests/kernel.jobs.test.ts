// Issue 12: durable work. Jobs exist exactly when the tree that enqueued them committed; they run
// at least once, retry with backoff, go dead, dedupe by key; every bad enqueue is a typed error
// with nothing stored. Real kernel, real workers, real SQLite file.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import { cap, eventually, expectType, startTestKernel, type TestKernel } from './helpers.ts';

let k: TestKernel;
const op = LOCAL_OPERATOR;

beforeAll(async () => {
  k = await startTestKernel({ workers: 2 });
  await k.kernel.apply(op, {
    changes: [
      // The job: records what it saw (input and ctx.invocation.job) in its state.
      { op: 'register', source: cap({ name: 'jb.work', body: 'await ctx.state.set("run:" + ctx.invocation.job.id + ":" + ctx.invocation.job.attempt, { input, job: ctx.invocation.job }); return { ok: input };' }) },
      // Fails until its input's attempt number is reached.
      {
        op: 'register',
        source: cap({ name: 'jb.flaky', body: 'if (ctx.invocation.job.attempt < input.succeedAt) throw new Error("not yet " + ctx.invocation.job.attempt); return ctx.invocation.job.attempt;' }).replace(
          '"description":"test capability jb.flaky"',
          '"description":"test capability jb.flaky","retry":{"attempts":3,"backoffMs":10}',
        ),
      },
      {
        op: 'register',
        source: cap({
          name: 'jb.enq',
          deps: { 'jb.work': '^1', 'jb.flaky': '^1' },
          body: `const out = [];
                 for (const j of input.jobs ?? []) out.push((await ctx.enqueue(j.name, j.input, j.opts)).jobId);
                 if (input.fail) throw new Error('fails after enqueueing');
                 await ctx.state.set('n', ((await ctx.state.get('n')) ?? 0) + 1);
                 return out;`,
        }),
      },
    ],
  });
});
afterAll(async () => {
  await k?.stop();
});

const enqueue = (jobs: Array<{ name: string; input?: unknown; opts?: unknown }>, fail = false) =>
  k.kernel.invoke({ name: 'jb.enq', input: { jobs, fail } as never });

describe('jobs', () => {
  it('a committed tree enqueues its job, which runs with ctx.invocation.job and succeeds', async () => {
    const r = await enqueue([{ name: 'jb.work', input: { x: 1 } }]);
    const [id] = r.output as string[];
    expect(id).toMatch(/^job_/);
    const job = await eventually(() => {
      const j = k.kernel.jobs.get(id);
      expect(j.status).toBe('succeeded');
      return j;
    });
    expect(job).toMatchObject({ name: 'jb.work', input: { x: 1 }, attempt: 1, output: { ok: { x: 1 } }, origin: { kind: 'enqueue', by: 'jb.enq', version: '1.0.0', invocationId: r.invocationId } });
    const seen = k.kernel.stateGet('jb.work', `run:${id}:1`).value as { job: { id: string; attempt: number; scheduledAt: string } };
    expect(seen.job).toEqual({ id, attempt: 1, scheduledAt: job.scheduledAt });
  });

  it('a tree that fails enqueues nothing', async () => {
    const before = k.kernel.jobs.list({ name: 'jb.work' }).items.length;
    await expectType(enqueue([{ name: 'jb.work', input: 'never' }], true), 'CAPABILITY_ERROR');
    expect(k.kernel.jobs.list({ name: 'jb.work' }).items.length).toBe(before);
  });

  it('hundreds of jobs from concurrent invocations all run exactly once', async () => {
    const c = await k.client();
    const ids = (
      await Promise.all(Array.from({ length: 60 }, (_, i) => c.call('capabilities/invoke', { name: 'jb.enq', input: { jobs: Array.from({ length: 5 }, (_, j) => ({ name: 'jb.work', input: { i, j } })) } })))
    ).flatMap((r) => r.output as string[]);
    expect(new Set(ids).size).toBe(300);
    await eventually(() => {
      for (const id of ids) expect(k.kernel.jobs.get(id).status).toBe('succeeded');
    }, { timeoutMs: 120_000, intervalMs: 200 });
    // Exactly one run each: attempt 1 only.
    for (const id of ids) {
      expect(k.kernel.jobs.get(id).attempt).toBe(1);
      expect(() => k.kernel.stateGet('jb.work', `run:${id}:2`)).toThrow();
    }
  }, 180_000);

  it('retries with backoff per the manifest, then succeeds; or goes dead after the last attempt', async () => {
    const events: Array<{ type: string; id: string }> = [];
    const on = (e: { type: string; id: string }) => e.type.startsWith('job.') && events.push(e);
    k.kernel.events.on('event', on);
    try {
      const [ok, dead] = (await enqueue([{ name: 'jb.flaky', input: { succeedAt: 3 } }, { name: 'jb.flaky', input: { succeedAt: 9 } }])).output as string[];
      await eventually(() => expect(k.kernel.jobs.get(ok).status).toBe('succeeded'), { timeoutMs: 60_000 });
      expect(k.kernel.jobs.get(ok)).toMatchObject({ attempt: 3, output: 3 });
      const d = await eventually(() => {
        const j = k.kernel.jobs.get(dead);
        expect(j.status).toBe('dead');
        return j;
      }, { timeoutMs: 60_000 });
      expect(d.attempt).toBe(3);
      expect(d.error).toMatchObject({ type: 'CAPABILITY_ERROR', message: expect.stringContaining('not yet 3') });
      expect(events.filter((e) => e.id === ok).map((e) => e.type)).toEqual(['job.failed', 'job.failed', 'job.succeeded']);
      expect(events.filter((e) => e.id === dead).map((e) => e.type)).toEqual(['job.failed', 'job.failed', 'job.dead']);
      // A dead job can be retried by hand, with a fresh set of attempts.
      expect(k.kernel.jobs.retry(op, dead)).toMatchObject({ status: 'pending', attempt: 0 });
      await eventually(() => expect(k.kernel.jobs.get(dead).status).toBe('dead'), { timeoutMs: 60_000 });
    } finally {
      k.kernel.events.off('event', on);
    }
  }, 120_000);

  it('a key dedupes pending jobs: the same key gives the same job id', async () => {
    const r = (await enqueue([
      { name: 'jb.work', input: 1, opts: { key: 'k1', delayMs: 60_000 } },
      { name: 'jb.work', input: 2, opts: { key: 'k1', delayMs: 60_000 } },
    ])).output as string[];
    expect(r[0]).toBe(r[1]);
    const again = (await enqueue([{ name: 'jb.work', input: 3, opts: { key: 'k1' } }])).output as string[];
    expect(again[0]).toBe(r[0]);
    const job = k.kernel.jobs.get(r[0]);
    expect(job).toMatchObject({ status: 'pending', input: 1, key: 'k1' });
    expect(k.kernel.jobs.list({ name: 'jb.work', status: 'pending' }).items.filter((j) => j.key === 'k1')).toHaveLength(1);
    // A pending job can be cancelled; it never runs.
    expect(k.kernel.jobs.cancel(op, r[0]).status).toBe('cancelled');
    await expectType(Promise.resolve().then(() => k.kernel.jobs.cancel(op, r[0])), 'INVALID_INPUT');
  });

  it('every bad enqueue is a typed error and stores nothing', async () => {
    const before = k.kernel.jobs.list({ limit: 1000 }).items.length;
    await expectType(enqueue([{ name: 'jb.undeclared', input: 1 }]), 'UNDECLARED_DEPENDENCY');
    await expectType(enqueue([{ name: 'jb.work', input: 1, opts: { delayMs: -1 } }]), 'INVALID_INPUT');
    await expectType(enqueue([{ name: 'jb.work', input: 1, opts: { delayMs: 1.5 } }]), 'INVALID_INPUT');
    await expectType(enqueue([{ name: 'jb.work', input: 1, opts: { delayMs: 'soon' } }]), 'INVALID_INPUT');
    await expectType(enqueue([{ name: 'jb.work', input: 1, opts: { key: '' } }]), 'INVALID_INPUT');
    await expectType(enqueue([{ name: 'jb.work', input: 1, opts: { key: 'x'.repeat(257) } }]), 'INVALID_INPUT');
    await expectType(enqueue([{ name: 'jb.work', input: 'x'.repeat(1024 * 1024 + 1) }]), 'PAYLOAD_TOO_LARGE');
    expect(k.kernel.jobs.list({ limit: 1000 }).items.length).toBe(before);
  });

  it('a job whose capability was removed goes dead with a clear reason', async () => {
    await k.kernel.register(op, { source: cap({ name: 'jb.gone' }) });
    await k.kernel.register(op, { source: cap({ name: 'jb.enq2', deps: { 'jb.gone': '^1' }, body: 'return (await ctx.enqueue("jb.gone", 1, { delayMs: 1500 })).jobId;' }) });
    const id = (await k.kernel.invoke({ name: 'jb.enq2', input: null })).output as string;
    await k.kernel.remove(op, 'jb.enq2');
    await k.kernel.remove(op, 'jb.gone');
    const j = await eventually(() => {
      const x = k.kernel.jobs.get(id);
      expect(x.status).toBe('dead');
      return x;
    }, { timeoutMs: 30_000 });
    expect(j.error).toMatchObject({ type: 'NOT_FOUND', message: expect.stringContaining('removed') });
  });

  it('job events reach WebSocket subscribers; a client may read jobs but not manage them', async () => {
    const c = await k.client();
    const seen: Array<{ type: string; id?: string }> = [];
    await c.subscribe({ types: ['job.succeeded', 'job.dead'] }, (e) => seen.push(e as { type: string; id?: string }));
    const [id] = (await enqueue([{ name: 'jb.work', input: 'evented' }])).output as string[];
    await eventually(() => expect(seen.some((e) => e.type === 'job.succeeded' && e.id === id)).toBe(true));
    const reader = await k.client(k.auth.create('client', 'reader').token);
    expect((await reader.call('jobs/get', { id })).status).toBe('succeeded');
    await expectType(reader.call('jobs/retry', { id }), 'FORBIDDEN');
  });

  it('unknown job ids and bad params are typed errors', async () => {
    await expectType(Promise.resolve().then(() => k.kernel.jobs.get('job_nope')), 'NOT_FOUND');
    const c = await k.client();
    await expect(c.call('jobs/list', { status: 'weird' } as never)).rejects.toMatchObject({ code: -32602 });
    await expectType(c.call('jobs/retry', { id: 'job_nope' }), 'NOT_FOUND');
  });
});
