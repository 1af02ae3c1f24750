// Gates: the tests a changeset must pass before it may commit. Each test runs in the sandbox
// against the candidate graph (links computed from it) on throwaway state seeded from the test,
// so a gate can neither see nor touch live state.

import type { Json } from '../capabilities/types.ts';
import type { Graph } from '../capabilities/graph.ts';
import type { selectGateTests } from '../capabilities/changeset.ts';
import { jsonEqual } from '../capabilities/equal.ts';
import type { SandboxPool } from '../sandbox/pool.ts';
import type { StateMode } from '../sandbox/protocol.ts';
import type { GateResult } from './api.ts';
import type { ProgressFn } from './kernel.ts';

type GateTest = ReturnType<typeof selectGateTests>[number];

export async function runGates(opts: {
  pool: SandboxPool;
  candidate: Graph;
  tests: GateTest[];
  generation: number;
  concurrency: number;
  /** The changeset is only tried: its tests' logs say `dryRun`, not `gate`. */
  dryRun?: boolean;
  onProgress?: ProgressFn;
}): Promise<GateResult[]> {
  const { tests, onProgress } = opts;
  const results: GateResult[] = new Array(tests.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < tests.length) {
      const i = next++;
      const t = tests[i];
      onProgress?.({ phase: 'gates', capability: t.name, version: t.version, test: t.test.name, done, total: tests.length });
      results[i] = await runOne(opts.pool, opts.candidate, t, opts.generation, opts.dryRun === true);
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, tests.length)) }, worker));
  if (tests.length) onProgress?.({ phase: 'gates', done, total: tests.length });
  return results;
}

async function runOne(pool: SandboxPool, candidate: Graph, t: GateTest, generation: number, dryRun: boolean): Promise<GateResult> {
  const started = performance.now();
  const seed: Extract<StateMode, { mode: 'scratch' }>['seed'] = {};
  if (t.test.state) seed[t.name] = t.test.state;
  for (const [ns, values] of Object.entries(t.test.sharedState ?? {})) seed[`shared:${ns}`] = values;
  const result = await pool.run({
    root: t.hash,
    entry: 'default',
    input: t.test.input,
    invocationId: `gate-${t.name}-${t.test.name}`.slice(0, 120),
    generation,
    links: candidate.links(t.hash),
    state: { mode: 'scratch', seed },
    origin: { kind: dryRun ? 'dryRun' : 'gate', capability: t.name, version: t.version, test: t.test.name },
  });
  const durationMs = Math.round(performance.now() - started);
  const base = { capability: t.name, version: t.version, test: t.test.name, durationMs };
  const { expect, expectError } = t.test;
  if (!result.ok) {
    const error = { type: result.error.type, message: result.error.message };
    if (expectError && expectError.type === result.error.type && (!expectError.message || result.error.message.includes(expectError.message))) {
      return { ...base, passed: true, error };
    }
    return { ...base, passed: false, expected: (expectError ?? expect ?? null) as Json, error };
  }
  if (expectError) {
    return { ...base, passed: false, expected: expectError as unknown as Json, actual: result.output };
  }
  if (expect !== undefined && !jsonEqual(expect, result.output)) {
    return { ...base, passed: false, expected: expect, actual: result.output };
  }
  return { ...base, passed: true, actual: result.output };
}
