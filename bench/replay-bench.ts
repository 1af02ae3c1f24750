// bench/upgrade's replay figure (issue 14): one apply dry run replaying 1,000 recorded calls of a
// capability that reads a state key, on its candidate and on itself (two runs per record), in an
// in-process kernel (Kernel.open, default workers); beside one plain invoke of the same capability
// in the same kernel. The records are the kernel's own (kernel.records), written by the invokes.

import path from 'node:path';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import { Kernel } from '../kernel/kernel.ts';
import { log, summarize } from './measure.ts';

export const REPLAY_RECORDS = 1000;
const NAME = 'bench.replayed';

const source = (version: string, factor: number) => `export const manifest = { name: '${NAME}', version: '${version}', description: 'reads a key, computes' };
export default async (input, ctx) => { const base = (await ctx.state.get('k' + (input.n % 10))) ?? 0; return { n: input.n, v: base + input.n * ${factor} }; };`;

export interface ReplayFigures {
  records: number;
  totalMs: number;
  perRecordMs: number;
  invokeP50Ms: number;
  counts: { same: number; changed: number; unstable: number; unreplayable: number; skipped: number };
}

export async function replayFigures(dir: string): Promise<ReplayFigures> {
  const kernel = await Kernel.open({ dataDir: path.join(dir, 'replay') });
  try {
    const op = LOCAL_OPERATOR;
    await kernel.register(op, { source: source('1.0.0', 2) });
    const invokeMs: number[] = [];
    for (let n = 0; n < REPLAY_RECORDS; n++) {
      const s = performance.now();
      await kernel.invoke({ name: NAME, input: { n } });
      invokeMs.push(performance.now() - s);
    }
    // The candidate changes every answer with an odd n.
    const candidate = source('1.1.0', 2).replace('input.n * 2', '(input.n % 2 ? input.n * 3 : input.n * 2)');
    log(`replay: ${REPLAY_RECORDS} records of ${NAME}, dry run …`);
    const s = performance.now();
    const res = await kernel.apply(op, { changes: [{ op: 'register', source: candidate }], dryRun: true, replay: { samples: REPLAY_RECORDS } });
    const totalMs = performance.now() - s;
    const sum = res.replay?.[0];
    if (!sum) throw new Error('the apply result has no replay summary');
    return {
      records: sum.samples,
      totalMs,
      perRecordMs: totalMs / Math.max(1, sum.samples),
      invokeP50Ms: summarize(invokeMs.slice(100)).p50,
      counts: { same: sum.same, changed: sum.changed, unstable: sum.unstable, unreplayable: sum.unreplayable, skipped: sum.skipped ?? 0 },
    };
  } finally {
    await kernel.close();
  }
}
