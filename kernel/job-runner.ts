// The job runner: starts due jobs as root invocations on the generation current when each starts
// (with ctx.invocation.job), records how each ended, retries failures with the job capability's
// backoff, and marks a job `dead` after its last attempt (docs/jobs.md).
//
// Invariants: a job is never run twice at once (the store's claim is a conditional UPDATE, and this
// process keeps the ids it runs); at most `concurrency` jobs run at once, so jobs take at most that
// many of the sandbox's calls in flight and interactive calls never queue behind them (they do not
// pass through this runner at all); a job still running when the kernel stops stays `running` in
// the store and runs again at the next start (recoverRunning) — at least once, never lost.

import type { EventEmitter } from 'node:events';
import { asSubstrateError } from '../capabilities/errors.ts';
import { DEFAULT_RETRY, retryDelayMs, type JobInfo } from '../capabilities/jobs.ts';
import type { StoreApi } from '../store/types.ts';
import type { JobRow } from '../store/jobs.ts';
import type { Generation } from './generation.ts';
import type { Invocations } from './invocation.ts';

/** The longest the runner sleeps without looking at the store (a job due later is found anyway
 *  when its time comes; this bounds the effect of a clock jump). */
const MAX_SLEEP_MS = 60_000;
/** Due jobs read per query. */
const READ_AHEAD = 64;

export interface JobRunnerOptions {
  /** Jobs running at once. */
  concurrency: number;
  now: () => number;
}

export class JobRunner {
  private readonly running = new Set<string>();
  /** Due jobs read ahead of the free slots (one query serves many starts); a stale entry is
   *  harmless: claiming it fails or returns its current attempt. */
  private queue: JobRow[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private stopped = true;

  constructor(
    private readonly store: StoreApi,
    private readonly invocations: Invocations,
    private readonly gen: Generation,
    private readonly events: EventEmitter,
    private readonly opts: JobRunnerOptions,
  ) {}

  start(): void {
    this.store.jobs.recoverRunning();
    this.stopped = false;
    this.poke();
  }

  /** Stops starting jobs; those running finish in the sandbox, but what they end with is not
   *  recorded: they stay `running` and run again at the next start. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    this.queue = [];
  }

  /** Looks for due jobs now (after a commit stored some, or a retry). */
  poke(): void {
    if (this.stopped || this.immediate) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.immediate = setImmediate(() => {
      this.immediate = null;
      this.tick();
    });
  }

  /** Jobs this runner is running now. */
  inFlight(): number {
    return this.running.size;
  }

  private tick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    const now = this.opts.now();
    while (this.running.size < this.opts.concurrency) {
      if (this.queue.length === 0) {
        this.queue = this.store.jobs.due(now, READ_AHEAD).filter((r) => !this.running.has(r.id));
        if (this.queue.length === 0) break;
      }
      const row = this.queue.shift()!;
      if (this.running.has(row.id)) continue;
      const attempt = this.store.jobs.claim(row.id, now);
      if (attempt !== null) void this.run({ ...row, attempt: attempt - 1 });
    }
    if (this.running.size >= this.opts.concurrency) return; // a finishing job pokes again
    const next = this.store.jobs.nextDue();
    if (next === null) return; // a commit that stores a job pokes again
    this.timer = setTimeout(() => this.tick(), Math.min(MAX_SLEEP_MS, Math.max(0, next - this.opts.now())));
  }

  private async run(row: JobRow): Promise<void> {
    this.running.add(row.id);
    const attempt = row.attempt + 1;
    const job: JobInfo = { id: row.id, attempt, scheduledAt: new Date(row.scheduledAt).toISOString() };
    try {
      const res = await this.invocations.invoke({ name: row.name, input: row.input }, { job });
      if (this.stopped) return;
      this.store.jobs.finish(row.id, { status: 'succeeded', now: this.opts.now(), output: res.output, version: res.version, generation: res.generation });
      this.announce('job.succeeded', row, attempt, { version: res.version, generation: res.generation });
    } catch (e) {
      if (this.stopped) return;
      const err = asSubstrateError(e);
      const current = this.gen.graph.current(row.name);
      // The job's capability is gone: no retry can succeed.
      const gone = current === undefined;
      const policy = current ? (this.gen.manifestOf(current.hash).retry ?? DEFAULT_RETRY) : DEFAULT_RETRY;
      const error = gone
        ? { type: 'NOT_FOUND', message: `the job's capability ${row.name} has no current version (it was removed)`, data: { name: row.name } }
        : err.toWire();
      const now = this.opts.now();
      const dead = gone || attempt >= policy.attempts;
      const runAt = dead ? now : now + retryDelayMs(policy, attempt);
      this.store.jobs.finish(row.id, { status: dead ? 'dead' : 'failed', now, runAt, error, version: current?.version ?? null, generation: this.gen.generation });
      this.announce(dead ? 'job.dead' : 'job.failed', row, attempt, { error: { type: error.type, message: error.message }, ...(dead ? {} : { retryAt: new Date(runAt).toISOString() }) });
    } finally {
      this.running.delete(row.id);
      this.poke();
    }
  }

  private announce(type: 'job.succeeded' | 'job.failed' | 'job.dead', row: JobRow, attempt: number, extra: Record<string, unknown>): void {
    this.events.emit('event', { type, generation: this.gen.generation, id: row.id, name: row.name, attempt, at: new Date(this.opts.now()).toISOString(), ...extra });
  }
}
