// bench/scale (issue 15, "one hot capability, workers 1 → N"): one hot capability invoked with 64
// calls in flight on a kernel with 1 sandbox worker, beside the same on N workers (N = the cores
// this machine has), in the same run. The capability does a little CPU work per call (about
// 0.2 ms of arithmetic), so the figure shows whether its calls use more than one core: a version
// spills to a less loaded worker once its home worker is busy (sandbox/spill.ts).

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startKernel } from '../kernel/index.ts';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import { STD } from './baselines.ts';
import { log, loop, Report } from './measure.ts';

const HOT = `export const manifest = { name: 'bench.hot', version: '1.0.0' };
export default async (input) => { let x = 0; for (let i = 0; i < 200000; i++) x = (x + i * input.n) % 1000003; return { x }; };`;

async function throughput(workers: number): Promise<number> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'substrate-bench-scale-'));
  const running = await startKernel({ dataDir: path.join(tmp, 'kernel'), port: 0, mcp: false, workers });
  try {
    await running.kernel.register(LOCAL_OPERATOR, { source: HOT });
    const r = await loop((_l, n) => running.kernel.invoke({ name: 'bench.hot', input: { n } }), 64, STD);
    if (r.errors) log(`  ${r.errors} errors (first: ${r.firstError})`);
    return r.perSec;
  } finally {
    await running.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const report = new Report('scale');
  const n = Math.max(2, os.availableParallelism());
  log('one hot capability, 64 in flight, 1 worker …');
  const one = await throughput(1);
  log(`the same on ${n} workers …`);
  const many = await throughput(n);
  report.add(`one hot capability, ${n} workers, 64 in flight`, many, 'calls/s', {
    baseline: { label: '1 worker', value: one },
    target: { text: '> 1× (scales with workers)', met: (_v, r) => r !== undefined && r > 1.1 },
  });
  report.note(`the kernel process itself takes a share of the ${os.availableParallelism()} cores (routing, commit, IPC), so N workers cannot reach N×`);
  report.finish();
}

await main();
