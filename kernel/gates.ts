// Gates: the tests a changeset must pass before it may commit. Each test runs in the sandbox
// against the candidate graph (links computed from it) on throwaway state seeded from the test,
// so a gate can neither see nor touch live state.
//
// Limits: all gates of one changeset share one time budget (each test also ends at its own
// timeoutMs); tests not finished when it runs out fail with TIMEOUT naming gateTimeMs. Gates run
// outside the kernel's commit lock (commit-pipeline.ts applyPrepared): a result is reused in a later round
// when the test, its version and the versions it resolves to are the same (gateKey).
//
// Hermetic: a test's requests are served its `http` fixtures (egress-fixtures.ts), never the
// network; a request no fixture matches fails the test naming the request, even when the
// capability caught the error it got (docs/effects.md).

import type { Json } from '../capabilities/types.ts';
import type { Graph } from '../capabilities/graph.ts';
import type { selectGateTests } from '../capabilities/changeset.ts';
import { jsonEqual } from '../capabilities/equal.ts';
import { fail } from '../capabilities/errors.ts';
import { mapLimit } from '../capabilities/map-limit.ts';
import type { SandboxPool } from '../sandbox/pool.ts';
import type { StateMode } from '../sandbox/protocol.ts';
import type { Manifest } from '../capabilities/types.ts';
import type { GateResult, ProgressFn } from './api.ts';
import { fixtureSession } from './egress.ts';
import { treeEgress } from './egress-policy.ts';

type GateTest = ReturnType<typeof selectGateTests>[number];

/** Wall-clock time all gate tests of one changeset may take together. */
export const MAX_GATE_MS_PER_CHANGESET = 120_000;
/** Times a changeset's gates are run again because another changeset committed meanwhile. */
export const MAX_GATE_ROUNDS = 3;

export interface GateRun {
  results: GateResult[];
  /** The budget ran out: some test was cut short or never started. */
  overBudget: boolean;
}

/** What makes a gate result valid for a candidate graph: the test, its version, and the hashes
 *  its call tree may resolve to. */
export function gateKey(candidate: Graph, t: GateTest): string {
  return `${t.hash}\u0000${t.test.name}\u0000${JSON.stringify(candidate.links(t.hash))}`;
}

export async function runGates(opts: {
  pool: SandboxPool;
  candidate: Graph;
  tests: GateTest[];
  generation: number;
  concurrency: number;
  /** The changeset is only tried: its tests' logs say `dryRun`, not `gate`. */
  dryRun?: boolean;
  onProgress?: ProgressFn;
  /** The test version's own timeoutMs. */
  timeoutOf: (hash: string) => number;
  /** Manifests of the candidate graph (fixtures are checked against the caller's effects.http). */
  manifestOf: (hash: string) => Manifest;
  /** The changeset's gate budget: everything left ends at `end` (epoch ms); `ms` is its size. */
  budget: { end: number; ms: number };
  /** Passed results of an earlier round, by gateKey: not run again. */
  reuse?: Map<string, GateResult>;
}): Promise<GateRun> {
  const { tests, onProgress } = opts;
  const { end, ms } = opts.budget;
  let overBudget = false;
  let done = 0;
  const results = await mapLimit(tests, opts.concurrency, async (t): Promise<GateResult> => {
    const reused = opts.reuse?.get(gateKey(opts.candidate, t));
    if (reused) {
      done++;
      return reused;
    }
    onProgress?.({ phase: 'gates', capability: t.name, version: t.version, test: t.test.name, done, total: tests.length });
    const own = Date.now() + opts.timeoutOf(t.hash);
    let result: GateResult;
    if (Date.now() >= end) {
      overBudget = true;
      result = { capability: t.name, version: t.version, test: t.test.name, passed: false, durationMs: 0, error: budgetError(ms, 'was not run') };
    } else {
      result = await runOne(opts, t, Math.min(own, end));
      if (own > end && result.error?.type === 'TIMEOUT' && Date.now() >= end) {
        overBudget = true;
        result.error = budgetError(ms, 'did not finish');
      }
    }
    done++;
    return result;
  });
  if (tests.length) onProgress?.({ phase: 'gates', done, total: tests.length });
  return { results, overBudget };
}

/** GATE_FAILED for the first failed result, naming the test, the expected and the actual value;
 *  when the budget ran out, naming the limit (`limit: "gateTimeMs"`). */
export function throwIfGatesFailed(results: GateResult[], overBudget: boolean, budgetMs: number): void {
  const failed = results.filter((g) => !g.passed);
  if (failed.length === 0) return;
  const f = failed[0];
  const detail = f.error ? `failed with ${f.error.type}: ${f.error.message}` : `expected ${JSON.stringify(f.expected)}, got ${JSON.stringify(f.actual)}`;
  const limit = overBudget ? { limit: 'gateTimeMs', max: budgetMs } : {};
  const why = overBudget ? ` (the changeset's gates ran out of their time limit, gateTimeMs ${budgetMs})` : '';
  throw fail('GATE_FAILED', `gate failed: ${f.capability} ${f.version} test '${f.test}' ${detail}${why}`, {
    capability: f.capability,
    version: f.version,
    test: f.test,
    expected: f.expected,
    actual: f.actual,
    error: f.error,
    failed: failed.length,
    ...limit,
    results: results as unknown as Json,
  });
}

function budgetError(budgetMs: number, what: string): { type: string; message: string } {
  return { type: 'TIMEOUT', message: `the test ${what} within the changeset's gate time limit (gateTimeMs ${budgetMs})` };
}

type RunOpts = Pick<Parameters<typeof runGates>[0], 'pool' | 'candidate' | 'generation' | 'dryRun' | 'manifestOf'>;

async function runOne(opts: RunOpts, t: GateTest, deadline: number): Promise<GateResult> {
  const { pool, candidate, generation } = opts;
  const dryRun = opts.dryRun === true;
  const started = performance.now();
  const seed: Extract<StateMode, { mode: 'scratch' }>['seed'] = {};
  if (t.test.state) seed[t.name] = t.test.state;
  for (const [ns, values] of Object.entries(t.test.sharedState ?? {})) seed[`shared:${ns}`] = values;
  const links = candidate.links(t.hash);
  const invocationId = `gate-${t.name}-${t.test.name}`.slice(0, 120);
  const http = fixtureSession({ fixtures: t.test.http ?? [], manifestOf: opts.manifestOf, invocationId });
  const result = await pool.run({
    root: t.hash,
    entry: 'default',
    input: t.test.input,
    invocationId,
    generation,
    links,
    state: { mode: 'scratch', seed },
    deadline,
    origin: { kind: dryRun ? 'dryRun' : 'gate', capability: t.name, version: t.version, test: t.test.name },
  }, treeEgress(links, deadline, opts.manifestOf(t.hash).limits.timeoutMs, () => http));
  const durationMs = Math.round(performance.now() - started);
  const base = { capability: t.name, version: t.version, test: t.test.name, durationMs };
  if (http.unfixtured.length) {
    const list = http.unfixtured.join(', ');
    return { ...base, passed: false, error: { type: 'EFFECT_FORBIDDEN', message: `the test made a request no http fixture answers: ${list} (add it to the test's http fixtures; gates never reach the network)` } };
  }
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
  if (t.test.expectJobs !== undefined) {
    // A gate's transaction is never committed: the jobs it enqueued are only compared, never stored.
    const jobs: Json[] = (result.txn.jobs ?? []).map((j) => ({ name: j.name, input: JSON.parse(j.input) as Json }));
    const want = t.test.expectJobs;
    const same = want.length === jobs.length && want.every((w, i) => {
      const j = jobs[i] as { name: string; input: Json };
      return w.name === j.name && (w.input === undefined || jsonEqual(w.input, j.input));
    });
    if (!same) return { ...base, passed: false, expected: { jobs: want } as unknown as Json, actual: { output: result.output, jobs } };
  }
  return { ...base, passed: true, actual: result.output };
}
