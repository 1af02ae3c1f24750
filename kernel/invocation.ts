// Invocation: runs a root call pinned to the generation current when it starts, commits the call
// tree's state transaction, and re-runs it when it lost a state conflict — the later runs holding
// the keys it touched (key-locks.ts), so a hot key cannot starve it. A tree's requests go through
// one egress session (egress.ts) kept across its re-runs, so a re-run is served the responses of
// identical requests instead of repeating them; it is made on the first fetch only.
//
// Invariant: a call resolves every version against the one Graph object it took at its start;
// commits meanwhile replace the current graph but never that object, so a call tree never mixes
// generations (docs/upgrades.md).

import { nanoid } from 'nanoid';
import { fail, SubstrateError } from '../capabilities/errors.ts';
import type { JobInfo } from '../capabilities/jobs.ts';
import type { TxnRecord } from '../capabilities/run-types.ts';
import { KERNEL_LIMITS } from '../capabilities/types.ts';
import type { StoreApi } from '../store/types.ts';
import type { SandboxPool } from '../sandbox/pool.ts';
import { checkTxnRows } from '../sandbox/transaction.ts';
import type { InvokeParams, InvokeResult } from './api.ts';
import type { Generation } from './generation.ts';
import type { Egress, EgressSession } from './egress.ts';
import { treeEgress } from './egress-policy.ts';
import type { GrantRules } from './grants.ts';
import { KeyLocks, lockKey } from './key-locks.ts';
import type { Evaluation } from './call-trace.ts';

export class Invocations {
  private readonly locks = new KeyLocks();
  private reruns = 0;

  constructor(
    private readonly store: StoreApi,
    private readonly pool: SandboxPool,
    private readonly gen: Generation,
    private readonly grants: GrantRules,
    private readonly egress: Egress,
  ) {}

  /** Called after a commit that stored jobs (the job runner looks for due work). */
  onJobs: () => void = () => undefined;

  /** Told the outcome of every root call (the rollout controller's samples, rollout-samples.ts). */
  observe: (hash: string, ok: boolean, durationMs: number, errorType?: string) => void = () => undefined;

  /** Metrics and records of root calls (call-trace.ts); null: neither is kept. */
  evaluation: Evaluation | null = null;

  async invoke(params: InvokeParams, opts: { job?: JobInfo } = {}): Promise<InvokeResult> {
    const started = performance.now();
    // Pin the generation: the graph object is immutable, so everything below resolves against
    // the generation current at this instant, whatever commits meanwhile. While a rollout runs,
    // pin() draws this root's canaries: the whole tree resolves on the one graph drawn.
    const { graph, generation } = this.gen.pin();
    const root = params.version !== undefined ? graph.find(params.name, params.version) : graph.current(params.name);
    if (!root) {
      if (params.version !== undefined) {
        throw fail('NOT_FOUND', `no version ${params.version} of '${params.name}'`, { name: params.name, version: params.version });
      }
      throw fail('NOT_FOUND', `no current capability '${params.name}'`, { name: params.name });
    }
    const links = this.gen.linksFor(graph, root.hash);
    const access = this.grants.runAccess(links);
    const invocationId = nanoid(12);
    let holder = 0;
    let session: EgressSession | undefined;
    const timeoutMs = this.gen.manifestOf(root.hash).limits.timeoutMs;
    const egress = () => (session ??= this.egress.session(invocationId));
    const trace = this.evaluation?.begin(root, params.input ?? null, generation, invocationId, opts.job !== undefined);
    let failure: string | undefined = 'UNKNOWN';
    let caught: unknown;
    try {
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) session?.nextAttempt();
        // Each run has its own deadline (as the worker would set it), which its requests share.
        const deadline = Date.now() + timeoutMs;
        const result = await this.pool.run({
          root: root.hash,
          entry: 'default',
          input: params.input === undefined ? null : params.input,
          invocationId,
          generation,
          links,
          state: { mode: 'live' },
          deadline,
          shared: access.shared,
          ...(opts.job ? { job: opts.job } : {}),
        }, treeEgress(links, deadline, timeoutMs, trace ? trace.attempt(egress) : egress));
        trace?.ran(result);
        if (!result.ok) throw SubstrateError.fromWire(result.error);
        this.grants.checkTxn(access, result.txn);
        if (this.commitTxn(result.txn, holder) === 'ok') {
          failure = undefined;
          if (result.txn.jobs?.length) this.onJobs();
          return {
            output: result.output,
            name: root.name,
            version: root.version,
            generation,
            invocationId,
            durationMs: Math.round((performance.now() - started) * 1000) / 1000,
          };
        }
        if (attempt >= KERNEL_LIMITS.maxConflictReruns) {
          throw fail('STATE_CONFLICT', `state conflict: ${params.name} was re-run ${attempt} times and still conflicted`, {
            name: root.name,
            reruns: attempt,
          });
        }
        // Lost a conflict: re-run holding the keys it touched (see key-locks.ts).
        this.reruns++;
        holder ||= this.locks.newHolder();
        await this.locks.acquire(footprint(result.txn), holder);
      }
    } catch (e) {
      failure = e instanceof SubstrateError ? e.type : 'UNKNOWN';
      caught = e;
      throw e;
    } finally {
      if (holder) this.locks.release(holder);
      this.observe(root.hash, failure === undefined, performance.now() - started, failure);
      trace?.end(failure === undefined ? undefined : (caught ?? failure), performance.now() - started);
    }
  }

  /** Re-runs caused by state conflicts since start (benchmarks and docs/state.md read it). */
  rerunCount(): number {
    return this.reruns;
  }

  private commitTxn(txn: TxnRecord, holder: number): 'ok' | 'conflict' {
    checkTxnRows(txn.writes.length);
    // One read is trivially consistent; jobs and keyed enqueues always go through the store.
    if (txn.writes.length === 0 && txn.reads.length <= 1 && txn.nsReads.length === 0 && !txn.jobs && !txn.jobKeys) return 'ok';
    if (this.locks.size > 0) {
      for (const [ns, key] of txn.writes) if (this.locks.lockedByOther(lockKey(ns, key), holder)) return 'conflict';
    }
    return this.store.commitState(txn);
  }
}

/** Every state key a transaction read or wrote, as lock keys. */
function footprint(txn: TxnRecord): string[] {
  const keys = txn.reads.map(([ns, key]) => lockKey(ns, key));
  for (const [ns, key] of txn.writes) keys.push(lockKey(ns, key));
  return keys;
}
