// The plain data of evaluation (the contract's "Evaluation: metrics, records, replay, rollouts"):
// what one recorded root invocation holds, what a metrics window says about one version, the
// replay summary of one capability, and a rollout's verdict. Shared by the store (records,
// rollouts), the kernel (metrics, replay, the rollout controller), the protocol and the CLI.
// No behaviour here beyond defaults.

import type { EgressRequest, EgressResponse } from './effects.ts';
import type { Json } from './types.ts';

/** Root invocations kept per version (the contract's default). */
export const RECORDS_PER_VERSION = 1000;

/** One recorded root invocation of a version: enough to run it again hermetically. Never holds a
 *  secret: egress responses are the redacted ones the sandbox saw, request headers that a secret
 *  set are not recorded (the kernel sets them). */
export interface CallRecord {
  id: string;
  at: number;
  name: string;
  version: string;
  hash: string;
  generation: number;
  invocationId: string;
  input: Json;
  /** Exactly one of output and error. */
  output?: Json;
  error?: { type: string; message: string };
  durationMs: number;
  /** Every state value the committed run read, as JSON text (null: the key was absent), by
   *  stored namespace (`NAME` or `shared:NAME`) and key. */
  reads: Array<[namespace: string, key: string, value: string | null]>;
  /** Every request the committed run made, with the response it got, in order. */
  egress: Array<{ request: EgressRequest; response: EgressResponse }>;
  /** False when something the run did cannot be replayed from the record (e.g. state.list, a
   *  failed request): replay counts it `unreplayable`. */
  replayable: boolean;
}

/** What one version did over a window of time (metrics/get; a rollout's comparison). */
export interface VersionWindow {
  name: string;
  version: string;
  calls: number;
  errors: number;
  errorsByType: { [type: string]: number };
  /** Duration percentiles in ms over the window (NaN-free: 0 when there were no calls). */
  p50: number;
  p95: number;
  p99: number;
  reruns: number;
  conflicts: number;
  egress: number;
  jobs: number;
}

/** Replay of one changed capability (apply's `replay` result, per capability). */
export interface ReplaySummary {
  name: string;
  /** The version replaced (whose records were replayed) and the candidate. */
  from: string;
  to: string;
  samples: number;
  same: number;
  changed: number;
  errors: number;
  unstable: number;
  unreplayable: number;
  /** Records not replayed because the changeset's replay time ran out (absent: none). */
  skipped?: number;
  examples: Array<{ input: Json; before: Json; after: Json }>;
}

export type VerdictKind = 'pass' | 'fail' | 'inconclusive';

export interface VerdictCheck {
  id: 'minCalls' | 'errorRateDelta' | 'p99Ratio';
  canary: number;
  baseline: number;
  threshold: number;
  ok: boolean;
}

/** A rollout step's verdict, as the contract has it (events, history, rollouts/get). */
export interface RolloutVerdict {
  verdict: VerdictKind;
  step: number;
  weight: number;
  windowS: number;
  checks: VerdictCheck[];
  reasons: string[];
}

export const ROLLOUT_DEFAULTS = {
  steps: [5, 25, 50, 100],
  stepS: 60,
  minCalls: 50,
  maxErrorRateDelta: 0.01,
  maxP99Ratio: 2,
} as const;
