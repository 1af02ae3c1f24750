// The durable-work methods (docs/jobs.md): jobs/list, jobs/get, jobs/retry, jobs/cancel,
// schedules/list, schedules/pause, schedules/resume. Reading is for every role; retry, cancel,
// pause and resume are for operators and the owner of the job's (or schedule's) capability.

import type { z } from 'zod';
import { fail } from '../capabilities/errors.ts';
import { assertName } from '../capabilities/names.ts';
import { clampLimit } from '../capabilities/paging.ts';
import type { Principal } from '../capabilities/types.ts';
import type * as P from '../capabilities/protocol/jobs.ts';
import type { JobRow } from '../store/jobs.ts';
import type { StoreApi } from '../store/types.ts';
import type { JobRunner } from './job-runner.ts';
import type { Scheduler } from './schedules.ts';

export type JobInfo = z.output<typeof P.jobInfo>;
export type JobsListParams = z.output<typeof P.jobsListParams>;
export type JobsListResult = z.output<typeof P.jobsListResult>;
export type SchedulesListResult = z.output<typeof P.schedulesListResult>;

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

function view(r: JobRow): JobInfo {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    input: r.input,
    attempt: r.attempt,
    key: r.key,
    origin: r.origin,
    createdAt: new Date(r.createdAt).toISOString(),
    scheduledAt: new Date(r.scheduledAt).toISOString(),
    runAt: new Date(r.runAt).toISOString(),
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
    version: r.version,
    generation: r.generation,
    output: r.output,
    error: r.error,
  };
}

export class JobsApi {
  constructor(
    private readonly store: StoreApi,
    private readonly runner: JobRunner,
    private readonly scheduler: Scheduler,
    private readonly now: () => number,
  ) {}

  list(params: JobsListParams = {}): JobsListResult {
    if (params.name !== undefined) assertName(params.name);
    const limit = clampLimit(params.limit, 100, 1000);
    if (params.cursor !== undefined && !this.store.jobs.get(params.cursor)) throw fail('NOT_FOUND', `bad jobs cursor '${params.cursor}'`, { cursor: params.cursor });
    const rows = this.store.jobs.list({ name: params.name, status: params.status, after: params.cursor, limit: limit + 1 });
    const page = rows.slice(0, limit);
    return { items: page.map(view), nextCursor: rows.length > limit ? page[page.length - 1].id : null };
  }

  get(id: string): JobInfo {
    return view(this.job(id));
  }

  /** dead, cancelled or failed → pending, due now, with a fresh set of attempts. */
  retry(principal: Principal, id: string): JobInfo {
    const row = this.job(id);
    this.checkManager(principal, row.name);
    if (!this.store.jobs.retry(id, this.now())) {
      throw fail('INVALID_INPUT', `job ${id} is ${row.status}; only a dead, cancelled or failed job can be retried`, { id, status: row.status });
    }
    this.runner.poke();
    return this.get(id);
  }

  /** pending or failed → cancelled. A running job cannot be stopped midway: it is refused. */
  cancel(principal: Principal, id: string): JobInfo {
    const row = this.job(id);
    this.checkManager(principal, row.name);
    if (!this.store.jobs.cancel(id, this.now())) {
      throw fail('INVALID_INPUT', `job ${id} is ${row.status}; only a pending or failed job can be cancelled`, { id, status: row.status });
    }
    return this.get(id);
  }

  schedules(params: { name?: string } = {}): SchedulesListResult {
    const items = this.scheduler.list().filter((s) => params.name === undefined || s.name === params.name);
    return { items };
  }

  pause(principal: Principal, name: string): { name: string; paused: boolean } {
    this.checkSchedule(principal, name);
    this.store.jobs.pause(name, principal.name, this.now());
    return { name, paused: true };
  }

  resume(principal: Principal, name: string): { name: string; paused: boolean } {
    this.checkSchedule(principal, name);
    this.store.jobs.resume(name);
    // Occurrences passed over while paused stay passed over: the schedule goes on from now.
    this.scheduler.evaluateAll();
    return { name, paused: false };
  }

  private job(id: string): JobRow {
    const row = this.store.jobs.get(id);
    if (!row) throw fail('NOT_FOUND', `no job ${id}`, { id });
    return row;
  }

  private checkSchedule(principal: Principal, name: string): void {
    assertName(name);
    if (!this.store.capability(name)) throw fail('NOT_FOUND', `no capability '${name}'`, { name });
    this.checkManager(principal, name);
  }

  private checkManager(principal: Principal, name: string): void {
    if (principal.role === 'operator') return;
    const cap = this.store.capability(name);
    if (principal.role === 'client' || (cap && cap.ownerId !== principal.id)) {
      throw fail('FORBIDDEN', `only an operator or the owner of ${name} may manage its jobs and schedules`, { name, owner: cap?.ownerName ?? null });
    }
  }
}
