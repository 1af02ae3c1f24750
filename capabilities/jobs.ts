// The job model of "Durable work" (docs/jobs.md): what a job is, its statuses and how one moves
// between them, the retry policy and its delays, the checks on what ctx.enqueue is given, and how
// a schedule's missed occurrences are caught up. Pure: the store keeps jobs, the kernel runs them.
//
// Status machine (the only moves; the store's updates are conditional on the status they leave):
//   pending ──claim──▶ running ──ok──▶ succeeded
//                        │ └─error, attempts left──▶ failed ──due again──▶ running
//                        └─error, none left──▶ dead
//   pending | failed ──cancel──▶ cancelled;  dead | cancelled | failed ──retry──▶ pending
//   running at a kernel's start (it died meanwhile) ──▶ pending, the interrupted attempt not counted

import { backoffMs } from './backoff.ts';
import { exceeded, fail } from './errors.ts';
import { KERNEL_LIMITS, type Json } from './types.ts';

export const JOB_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'dead', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** The manifest's `retry` with its defaults (contract: attempts 5, backoffMs 1000). */
export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
}
export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, backoffMs: 1000 };
export const RETRY_LIMITS = { maxAttempts: 100, maxBackoffMs: 3_600_000 } as const;

/** Limits of ctx.enqueue (docs/jobs.md, "Limits"). */
export const JOB_LIMITS = {
  /** The furthest ahead a job may be delayed: 30 days. */
  maxDelayMs: 30 * 24 * 3_600_000,
  maxKeyLength: 256,
  /** Jobs one call tree may enqueue. */
  maxPerRun: 1000,
  /** Missed occurrences `catchUp: "all"` runs after downtime. */
  maxCatchUp: 100,
  /** Schedules one version may declare. */
  maxSchedules: 10,
} as const;

/** A job as a call tree enqueued it: recorded in its transaction, stored only when it commits. */
export interface EnqueuedJob {
  id: string;
  name: string;
  /** JSON text of the input. */
  input: string;
  delayMs: number;
  key: string | null;
  /** The capability (and version) whose call enqueued it, and the tree's invocation id. */
  by: string;
  byVersion: string;
  invocationId: string;
}

/** A keyed enqueue as the call tree saw it: the pending job with that key when it looked (null:
 *  none). The commit is refused (a state conflict: the tree re-runs) when that changed. */
export type JobKeyRead = [name: string, key: string, seen: string | null];

/** Where a job came from: a call tree's ctx.enqueue, or a schedule's occurrence. */
export type JobOrigin =
  | { kind: 'enqueue'; by: string; version: string; invocationId: string }
  | { kind: 'schedule'; index: number; occurrence: number };

/** What ctx.invocation.job says inside a job's run. */
export interface JobInfo {
  id: string;
  attempt: number;
  scheduledAt: string;
}

/** The wait before attempt `attempt + 1` after attempt `attempt` failed: the policy's backoff
 *  doubled per attempt, capped at an hour, with ±20% jitter so retries of many jobs spread out. */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random?: () => number): number {
  return backoffMs(attempt, { baseMs: policy.backoffMs, maxMs: RETRY_LIMITS.maxBackoffMs, jitter: 0.2, random });
}

/** Checks what ctx.enqueue was given (the name is checked against the manifest by the caller). */
export function checkEnqueue(name: string, inputJson: string, opts: { delayMs?: unknown; key?: unknown }): { delayMs: number; key: string | null } {
  const size = inputJson.length * 3 <= KERNEL_LIMITS.maxPayloadBytes ? inputJson.length : Buffer.byteLength(inputJson, 'utf8');
  if (size > KERNEL_LIMITS.maxPayloadBytes) {
    throw exceeded('size', `the input of the job ${name} is ${size} bytes, the limit is ${KERNEL_LIMITS.maxPayloadBytes}`, { what: 'input', name, size, limit: KERNEL_LIMITS.maxPayloadBytes });
  }
  const delay = opts.delayMs ?? 0;
  if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 0 || delay > JOB_LIMITS.maxDelayMs) {
    throw fail('INVALID_INPUT', `ctx.enqueue: delayMs must be an integer from 0 to ${JOB_LIMITS.maxDelayMs}`, { path: '/delayMs', message: 'out of range', what: 'delayMs', name });
  }
  const key = opts.key ?? null;
  if (key !== null && (typeof key !== 'string' || key.length === 0 || key.length > JOB_LIMITS.maxKeyLength)) {
    throw fail('INVALID_INPUT', `ctx.enqueue: key must be a non-empty string of at most ${JOB_LIMITS.maxKeyLength} characters`, { path: '/key', message: 'invalid key', what: 'key', name });
  }
  return { delayMs: delay, key };
}

export type CatchUp = 'latest' | 'none' | 'all';
export type Overlap = 'skip' | 'allow';

/** A manifest schedule with its defaults. */
export interface ScheduleSpec {
  cron: string;
  input: Json;
  timezone: string;
  catchUp: CatchUp;
  overlap: Overlap;
}

/** Which of the occurrences missed while the kernel was down (`missed`, oldest first) become jobs. */
export function catchUpOccurrences(missed: readonly number[], policy: CatchUp): number[] {
  if (missed.length === 0 || policy === 'none') return [];
  if (policy === 'latest') return [missed[missed.length - 1]];
  return missed.slice(-JOB_LIMITS.maxCatchUp);
}

/** The id of the job a schedule occurrence becomes: the same occurrence always gives the same id,
 *  so storing it twice (after a crash between firing and recording) is a no-op. */
export function occurrenceJobId(capability: string, index: number, occurrence: number): string {
  return `s:${capability}:${index}:${occurrence}`;
}
