// Issue 12: schedules. Each occurrence becomes at most one job, also across a restart; catchUp
// after downtime; pause and resume; gates assert the jobs a call enqueues and never enqueue real
// ones. A fake clock (KernelOptions.now) stands in for minutes of waiting; one test uses the real
// clock and a real minute cron.

import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import { cap, eventually, expectType, startTestKernel, tmpDir, type TestKernel } from './helpers.ts';

const op = LOCAL_OPERATOR;
const MIN = 60_000;
const T0 = Date.UTC(2030, 0, 1, 0, 1, 0);

/** A capability with schedules (the helper's manifest has no schedules field). */
function scheduled(name: string, schedules: object[], body = 'return ctx.invocation.job;'): string {
  return cap({ name, body }).replace(`"description":"test capability ${name}"`, `"description":"test capability ${name}","schedules":${JSON.stringify(schedules)}`);
}

const stopAfter: TestKernel[] = [];
afterAll(async () => {
  for (const k of stopAfter) await k.stop();
});

describe('schedules on a fake clock', () => {
  const dataDir = tmpDir();
  let now = T0;
  const clock = () => now;
  let k: TestKernel;
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const jobsOf = (name: string) => k.kernel.jobs.list({ name, limit: 1000 }).items;

  it('fires one job per occurrence, never two, with the occurrence as scheduledAt', async () => {
    k = await startTestKernel({ dataDir, now: clock });
    await k.kernel.apply(op, {
      changes: [
        { op: 'register', source: scheduled('sc.latest', [{ cron: '*/5 * * * *', input: { p: 'latest' } }]) },
        { op: 'register', source: scheduled('sc.all', [{ cron: '*/5 * * * *', catchUp: 'all' }]) },
        { op: 'register', source: scheduled('sc.none', [{ cron: '*/5 * * * *', catchUp: 'none' }]) },
      ],
    });
    const list = k.kernel.jobs.schedules();
    expect(list.items.map((s) => [s.name, s.nextRun])).toEqual([
      ['sc.latest', '2030-01-01T00:05:00.000Z'],
      ['sc.all', '2030-01-01T00:05:00.000Z'],
      ['sc.none', '2030-01-01T00:05:00.000Z'],
    ].sort((a, b) => list.items.findIndex((s) => s.name === a[0]) - list.items.findIndex((s) => s.name === b[0])));
    expect(jobsOf('sc.latest')).toHaveLength(0);
    now = T0 + 4 * MIN + 10_000; // 00:05:10
    k.kernel.evaluateSchedules();
    k.kernel.evaluateSchedules();
    for (const n of ['sc.latest', 'sc.all', 'sc.none']) {
      const jobs = jobsOf(n);
      expect(jobs).toHaveLength(1);
      expect(jobs[0]).toMatchObject({ id: `s:${n}:0:${Date.UTC(2030, 0, 1, 0, 5)}`, scheduledAt: '2030-01-01T00:05:00.000Z', origin: { kind: 'schedule', index: 0 } });
    }
    const done = await eventually(() => {
      const j = jobsOf('sc.latest')[0];
      expect(j.status).toBe('succeeded');
      return j;
    });
    expect(done.input).toEqual({ p: 'latest' });
    expect(done.output).toEqual({ id: done.id, attempt: 1, scheduledAt: '2030-01-01T00:05:00.000Z' });
  });

  it('after downtime, catchUp latest runs the last missed occurrence, all each, none none; nothing twice', async () => {
    await eventually(() => expect(k.kernel.jobsInFlight()).toBe(0));
    await k.stop();
    now = T0 + 59 * MIN + 30_000; // 01:00:30: 00:10 … 00:55 missed, 01:00 on time
    k = await startTestKernel({ dataDir, now: clock });
    stopAfter.push(k);
    const at = (m: number) => new Date(Date.UTC(2030, 0, 1, 0, m)).toISOString();
    const times = (n: string) => jobsOf(n).map((j) => j.scheduledAt).sort();
    expect(times('sc.latest')).toEqual([at(5), at(55), at(60)]);
    expect(times('sc.none')).toEqual([at(5), at(60)]);
    expect(times('sc.all')).toEqual([5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60].map(at));
    k.kernel.evaluateSchedules();
    expect(times('sc.all')).toHaveLength(12);
  });

  it('pause passes occurrences over; resume goes on from now', async () => {
    const c = await k.client();
    await c.call('schedules/pause', { name: 'sc.latest' });
    expect((await c.call('schedules/list', { name: 'sc.latest' })).items[0].paused).toBe(true);
    const before = jobsOf('sc.latest').length;
    now += 10 * MIN;
    k.kernel.evaluateSchedules();
    expect(jobsOf('sc.latest')).toHaveLength(before);
    await c.call('schedules/resume', { name: 'sc.latest' });
    expect(jobsOf('sc.latest')).toHaveLength(before);
    // overlap "skip": the earlier occurrences' jobs finish first.
    await eventually(() => expect(jobsOf('sc.latest').every((j) => j.status === 'succeeded')).toBe(true));
    now += 5 * MIN;
    k.kernel.evaluateSchedules();
    expect(jobsOf('sc.latest')).toHaveLength(before + 1);
    await expectType(c.call('schedules/pause', { name: 'sc.nothing' }), 'NOT_FOUND');
  });

  it('a new version with another cron replaces the schedule; removing the capability ends it', async () => {
    await k.kernel.register(op, { source: scheduled('sc.none', [{ cron: '0 * * * *', catchUp: 'none' }]).replace('"version":"1.0.0"', '"version":"1.1.0"') });
    const s = k.kernel.jobs.schedules({ name: 'sc.none' }).items;
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({ version: '1.1.0', cron: '0 * * * *' });
    await k.kernel.remove(op, 'sc.all');
    expect(k.kernel.jobs.schedules({ name: 'sc.all' }).items).toHaveLength(0);
  });

  it('a bad cron, a seconds field or a bad time zone is INVALID_MANIFEST and nothing is stored', async () => {
    for (const bad of [{ cron: '61 * * * *' }, { cron: '* * * * * *' }, { cron: 'every minute' }, { cron: '* * * * *', timezone: 'Mars/Olympus' }, { cron: '* * * * *', catchUp: 'some' }]) {
      const e = await expectType<{ data: { issues: Array<{ path: string }> } }>(k.kernel.register(op, { source: scheduled('sc.bad', [bad]) }), 'INVALID_MANIFEST');
      expect(e.data.issues[0].path).toMatch(/^schedules\[0\]/);
    }
    expect(k.kernel.list({ prefix: 'sc.bad' }).items).toHaveLength(0);
  });
});

describe('gates and jobs', () => {
  it('a test asserts the jobs its call enqueues; gate and dry runs store none', async () => {
    const k = await startTestKernel({});
    stopAfter.push(k);
    await k.kernel.register(op, { source: cap({ name: 'gj.work' }) });
    const body = 'await ctx.enqueue("gj.work", { n: input.n }); return input.n;';
    const ok = cap({ name: 'gj.enq', deps: { 'gj.work': '^1' }, body, tests: [{ name: 'enqueues', input: { n: 2 }, expect: 2, expectJobs: [{ name: 'gj.work', input: { n: 2 } }] }] });
    await k.kernel.apply(op, { changes: [{ op: 'register', source: ok }], dryRun: true });
    await k.kernel.register(op, { source: ok });
    expect(k.kernel.jobs.list({}).items).toHaveLength(0);
    const wrong = cap({ name: 'gj.enq', version: '1.1.0', deps: { 'gj.work': '^1' }, body, tests: [{ name: 'enqueues', input: { n: 2 }, expectJobs: [{ name: 'gj.work', input: { n: 3 } }] }] });
    const e = await expectType<{ data: { actual: unknown } }>(k.kernel.register(op, { source: wrong }), 'GATE_FAILED');
    expect(e.data.actual).toEqual({ output: 2, jobs: [{ name: 'gj.work', input: { n: 2 } }] });
    expect(k.kernel.jobs.list({}).items).toHaveLength(0);
  });
});

describe('a real minute cron', () => {
  it('fires within a minute and its job succeeds', async () => {
    const k = await startTestKernel({});
    stopAfter.push(k);
    await k.kernel.register(op, { source: scheduled('sc.minute', [{ cron: '* * * * *' }]) });
    const job = await eventually(() => {
      const j = k.kernel.jobs.list({ name: 'sc.minute' }).items[0];
      expect(j?.status).toBe('succeeded');
      return j;
    }, { timeoutMs: 90_000, intervalMs: 500 });
    expect(new Date(job.scheduledAt).getUTCSeconds()).toBe(0);
  }, 120_000);
});
