// Part of bench/invoke (issue 14): what metrics and call records cost on the invocation path. Two
// in-process kernels, one with both on (the default) and one with `metrics: false, records: false`,
// the same capabilities on each, driven in alternating windows (measure.ts interleaved) so both see
// the same machine: a trivial echo (the cost per call at its largest relative to the work) and one
// that reads a state key (so the record carries a read value), 64 and 1 in flight.

import path from 'node:path';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import { startKernel } from '../kernel/index.ts';
import { INVOKE_PARAMS } from './baselines.ts';
import { interleaved, log, type LoopResult } from './measure.ts';

const ECHO = `export const manifest = { name: 'bench.echo', version: '1.0.0', description: 'returns its input' };
export default async (input) => input;`;
const READER = `export const manifest = { name: 'bench.reader', version: '1.0.0', description: 'reads one key' };
export default async (input, ctx) => ({ n: input.n, seen: await ctx.state.get('k') });`;
const READER_PARAMS = { name: 'bench.reader', input: { n: 1 } };

export interface EvaluationCost {
  echo64: [on: LoopResult, off: LoopResult];
  echo1: [on: LoopResult, off: LoopResult];
  reader64: [on: LoopResult, off: LoopResult];
  /** Records the "on" kernel kept for bench.echo at the end (bounded per version). */
  recordsKept: number;
}

export async function evaluationCost(dir: string, windowMs: number): Promise<EvaluationCost> {
  const on = await startKernel({ dataDir: path.join(dir, 'eval-on'), port: 0, mcp: false, console: false });
  const off = await startKernel({ dataDir: path.join(dir, 'eval-off'), port: 0, mcp: false, console: false, metrics: false, records: false });
  try {
    for (const k of [on, off]) {
      await k.kernel.register(LOCAL_OPERATOR, { source: ECHO });
      await k.kernel.register(LOCAL_OPERATOR, { source: READER });
      k.kernel.store.commitState({ reads: [], nsReads: [], writes: [['bench.reader', 'k', JSON.stringify({ some: 'value', list: [1, 2, 3] })]] });
    }
    const windows = { rounds: 6, windowMs, warmupMs: 500 };
    const pair = (params: typeof INVOKE_PARAMS, inFlight: number) =>
      interleaved(() => on.kernel.invoke(params), () => off.kernel.invoke(params), inFlight, windows);
    log('metrics and records: on vs off, alternating windows …');
    const echo64 = await pair(INVOKE_PARAMS, 64);
    const echo1 = await pair(INVOKE_PARAMS, 1);
    const reader64 = await pair(READER_PARAMS, 64);
    on.kernel.records?.flush();
    const hash = on.kernel.currentGraph().current('bench.echo')!.hash;
    const recordsKept = on.kernel.store.records.count(hash);
    const ratio = (x: [LoopResult, LoopResult]) => (x[0].perSec / x[1].perSec).toFixed(3);
    log(`  echo, 64 in flight: on ${Math.round(echo64[0].perSec)}/s, off ${Math.round(echo64[1].perSec)}/s (×${ratio(echo64)})`);
    log(`  echo, 1 in flight: on ${Math.round(echo1[0].perSec)}/s, off ${Math.round(echo1[1].perSec)}/s (×${ratio(echo1)})`);
    log(`  state read, 64 in flight: on ${Math.round(reader64[0].perSec)}/s, off ${Math.round(reader64[1].perSec)}/s (×${ratio(reader64)}); records kept for bench.echo: ${recordsKept}`);
    return { echo64, echo1, reader64, recordsKept };
  } finally {
    await on.close();
    await off.close();
  }
}
