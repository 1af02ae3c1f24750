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

import { nanoid } from 'nanoid';
import type { EffectRecord, EgressCaller, EgressRequest, EgressResult } from '../capabilities/effects.ts';
import { asSubstrateError } from '../capabilities/errors.ts';
import type { CallRecord } from '../capabilities/evaluation.ts';
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

/** The evaluation side of invocations: metrics and records, either of which may be off. */
export class Evaluation {
  constructor(
    readonly metrics: Metrics | null,
    readonly records: Records | null,
    private readonly recordOf: (hash: string) => boolean,
  ) {}

  /** A trace for one root invocation; undefined when both are off. */
  begin(root: TraceRoot, input: Json, generation: number, invocationId: string, job: boolean): CallTrace | undefined {
    if (!this.metrics && !this.records) return undefined;
    const record = this.records !== null && this.recordOf(root.hash);
    return new CallTrace(this, root, input, generation, invocationId, job, record);
  }
}

type Exchange = { request: EgressRequest; result: EgressResult };

export class CallTrace {
  private runs = 0;
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

  /** The performer of one run (call once per run, before it): its requests are the record's. */
  attempt(performer: () => EffectPerformer): () => EffectPerformer {
    this.exchanges = [];
    const list = this.exchanges;
    const tap: EffectPerformer = {
      perform: async (caller: EgressCaller, request: EgressRequest) => {
        const session = (this.session ??= performer());
        const result = await session.perform(caller, request);
        if (this.record) list.push({ request, result });
        return result;
      },
      nextAttempt: () => this.session?.nextAttempt(),
      get records(): readonly EffectRecord[] {
        return [];
      },
    };
    return () => tap;
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
      id: `rec_${nanoid(12)}`,
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
