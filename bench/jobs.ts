// bench/jobs (issue 12): jobs per second end to end (enqueue → succeeded) for 10,000 jobs, beside
// the plain invocation rate of the same capability at the same concurrency in the same run; and
// the effect of a background load of 1,000 jobs/s on interactive invoke latency (p50/p99), beside
// the same interactive load without it, in alternating windows.

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startKernel } from '../kernel/index.ts';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import { FIGURE_MS, STD } from './baselines.ts';
import { log, loop, Report, sleep, summarize } from './measure.ts';

const JOB = `export const manifest = { name: 'bench.job', version: '1.0.0' };
export default async (input) => ({ n: input.n });`;
const ENQ = `export const manifest = { name: 'bench.enq', version: '1.0.0', dependencies: { 'bench.job': '^1' } };
export default async (input, ctx) => { for (let i = 0; i < input.count; i++) await ctx.enqueue('bench.job', { n: input.base + i }); return input.count; };`;
const INTERACTIVE = `export const manifest = { name: 'bench.interactive', version: '1.0.0' };
export default async (input) => ({ echo: input });`;

const TOTAL = 10_000;
const PER_CALL = 100;

async function main(): Promise<void> {
  const report = new Report('jobs');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'substrate-bench-jobs-'));
  const concurrency = Number(process.env.BENCH_JOB_CONCURRENCY ?? '2');
  const running = await startKernel({ dataDir: path.join(tmp, 'kernel'), port: 0, mcp: false, jobConcurrency: concurrency });
  try {
    const kernel = running.kernel;
    for (const source of [JOB, ENQ, INTERACTIVE]) await kernel.register(LOCAL_OPERATOR, { source });
    let succeeded = 0;
    kernel.events.on('event', (e: { type: string }) => {
      if (e.type === 'job.succeeded') succeeded++;
    });

    // Baseline: the same capability invoked directly, as many at once as the runner runs jobs.
    log(`bench.job invoked directly, ${concurrency} in flight …`);
    const direct = await loop((_l, seq) => kernel.invoke({ name: 'bench.job', input: { n: seq } }), concurrency, STD);

    log(`${TOTAL} jobs enqueued by ${TOTAL / PER_CALL} calls, run by the job runner (jobConcurrency ${concurrency}) …`);
    const t0 = performance.now();
    for (let b = 0; b < TOTAL; b += PER_CALL) await kernel.invoke({ name: 'bench.enq', input: { count: PER_CALL, base: b } });
    const enqueuedMs = performance.now() - t0;
    while (succeeded < TOTAL) await sleep(20);
    const totalMs = performance.now() - t0;
    const jobsPerSec = (TOTAL / totalMs) * 1000;
    report.add('jobs end to end (enqueue → succeeded), 10,000 jobs', jobsPerSec, 'calls/s', { baseline: { label: `plain invoke, ${concurrency} in flight`, value: direct.perSec } });
    report.note(`enqueueing ${TOTAL} jobs (${TOTAL / PER_CALL} calls of ${PER_CALL}) took ${Math.round(enqueuedMs)} ms; all succeeded after ${Math.round(totalMs)} ms`);

    // Interactive latency with and without 1,000 jobs/s in the background (alternating windows).
    const interactive = (_l: number, seq: number) => kernel.invoke({ name: 'bench.interactive', input: { seq } });
    const window = Math.max(1000, Math.round(FIGURE_MS / 2));
    const quiet: number[] = [];
    const loaded: number[] = [];
    let background: NodeJS.Timeout | null = null;
    let base = TOTAL;
    const startBackground = () => {
      // 10 jobs every 10 ms: 1,000 jobs/s offered.
      background = setInterval(() => {
        void kernel.invoke({ name: 'bench.enq', input: { count: 10, base } }).catch(() => undefined);
        base += 10;
      }, 10);
    };
    const before = succeeded;
    let loadedMs = 0;
    log('interactive invoke, 8 in flight, with and without 1,000 jobs/s offered in the background …');
    await loop(interactive, 8, { maxMs: 500, maxCount: 1_000_000 });
    for (let round = 0; round < 2; round++) {
      await loop(interactive, 8, { maxMs: window, maxCount: 1_000_000, collect: quiet });
      startBackground();
      await sleep(200);
      const s = performance.now();
      await loop(interactive, 8, { maxMs: window, maxCount: 1_000_000, collect: loaded });
      loadedMs += performance.now() - s;
      if (background) clearInterval(background);
      background = null;
      while (kernel.jobsInFlight() > 0) await sleep(10);
    }
    const q = summarize(quiet);
    const l = summarize(loaded);
    report.add('interactive invoke p99 with 1,000 jobs/s offered', l.p99, 'ms', { baseline: { label: 'without background jobs', value: q.p99 } });
    report.add('interactive invoke p50 with 1,000 jobs/s offered', l.p50, 'ms', { baseline: { label: 'without background jobs', value: q.p50 } });
    report.note(`background jobs that succeeded during the loaded windows and after: ${succeeded - before} (offered ~${Math.round(loadedMs)} jobs over ${Math.round(loadedMs)} ms); the runner runs at most ${concurrency} at once, so a backlog waits rather than crowding interactive calls`);
    report.finish();
  } finally {
    await running.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
