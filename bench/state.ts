// bench/state (issue 4): invocations/s of a capability doing 10 ctx.state.get and 10 ctx.state.set
// beside a pure one in the same run (64 in flight through Kernel.invoke), and the re-run rate under
// contention on one key (concurrent increments of one counter). Re-runs are counted by wrapping
// the kernel's pool.run on the instance: every run of the counter's root beyond the first of its
// invocation id is a re-run (the kernel re-runs with the same invocation id).

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startKernel } from '../kernel/index.ts';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import type { RunSpec, TxnRecord } from '../sandbox/protocol.ts';
import { FIGURE_MS, hostHopBaseline, STD } from './baselines.ts';
import { CpuProbe, cpuLine, describeError, log, loop, Report, type LoopResult } from './measure.ts';

const PURE = `export const manifest = { name: 'bench.pure', version: '1.0.0' };
export default async (input) => ({ lane: input.lane, seq: input.seq });`;

const STATEFUL = `export const manifest = { name: 'bench.stateful', version: '1.0.0' };
export default async (input, ctx) => {
  let sum = 0;
  for (let i = 0; i < 10; i++) sum += (await ctx.state.get('l' + input.lane + ':' + i)) ?? 0;
  for (let i = 0; i < 10; i++) await ctx.state.set('l' + input.lane + ':' + i, input.seq + i);
  return { lane: input.lane, seq: input.seq, sum };
};`;

const READS = `export const manifest = { name: 'bench.reads', version: '1.0.0' };
export default async (input, ctx) => {
  let sum = 0;
  for (let i = 0; i < 10; i++) sum += (await ctx.state.get('k' + i)) ?? 0;
  return { sum };
};`;

const WRITES = `export const manifest = { name: 'bench.writes', version: '1.0.0' };
export default async (input, ctx) => {
  for (let i = 0; i < 10; i++) await ctx.state.set('l' + input.lane + ':' + i, input.seq + i);
  return { lane: input.lane };
};`;

const COUNTER = `export const manifest = { name: 'bench.counter', version: '1.0.0' };
export default async (input, ctx) => {
  const n = ((await ctx.state.get('n')) ?? 0) + 1;
  await ctx.state.set('n', n);
  return { n };
};`;

function lat(r: LoopResult): string {
  return `${r.completed} calls, p50 ${r.lat.p50.toFixed(3)} ms, p99 ${r.lat.p99.toFixed(3)} ms, ${Math.round(r.perSec)}/s${r.errors ? `, ${r.errors} errors (${r.firstError})` : ''}`;
}

interface Contention {
  concurrency: number;
  invocations: number;
  succeeded: number;
  conflicted: number;
  otherErrors: number;
  firstOther?: string;
  runs: number;
  /** pool.stats().runs after − before: every run the pool made meanwhile. */
  poolRuns: number;
  /** The kernel's own re-run counter over the same stretch, when it has one. */
  kernelReruns?: number;
  /** invocations that needed at least one re-run */
  rerunInvocations: number;
  counterDelta: number;
  perSec: number;
}

async function main(): Promise<void> {
  const report = new Report('state');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'substrate-bench-state-'));
  let running: Awaited<ReturnType<typeof startKernel>>;
  try {
    running = await startKernel({ dataDir: path.join(tmp, 'kernel'), port: 0, mcp: false });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  try {
    const kernel = running.kernel;

    // Instrumentation, on this instance only: runs per root hash and invocation id, and the time the
    // kernel's thread spends validating and committing state transactions.
    const pool = kernel.pool;
    const runsByInvocation = new Map<string, number>();
    let watchRoot = '';
    /** Worker-side time (RunResult.durationMs) per root hash. */
    const workerMs = new Map<string, { n: number; ms: number }>();
    const origRun = pool.run.bind(pool);
    pool.run = (spec: RunSpec) => {
      if (spec.root === watchRoot) runsByInvocation.set(spec.invocationId, (runsByInvocation.get(spec.invocationId) ?? 0) + 1);
      return origRun(spec).then((r) => {
        const w = workerMs.get(spec.root) ?? { n: 0, ms: 0 };
        w.n++;
        w.ms += r.durationMs;
        workerMs.set(spec.root, w);
        return r;
      });
    };
    const store = kernel.store;
    const origCommit = store.commitState.bind(store);
    const commitStats = { n: 0, ms: 0, conflicts: 0 };
    store.commitState = (txn: TxnRecord) => {
      const s = performance.now();
      const r = origCommit(txn);
      commitStats.ms += performance.now() - s;
      commitStats.n++;
      if (r === 'conflict') commitStats.conflicts++;
      return r;
    };

    const pureV = await kernel.register(LOCAL_OPERATOR, { source: PURE });
    const statefulV = await kernel.register(LOCAL_OPERATOR, { source: STATEFUL });
    await kernel.register(LOCAL_OPERATOR, { source: READS });
    await kernel.register(LOCAL_OPERATOR, { source: WRITES });
    const counter = await kernel.register(LOCAL_OPERATOR, { source: COUNTER });

    const pureCall = (lane: number, seq: number) => kernel.invoke({ name: 'bench.pure', input: { lane, seq } });
    const stateCall = (lane: number, seq: number) => kernel.invoke({ name: 'bench.stateful', input: { lane, seq } });

    // Alternate pure and stateful twice so drift of the machine hits both alike; keep the better of each.
    log('pure vs 10 get + 10 set, 64 in flight through Kernel.invoke …');
    const half = { ...STD, maxMs: Math.max(1000, Math.round(FIGURE_MS / 2)) };
    const p1 = await loop(pureCall, 64, half);
    const conflictsBefore = commitStats.conflicts;
    const s1 = await loop(stateCall, 64, half);
    const c0 = { ...commitStats };
    const probe = new CpuProbe(() => [['bench+kernel', process.pid], ...pool.stats().workers.map((w) => [`worker ${w.slot}`, w.pid] as [string, number])]);
    probe.begin();
    const s2 = await loop(stateCall, 64, { ...half, warmupMs: 0 });
    const stateSamples = probe.end();
    const stateCpu = cpuLine(stateSamples);
    const commitPerCall = (commitStats.ms - c0.ms) / Math.max(1, commitStats.n - c0.n);
    const throughputConflicts = commitStats.conflicts - conflictsBefore;
    probe.begin();
    const p2 = await loop(pureCall, 64, { ...half, warmupMs: 0 });
    const pureSamples = probe.end();
    const pureCpu = cpuLine(pureSamples);
    const pure64 = p1.perSec >= p2.perSec ? p1 : p2;
    const state64 = s1.perSec >= s2.perSec ? s1 : s2;
    log(`  pure: ${lat(p1)} / ${lat(p2)}\n  stateful: ${lat(s1)} / ${lat(s2)}`);
    log('pure vs 10 get + 10 set, 1 in flight …');
    const seqOpts = { maxMs: Math.min(FIGURE_MS, 2000), maxCount: 100_000, warmupMs: 300 };
    workerMs.clear();
    const pure1 = await loop(pureCall, 1, seqOpts);
    const state1 = await loop(stateCall, 1, seqOpts);
    const reads1 = await loop(() => kernel.invoke({ name: 'bench.reads', input: {} }), 1, seqOpts);
    const writes1 = await loop((lane, seq) => kernel.invoke({ name: 'bench.writes', input: { lane, seq } }), 1, seqOpts);
    const perRun = (hash: string) => {
      const w = workerMs.get(hash);
      return w && w.n ? w.ms / w.n : NaN;
    };
    log(`  pure: ${lat(pure1)}\n  stateful: ${lat(state1)}\n  10 gets: ${lat(reads1)}\n  10 sets: ${lat(writes1)}`);

    log('baseline: raw isolated-vm, 20 host round trips per call …');
    const hops = await hostHopBaseline(20);
    log(`  async (request + answer applied back): ${lat(hops.asyncHops)}\n  applySync from an isolate entered with apply: ${lat(hops.syncHops)}\n  applySync from an isolate entered with applySync: ${lat(hops.syncEntered)}\n  no host call: ${lat(hops.none)}`);

    // ---- contention on one key
    const kernelReruns = (): number | undefined => (kernel as { rerunCount?: () => number }).rerunCount?.();
    const counterValue = (): number => {
      try {
        return Number(kernel.stateGet('bench.counter', 'n').value ?? 0);
      } catch {
        return 0; // never written yet
      }
    };
    watchRoot = counter.hash;
    const contention = async (concurrency: number, rounds: number, maxMs: number): Promise<Contention> => {
      const before = counterValue();
      runsByInvocation.clear();
      const poolBefore = pool.stats().runs;
      const rerunsBefore = kernelReruns();
      const c: Contention = { concurrency, invocations: 0, succeeded: 0, conflicted: 0, otherErrors: 0, runs: 0, poolRuns: 0, rerunInvocations: 0, counterDelta: 0, perSec: 0 };
      const t0 = performance.now();
      for (let r = 0; r < rounds && performance.now() - t0 < maxMs; r++) {
        await Promise.all(
          Array.from({ length: concurrency }, () =>
            kernel.invoke({ name: 'bench.counter', input: {} }).then(
              () => c.succeeded++,
              (e: unknown) => {
                if ((e as { type?: string }).type === 'STATE_CONFLICT') c.conflicted++;
                else {
                  c.otherErrors++;
                  c.firstOther ??= describeError(e);
                }
              },
            ),
          ),
        );
        c.invocations += concurrency;
      }
      c.perSec = (c.succeeded / (performance.now() - t0)) * 1000;
      c.poolRuns = pool.stats().runs - poolBefore;
      const rerunsAfter = kernelReruns();
      if (rerunsBefore !== undefined && rerunsAfter !== undefined) c.kernelReruns = rerunsAfter - rerunsBefore;
      for (const n of runsByInvocation.values()) {
        c.runs += n;
        if (n > 1) c.rerunInvocations++;
      }
      c.counterDelta = counterValue() - before;
      return c;
    };
    log('contention: concurrent increments of one counter …');
    await contention(8, 3, 2000); // warm-up
    const c64 = await contention(64, 10, Math.max(5000, FIGURE_MS));
    const c8 = await contention(8, 40, Math.max(3000, FIGURE_MS));
    for (const c of [c64, c8]) {
      log(`  ${c.concurrency} concurrent: ${c.invocations} invocations, ${c.succeeded} ok, ${c.conflicted} STATE_CONFLICT, ${c.otherErrors} other errors${c.firstOther ? ` (${c.firstOther})` : ''}, ${c.poolRuns} pool runs (${c.runs} seen by the wrapper), counter +${c.counterDelta}`);
    }

    // ---- the table
    report.add('10 get + 10 set, 64 in flight', state64.perSec, 'calls/s', {
      baseline: { label: 'pure capability', value: pure64.perSec },
      target: { text: '≥ 0.5× pure', met: (_v, r) => r !== undefined && r >= 0.5 },
    });
    report.add('10 get + 10 set, 64 in flight, p99', state64.lat.p99, 'ms', { baseline: { label: 'pure p99', value: pure64.lat.p99 } });
    report.add('10 get + 10 set, 1 in flight, p50', state1.lat.p50, 'ms', { baseline: { label: 'pure p50', value: pure1.lat.p50 } });
    report.add('  worker time per run (durationMs), stateful, 1 in flight', perRun(statefulV.hash), 'ms', { baseline: { label: 'pure', value: perRun(pureV.hash) } });
    report.add('  10 get only, 1 in flight, p50', reads1.lat.p50, 'ms', { baseline: { label: 'pure p50', value: pure1.lat.p50 } });
    report.add('  10 set only, 1 in flight, p50', writes1.lat.p50, 'ms', { baseline: { label: 'pure p50', value: pure1.lat.p50 } });
    report.add('  kernel-thread state commit per call', commitPerCall, 'ms');
    report.add('raw isolated-vm: 20 async host round trips, p50', hops.asyncHops.lat.p50, 'ms', { baseline: { label: 'no host call', value: hops.none.lat.p50 } });
    report.add('raw isolated-vm: 20 applySync host calls (entered with apply), p50', hops.syncHops.lat.p50, 'ms', { baseline: { label: 'no host call', value: hops.none.lat.p50 } });
    report.add('raw isolated-vm: 20 applySync host calls (entered with applySync), p50', hops.syncEntered.lat.p50, 'ms', { baseline: { label: 'no host call', value: hops.none.lat.p50 } });
    report.add('  conflicts during the 64-in-flight stateful runs', throughputConflicts, 'count');
    report.add('failed calls in the throughput runs', [p1, p2, s1, s2, pure1, state1, reads1, writes1].reduce((n, r) => n + r.errors, 0), 'count', { target: { text: '0', met: (v) => v === 0 } });
    for (const c of [c64, c8]) {
      const reruns = c.poolRuns - c.invocations;
      report.add(`one key, ${c.concurrency} concurrent: re-runs per invocation`, reruns / Math.max(1, c.invocations), 'ratio');
      report.add(`one key, ${c.concurrency} concurrent: invocations re-run ≥ once`, (100 * c.rerunInvocations) / Math.max(1, c.invocations), '%');
      report.add(`one key, ${c.concurrency} concurrent: ended in STATE_CONFLICT`, (100 * c.conflicted) / Math.max(1, c.invocations), '%');
      report.add(`one key, ${c.concurrency} concurrent: increments committed`, c.perSec, 'calls/s', { baseline: { label: 'pure, 64 in flight', value: pure64.perSec } });
      report.add(`one key, ${c.concurrency} concurrent: counter = successes`, c.counterDelta === c.succeeded ? 1 : 0, 'count', {
        target: { text: 'yes (1)', met: (v) => v === 1 },
      });
      if (c.otherErrors) report.note(`${c.concurrency} concurrent: ${c.otherErrors} errors other than STATE_CONFLICT, first: ${c.firstOther}`);
    }
    report.note(
      `re-runs = pool.stats().runs during the contention rounds − invocations (${c64.poolRuns} − ${c64.invocations} at 64, ${c8.poolRuns} − ${c8.invocations} at 8); ` +
        `cross-checked by wrapping kernel.pool.run on this instance and counting runs per invocation id (${c64.runs} and ${c8.runs} runs)` +
        (c64.kernelReruns !== undefined ? ` and by the kernel's own rerunCount() (${c64.kernelReruns} and ${c8.kernelReruns}).` : '; the kernel has no re-run counter of its own.'),
    );
    const perCall = (samples: Array<{ label: string; percent: number }>, perSec: number) =>
      samples
        .filter((x) => x.label !== 'other processes' && Number.isFinite(x.percent) && x.percent >= 1)
        .map((x) => `${x.label} ${((x.percent / 100 / perSec) * 1e6).toFixed(0)} µs`)
        .join(' + ');
    report.note(`CPU (share of one core) with 64 in flight — stateful: ${stateCpu}; pure: ${pureCpu}. Every call of one capability runs on the one worker its version hash maps to.`);
    report.note(`CPU time per call with 64 in flight — stateful: ${perCall(stateSamples, s2.perSec)}; pure: ${perCall(pureSamples, p2.perSec)}.`);
    report.note(`the contention figures fire rounds of N concurrent Kernel.invoke of one counter (get n, set n+1) and wait for each round; ${c64.invocations} and ${c8.invocations} invocations; the kernel allows 5 re-runs, then STATE_CONFLICT.`);
    report.note(`stateful keys are per in-flight lane (l<lane>:<i>), so the 64-in-flight throughput run has no conflicts: it measures the cost of the operations, not of contention.`);
    report.finish();
  } finally {
    await running.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
