// What one root invocation leaves for evaluation: invocation.ts opens a CallTrace when the call
// starts (Evaluation.begin), passes each run's egress through it, tells it each run's result and
// how the call ended; at the end it counts the call in the metrics (kernel/metrics.ts) and, unless
// the root's manifest says `record: false`, hands its CallRecord to the records (kernel/records.ts).
//
// The record is of the run that counted — the committed one, or the last — with the values that run
// read (TxnRecord.readValues, filled by the worker) and the requests of that run with the responses
// they got (a re-run's requests served from the journal included). It is `replayable: false` when a
// replay could not reproduce it from the record: it listed state (a record cannot say which keys
// existed), a request of it failed, or it ended in an error that says nothing of its code
// (conflict, crash, overload).

import type { EffectRecord, EgressCaller, EgressRequest, EgressResult } from '../capabilities/effects.ts';
import { asSubstrateError } from '../capabilities/errors.ts';
import { RECORDS_PER_VERSION, type CallRecord } from '../capabilities/evaluation.ts';
import type { Json } from '../capabilities/types.ts';
import type { RunResult } from '../sandbox/protocol.ts';
import type { EffectPerformer } from './egress.ts';
import type { Metrics } from './metrics.ts';
import type { Records } from './records.ts';

/** Errors of the kernel or the machine, not of the capability's code: a replay cannot compare. */
const NOT_REPLAYABLE_ERRORS = new Set(['STATE_CONFLICT', 'SANDBOX_CRASHED', 'OVERLOADED', 'MEMORY_LIMIT', 'STATE_FORBIDDEN', 'EFFECT_FORBIDDEN']);

export interface TraceRoot {
  hash: string;
  name: string;
  version: string;
}

/** Records a version may take at once, and per second after that (see Evaluation). */
export const RECORD_BURST = RECORDS_PER_VERSION;
export const RECORDS_PER_S = 100;

/** The evaluation side of invocations: metrics and records, either of which may be off.
 *
 *  Records are budgeted per version (a token bucket: RECORD_BURST, refilled at RECORDS_PER_S):
 *  below that rate every call is recorded; above it a version records RECORDS_PER_S calls a second
 *  and the rest are counted in the metrics only. A version keeps its newest RECORDS_PER_VERSION
 *  anyway, so under heavy load this spreads them over the last seconds instead of rewriting them
 *  all every tenth of a second — which was most of the cost of recording (bench/invoke). */
export class Evaluation {
  private readonly budgets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly metrics: Metrics | null,
    readonly records: Records | null,
    private readonly recordOf: (hash: string) => boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /** A trace for one root invocation; undefined when both are off. */
  begin(root: TraceRoot, input: Json, generation: number, invocationId: string, job: boolean): CallTrace | undefined {
    if (!this.metrics && !this.records) return undefined;
    const record = this.records !== null && this.recordOf(root.hash) && this.take(root.hash);
    return new CallTrace(this, root, input, generation, invocationId, job, record);
  }

  private take(hash: string): boolean {
    const now = this.now();
    let b = this.budgets.get(hash);
    if (!b) this.budgets.set(hash, (b = { tokens: RECORD_BURST, at: now }));
    b.tokens = Math.min(RECORD_BURST, b.tokens + ((now - b.at) * RECORDS_PER_S) / 1000);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }
}

type Exchange = { request: EgressRequest; result: EgressResult };

export class CallTrace implements EffectPerformer {
  private runs = 0;
  private performer: (() => EffectPerformer) | undefined;
  private readonly self = (): EffectPerformer => this;
  private uncommitted = 0;
  private last: RunResult | undefined;
  /** The current run's requests and what each got (only when recording). */
  private exchanges: Exchange[] = [];
  private session: EffectPerformer | undefined;
  private readonly at = Date.now();

  constructor(
    private readonly ev: Evaluation,
    private readonly root: TraceRoot,
    private readonly input: Json,
    private readonly generation: number,
    private readonly invocationId: string,
    private readonly job: boolean,
    private readonly record: boolean,
  ) {}

  /** The performer of one run (call once per run, before it): its requests are the record's. The
   *  trace itself performs them, through the invocation's session (`performer`, made on the first
   *  request): one object per call, nothing allocated per run. */
  attempt(performer: () => EffectPerformer): () => EffectPerformer {
    this.exchanges = [];
    this.performer = performer;
    return this.self;
  }

  async perform(caller: EgressCaller, request: EgressRequest): Promise<EgressResult> {
    const list = this.exchanges;
    const session = (this.session ??= this.performer!());
    const result = await session.perform(caller, request);
    if (this.record) list.push({ request, result });
    return result;
  }

  nextAttempt(): void {
    this.session?.nextAttempt();
  }

  get records(): readonly EffectRecord[] {
    return this.session?.records ?? [];
  }

  /** A run's result (each run, before its commit). */
  ran(result: RunResult): void {
    this.runs++;
    if (result.ok) this.uncommitted++;
    this.last = result;
  }

  /** The call ended: `error` undefined when it succeeded (its last run committed). */
  end(error: unknown, durationMs: number): void {
    const err = error !== undefined ? asSubstrateError(error) : undefined;
    // The last successful run committed, unless the call ended in a conflict (or before a run).
    const committed = !err || (this.last?.ok === true && err.type !== 'STATE_CONFLICT') ? (this.uncommitted > 0 ? 1 : 0) : 0;
    let egress = 0;
    for (const r of this.session?.records ?? []) if (!r.replayed) egress++;
    this.ev.metrics?.record({
      hash: this.root.hash,
      name: this.root.name,
      version: this.root.version,
      durationMs,
      ...(err ? { errorType: err.type } : {}),
      reruns: Math.max(0, this.runs - 1),
      conflicts: this.uncommitted - committed,
      egress,
      job: this.job,
    });
    if (!this.record || !this.ev.records) return;
    const last = this.last;
    let replayable = !err || !NOT_REPLAYABLE_ERRORS.has(err.type);
    let reads: CallRecord['reads'] = [];
    if (last?.ok) {
      const values = last.txn.readValues;
      if (last.txn.nsReads.length > 0 || !values || values.length !== last.txn.reads.length) replayable = false;
      reads = last.txn.reads.map(([ns, key], i) => [ns, key, values?.[i] ?? null]);
    }
    const egressPairs: CallRecord['egress'] = [];
    for (const x of this.exchanges) {
      if (x.result.ok) egressPairs.push({ request: { method: x.request.method, url: x.request.url, headers: x.request.headers, body: x.request.body }, response: x.result.response });
      else replayable = false;
    }
    this.ev.records.add({
      // One record per root invocation: its id names it.
      id: `rec_${this.invocationId}`,
      at: this.at,
      name: this.root.name,
      version: this.root.version,
      hash: this.root.hash,
      generation: this.generation,
      invocationId: this.invocationId,
      input: this.input,
      ...(err ? { error: { type: err.type, message: err.message } } : { output: last?.ok ? last.output : null }),
      durationMs: Math.round(durationMs * 1000) / 1000,
      reads,
      egress: egressPairs,
      replayable,
    });
  }
}
