// Issue 14, metrics: counts per version exact after known traffic (successes, failures by type,
// re-runs under contention, egress requests, job runs), windows over a fake clock, metrics/get for
// every role, and GET /metrics parsed back (parse-prometheus-text-format) for operators only.

import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics, type CallOutcome } from '../kernel/metrics.ts';
import type { SubstrateClient } from '../kernel/client.ts';
import { cap, eventually, expectType, startTestKernel, type TestKernel } from './helpers.ts';

interface PromFamily {
  name: string;
  type: string;
  metrics: Array<{ value?: string; labels?: Record<string, string> }>;
}
const parseProm = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => PromFamily[];

const outcome = (o: Partial<CallOutcome>): CallOutcome => ({ hash: 'h1', name: 'x', version: '1.0.0', durationMs: 1, reruns: 0, conflicts: 0, egress: 0, job: false, ...o });

describe('Metrics (kernel/metrics.ts) on a fake clock', () => {
  it('windows add up whole buckets: 1 s within the last minutes, 10 s further back', () => {
    let now = 1_000_000_000_000;
    const m = new Metrics(() => now);
    m.record(outcome({}));
    now += 1500;
    m.record(outcome({ errorType: 'TIMEOUT' }));
    now += 10_000;
    m.record(outcome({ reruns: 2, conflicts: 2, egress: 3, job: true }));
    const start = 1_000_000_000_000;
    expect(m.window('h1', start).calls).toBe(3);
    expect(m.window('h1', start + 1000).calls).toBe(2);
    expect(m.window('h1', start + 2000).calls).toBe(1);
    expect(m.window('h1', start, start + 999)).toMatchObject({ calls: 1, errors: 0 });
    expect(m.window('h1', start + 1000, start + 1999)).toMatchObject({ calls: 1, errors: 1, errorsByType: { TIMEOUT: 1 } });
    expect(m.window('h1', start)).toMatchObject({ reruns: 2, conflicts: 2, egress: 3, jobs: 1, errors: 1 });
    // Unknown versions are all zero.
    expect(m.window('nope', start)).toMatchObject({ calls: 0, p50: 0, p99: 0, name: '' });
    // Ten minutes on, a window from the start is served by the 10 s ring: same totals.
    now += 10 * 60_000;
    expect(m.window('h1', start).calls).toBe(3);
    expect(m.window('h1', now - 60_000).calls).toBe(0);
    // Past the hour the buckets are gone; the totals stay.
    now += 60 * 60_000;
    expect(m.window('h1', start).calls).toBe(0);
    expect(m.total('h1')).toMatchObject({ calls: 3, errors: 1, reruns: 2, jobs: 1 });
  });

  it('percentiles from the histogram are within a bin (19%) of the exact ones', () => {
    const m = new Metrics(() => 5_000);
    for (let ms = 1; ms <= 1000; ms++) m.record(outcome({ durationMs: ms }));
    const w = m.window('h1', 0);
    expect(w.calls).toBe(1000);
    for (const [got, exact] of [[w.p50, 500], [w.p95, 950], [w.p99, 990]]) {
      expect(got).toBeGreaterThan(exact / 1.19);
      expect(got).toBeLessThan(exact * 1.19);
    }
    expect(w.p99).toBeLessThanOrEqual(1000);
  });
});

describe('metrics of a real kernel', () => {
  let k: TestKernel;
  let op: SubstrateClient;
  let http: Server;
  let port: number;

  beforeAll(async () => {
    http = createServer((_req, res) => res.end('pong'));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    port = (http.address() as AddressInfo).port;
    k = await startTestKernel({ workers: 2 });
    op = await k.client();
    await op.call('capabilities/apply', {
      changes: [
        { op: 'register', source: cap({ name: 'mx.ok', body: 'return input;' }) },
        { op: 'register', source: cap({ name: 'mx.fail', inputSchema: { type: 'object' }, body: 'if (input.fail) throw new Error("asked to"); return 1;' }) },
        { op: 'register', source: cap({ name: 'mx.incr', body: 'const n = (await ctx.state.get("n")) ?? 0; await ctx.state.set("n", n + 1); return n + 1;' }) },
        { op: 'register', source: cap({ name: 'mx.fetch', effects: { http: [`127.0.0.1:${port}`] }, body: `const r = await fetch('http://127.0.0.1:${port}/ping'); return await r.text();` }) },
        { op: 'register', source: cap({ name: 'mx.job', body: 'return ctx.invocation.job ? ctx.invocation.job.attempt : null;' }) },
        { op: 'register', source: cap({ name: 'mx.enq', deps: { 'mx.job': '^1' }, body: 'return (await ctx.enqueue("mx.job", {})).jobId;' }) },
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await k?.stop();
    http?.close();
  });

  const hashOf = (name: string) => k.kernel.currentGraph().current(name)!.hash;
  const call = (name: string, input: unknown = {}) => op.call('capabilities/invoke', { name, input: input as never });

  it('N successes and M failures by type are counted exactly', async () => {
    for (let i = 0; i < 7; i++) await call('mx.ok', { i });
    for (let i = 0; i < 3; i++) await expectType(call('mx.fail', { fail: true }), 'CAPABILITY_ERROR');
    for (let i = 0; i < 2; i++) await expectType(call('mx.fail', 'not an object'), 'INVALID_INPUT');
    await call('mx.fail', {});
    expect(k.kernel.metrics!.total(hashOf('mx.ok'))).toMatchObject({ calls: 7, errors: 0, errorsByType: {}, reruns: 0, conflicts: 0, egress: 0, jobs: 0 });
    const f = k.kernel.metrics!.total(hashOf('mx.fail'))!;
    expect(f).toMatchObject({ calls: 6, errors: 5, errorsByType: { CAPABILITY_ERROR: 3, INVALID_INPUT: 2 } });
    // The same over a window that covers the traffic.
    expect(k.kernel.metrics!.window(hashOf('mx.fail'), Date.now() - 60_000)).toMatchObject({ calls: 6, errors: 5 });
    expect(f.p50).toBeGreaterThan(0);
    expect(f.p99).toBeGreaterThanOrEqual(f.p50);
  });

  it('re-runs under contention: the version counts every re-run the kernel made', async () => {
    const before = k.kernel.rerunCount();
    const clients = await Promise.all(Array.from({ length: 10 }, () => k.client()));
    await Promise.all(clients.map(async (c) => {
      for (let i = 0; i < 10; i++) await c.call('capabilities/invoke', { name: 'mx.incr', input: null });
    }));
    const reruns = k.kernel.rerunCount() - before;
    const m = k.kernel.metrics!.total(hashOf('mx.incr'))!;
    expect(m.calls).toBe(100);
    expect(m.errors).toBe(0);
    expect(m.reruns).toBe(reruns);
    // Every re-run followed a lost conflict; none ended in STATE_CONFLICT.
    expect(m.conflicts).toBe(reruns);
  }, 120_000);

  it('egress requests and job runs are counted per version', async () => {
    for (let i = 0; i < 3; i++) expect((await call('mx.fetch')).output).toBe('pong');
    expect(k.kernel.metrics!.total(hashOf('mx.fetch'))).toMatchObject({ calls: 3, egress: 3 });
    await call('mx.enq');
    await call('mx.enq');
    const m = await eventually(() => {
      const t = k.kernel.metrics!.total(hashOf('mx.job'));
      if (t?.jobs !== 2) throw new Error('jobs not run yet');
      return t;
    });
    expect(m).toMatchObject({ calls: 2, jobs: 2, errors: 0 });
  });

  it('metrics/get: per version, for every role, with a window', async () => {
    const client = await k.client(k.auth.create('client', 'reader').token);
    const all = await client.call('metrics/get', {});
    const ok = all.items.find((i) => i.name === 'mx.ok')!;
    expect(ok).toMatchObject({ name: 'mx.ok', version: '1.0.0', current: true, calls: 7, errors: 0 });
    const one = await client.call('metrics/get', { name: 'mx.fail', windowS: 600 });
    expect(one.windowS).toBe(600);
    expect(one.items).toHaveLength(1);
    expect(one.items[0]).toMatchObject({ calls: 6, errors: 5, errorsByType: { CAPABILITY_ERROR: 3, INVALID_INPUT: 2 }, callsPerS: 0.01 });
    await expectType(client.call('metrics/get', { name: 'mx.nothing' }), 'NOT_FOUND');
    await expectType(client.call('metrics/get', { version: '1.0.0' }), 'INVALID_INPUT');
  });

  it('GET /metrics: Prometheus text for operators, 401 without a token, 403 for others', async () => {
    const url = `http://127.0.0.1:${k.port}/metrics`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Bearer ${k.auth.create('agent', 'al').token}` } })).status).toBe(403);
    const res = await fetch(url, { headers: { authorization: `Bearer ${k.operatorToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    const families = new Map(parseProm(text).map((f) => [f.name, f]));
    const value = (family: string, labels: Record<string, string>) =>
      Number(families.get(family)?.metrics.find((m) => Object.entries(labels).every(([k2, v]) => m.labels?.[k2] === v))?.value);
    expect(families.get('substrate_calls_total')?.type).toBe('COUNTER');
    expect(value('substrate_calls_total', { name: 'mx.ok', version: '1.0.0' })).toBe(7);
    expect(value('substrate_calls_total', { name: 'mx.fail' })).toBe(6);
    expect(value('substrate_errors_total', { name: 'mx.fail', type: 'CAPABILITY_ERROR' })).toBe(3);
    expect(value('substrate_errors_total', { name: 'mx.fail', type: 'INVALID_INPUT' })).toBe(2);
    expect(value('substrate_egress_requests_total', { name: 'mx.fetch' })).toBe(3);
    expect(value('substrate_jobs_total', { name: 'mx.job' })).toBe(2);
    expect(value('substrate_generation', {})).toBe(k.kernel.currentGeneration());
    expect(families.get('substrate_call_duration_seconds')?.type).toBe('HISTOGRAM');
    // The histogram line by line (the parser folds labelled histograms into one): cumulative
    // buckets in increasing le, +Inf equal to _count.
    const sample = /^substrate_call_duration_seconds_(bucket|sum|count)\{name="mx\.fail",version="1\.0\.0"(?:,le="([^"]+)")?\} (\S+)$/;
    const buckets: Array<[number, number]> = [];
    let count = -1;
    for (const line of text.split('\n')) {
      const m = sample.exec(line);
      if (!m) continue;
      if (m[1] === 'bucket') buckets.push([m[2] === '+Inf' ? Infinity : Number(m[2]), Number(m[3])]);
      if (m[1] === 'count') count = Number(m[3]);
    }
    expect(count).toBe(6);
    expect(buckets.length).toBeGreaterThan(10);
    for (let i = 1; i < buckets.length; i++) {
      expect(buckets[i][0]).toBeGreaterThan(buckets[i - 1][0]);
      expect(buckets[i][1]).toBeGreaterThanOrEqual(buckets[i - 1][1]);
    }
    expect(buckets.at(-1)).toEqual([Infinity, 6]);
  });
});
