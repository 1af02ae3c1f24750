// The jobs and schedules tables (migration 3): storing what a committed call tree enqueued, in
// the same transaction as its state; claiming due jobs; recording how a run ended; the operator's
// retry and cancel; the last occurrence of each schedule. Every status change is an UPDATE
// conditional on the status it leaves (capabilities/jobs.ts has the machine), so a stale writer
// changes nothing.

import type { EnqueuedJob, JobKeyRead, JobOrigin, JobStatus } from '../capabilities/jobs.ts';
import type { Json } from '../capabilities/types.ts';
import type { Db } from './db.ts';

export interface JobRow {
  id: string;
  name: string;
  input: Json;
  status: JobStatus;
  /** Attempts started (an attempt interrupted by a kernel's death is not counted). */
  attempt: number;
  runAt: number;
  scheduledAt: number;
  key: string | null;
  origin: JobOrigin;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: { type: string; message: string; data?: { [k: string]: unknown } } | null;
  output: Json | null;
  /** The version and generation of the last run. */
  version: string | null;
  generation: number | null;
}

interface RawJob {
  id: string;
  name: string;
  input: string;
  status: JobStatus;
  attempt: number;
  run_at: number;
  scheduled_at: number;
  dedupe_key: string | null;
  origin: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  error: string | null;
  output: string | null;
  version: string | null;
  generation: number | null;
}

/** The pending job of a name with a dedupe key (also read by the sandbox workers: store/state.ts). */
export const PENDING_BY_KEY_SQL = "SELECT id FROM jobs WHERE name = ? AND dedupe_key = ? AND status = 'pending'";

const COLUMNS = 'id, name, input, status, attempt, run_at, scheduled_at, dedupe_key, origin, created_at, started_at, finished_at, error, output, version, generation';

function toRow(r: RawJob): JobRow {
  return {
    id: r.id,
    name: r.name,
    input: JSON.parse(r.input) as Json,
    status: r.status,
    attempt: r.attempt,
    runAt: r.run_at,
    scheduledAt: r.scheduled_at,
    key: r.dedupe_key,
    origin: JSON.parse(r.origin) as JobOrigin,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    error: r.error === null ? null : (JSON.parse(r.error) as JobRow['error']),
    output: r.output === null ? null : (JSON.parse(r.output) as Json),
    version: r.version,
    generation: r.generation,
  };
}

export class JobTable {
  private readonly s;
  private readonly fireTxn: (name: string, index: number, spec: string, id: string, input: string, at: number, now: number) => void;

  constructor(private readonly db: Db) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO jobs (id, name, input, status, attempt, run_at, scheduled_at, dedupe_key, origin, created_at)
         VALUES (@id, @name, @input, 'pending', 0, @runAt, @runAt, @key, @origin, @now) ON CONFLICT (id) DO NOTHING`,
      ),
      pendingByKey: db.prepare<[string, string], string>(PENDING_BY_KEY_SQL).pluck(),
      get: db.prepare<[string], RawJob>(`SELECT ${COLUMNS} FROM jobs WHERE id = ?`),
      due: db.prepare<[number, number], RawJob>(`SELECT ${COLUMNS} FROM jobs WHERE status IN ('pending', 'failed') AND run_at <= ? ORDER BY run_at, id LIMIT ?`),
      nextDue: db.prepare<[], number>("SELECT min(run_at) FROM jobs WHERE status IN ('pending', 'failed')").pluck(),
      claim: db.prepare<[number, string], number>("UPDATE jobs SET status = 'running', attempt = attempt + 1, started_at = ? WHERE id = ? AND status IN ('pending', 'failed') RETURNING attempt").pluck(),
      finish: db.prepare(
        `UPDATE jobs SET status = @status, finished_at = @now, run_at = @runAt, error = @error, output = @output, version = @version, generation = @generation,
         lease_owner = NULL, lease_until = NULL
         WHERE id = @id AND status = 'running' AND (CAST(@owner AS TEXT) IS NULL OR lease_owner = @owner)`,
      ),
      claimDue: db.prepare<{ now: number; limit: number; owner: string; until: number }, RawJob>(
        `UPDATE jobs SET status = 'running', attempt = attempt + 1, started_at = @now, lease_owner = @owner, lease_until = @until
         WHERE id IN (SELECT id FROM jobs WHERE status IN ('pending', 'failed') AND run_at <= @now ORDER BY run_at, id LIMIT @limit)
         RETURNING ${COLUMNS}`,
      ),
      renew: db.prepare<[number, string]>("UPDATE jobs SET lease_until = ? WHERE status = 'running' AND lease_owner = ?"),
      recoverExpired: db.prepare<[number]>("UPDATE jobs SET status = 'pending', attempt = max(0, attempt - 1), lease_owner = NULL, lease_until = NULL WHERE status = 'running' AND lease_until < ?"),
      recover: db.prepare("UPDATE jobs SET status = 'pending', attempt = max(0, attempt - 1), lease_owner = NULL, lease_until = NULL WHERE status = 'running'"),
      retry: db.prepare<[number, string]>("UPDATE jobs SET status = 'pending', attempt = 0, run_at = ?, error = NULL WHERE id = ? AND status IN ('dead', 'cancelled', 'failed')"),
      cancel: db.prepare<[number, string]>("UPDATE jobs SET status = 'cancelled', finished_at = ? WHERE id = ? AND status IN ('pending', 'failed')"),
      pendingOfOrigin: db.prepare<[string, string], number>(
        "SELECT count(*) FROM jobs WHERE name = ? AND status IN ('pending', 'running', 'failed') AND json_extract(origin, '$.kind') = 'schedule' AND json_extract(origin, '$.index') = CAST(? AS INTEGER)",
      ).pluck(),
      schedule: db.prepare<[string, number], { spec: string; last_occurrence: number }>('SELECT spec, last_occurrence FROM schedules WHERE name = ? AND idx = ?'),
      setSchedule: db.prepare(
        'INSERT INTO schedules (name, idx, spec, last_occurrence) VALUES (?, ?, ?, ?) ON CONFLICT (name, idx) DO UPDATE SET spec = excluded.spec, last_occurrence = excluded.last_occurrence',
      ),
      paused: db.prepare<[string], number>('SELECT count(*) FROM schedule_pauses WHERE name = ?').pluck(),
      pause: db.prepare('INSERT INTO schedule_pauses (name, paused_at, paused_by) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING'),
      resume: db.prepare('DELETE FROM schedule_pauses WHERE name = ?'),
    };
    this.fireTxn = db.transaction((name: string, index: number, spec: string, id: string, input: string, at: number, now: number) => {
      const origin: JobOrigin = { kind: 'schedule', index, occurrence: at };
      this.s.insert.run({ id, name, input, runAt: at, key: null, origin: JSON.stringify(origin), now });
      this.s.setSchedule.run(name, index, spec, at);
    });
  }

  /** Inside the commit transaction: false when a keyed enqueue's view of the pending job with its
   *  key is stale (the caller reports a conflict and the tree re-runs). */
  keysValid(reads: readonly JobKeyRead[]): boolean {
    for (const [name, key, seen] of reads) if ((this.s.pendingByKey.get(name, key) ?? null) !== seen) return false;
    return true;
  }

  /** Inside the commit transaction: stores what a committed tree enqueued. A job whose key names a
   *  pending job (it merged into it) is not stored again. */
  insert(jobs: readonly EnqueuedJob[], now: number): void {
    for (const j of jobs) {
      if (j.key !== null && this.s.pendingByKey.get(j.name, j.key) !== undefined) continue;
      const origin: JobOrigin = { kind: 'enqueue', by: j.by, version: j.byVersion, invocationId: j.invocationId };
      this.s.insert.run({ id: j.id, name: j.name, input: j.input, runAt: now + j.delayMs, key: j.key, origin: JSON.stringify(origin), now });
    }
  }

  /** A schedule occurrence's job and the schedule's new last occurrence, in one transaction; the
   *  job's id is the occurrence's, so firing it again inserts nothing. */
  fireOccurrence(name: string, index: number, spec: string, id: string, input: string, at: number, now: number): void {
    this.fireTxn(name, index, spec, id, input, at, now);
  }

  pendingIdByKey(name: string, key: string): string | undefined {
    return this.s.pendingByKey.get(name, key);
  }

  get(id: string): JobRow | undefined {
    const r = this.s.get.get(id);
    return r ? toRow(r) : undefined;
  }

  due(now: number, limit: number): JobRow[] {
    return this.s.due.all(now, limit).map(toRow);
  }

  /** When the next pending or failed job is due, or null when none waits. */
  nextDue(): number | null {
    return this.s.nextDue.get() ?? null;
  }

  /** pending | failed → running: the attempt it starts, or null when someone else moved it first. */
  claim(id: string, now: number): number | null {
    return this.s.claim.get(now, id) ?? null;
  }

  /** running → succeeded | failed (with when it is due again) | dead. */
  /** With `owner`: only while that kernel still holds the job's lease (a kernel whose lease ran
   *  out and whose job another kernel claimed again changes nothing). */
  finish(id: string, end: { status: 'succeeded' | 'failed' | 'dead'; now: number; runAt?: number; error?: unknown; output?: Json; version: string | null; generation: number | null; owner?: string }): boolean {
    return (
      this.s.finish.run({
        id,
        status: end.status,
        now: end.now,
        runAt: end.runAt ?? end.now,
        error: end.error === undefined ? null : JSON.stringify(end.error),
        output: end.output === undefined ? null : JSON.stringify(end.output),
        version: end.version,
        generation: end.generation,
        owner: end.owner ?? null,
      }).changes === 1
    );
  }

  /** Claims up to `limit` due jobs for `lease.owner` until `lease.until` (pending | failed →
   *  running, attempt + 1): each claimed by exactly one caller, even with several kernels (on
   *  PostgreSQL the candidates are taken FOR UPDATE SKIP LOCKED). Returns the claimed rows. */
  claimDue(now: number, limit: number, lease: { owner: string; until: number }): JobRow[] {
    return this.s.claimDue.all({ now, limit, owner: lease.owner, until: lease.until }).map(toRow);
  }

  /** Extends the lease of every job `owner` runs; returns how many. */
  renewLeases(owner: string, until: number): number {
    return this.s.renew.run(until, owner).changes;
  }

  /** Running jobs whose lease ended before `now` (their kernel died) become pending again. */
  recoverExpired(now: number): number {
    return this.s.recoverExpired.run(now).changes;
  }

  /** At a kernel's start: jobs left running by a kernel that died run again. Returns how many. */
  recoverRunning(): number {
    return this.s.recover.run().changes;
  }

  retry(id: string, now: number): boolean {
    return this.s.retry.run(now, id).changes === 1;
  }

  cancel(id: string, now: number): boolean {
    return this.s.cancel.run(now, id).changes === 1;
  }

  list(opts: { name?: string; status?: JobStatus; after?: string; limit: number }): JobRow[] {
    const where: string[] = [];
    const params: Record<string, string | number> = { limit: opts.limit };
    if (opts.name !== undefined) {
      where.push('name = @name');
      params.name = opts.name;
    }
    if (opts.status !== undefined) {
      where.push('status = @status');
      params.status = opts.status;
    }
    // Newest first; the cursor is the last id of the page before (ids sort by creation: see kernel).
    if (opts.after !== undefined) {
      where.push('(created_at, id) < (SELECT created_at, id FROM jobs WHERE id = @after)');
      params.after = opts.after;
    }
    const sql = `SELECT ${COLUMNS} FROM jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id DESC LIMIT @limit`;
    return this.db.prepare<Record<string, string | number>, RawJob>(sql).all(params).map(toRow);
  }

  /** Jobs of a schedule not yet finished (overlap: "skip"). */
  unfinishedOfSchedule(name: string, index: number): number {
    return this.s.pendingOfOrigin.get(name, String(index)) ?? 0;
  }

  schedule(name: string, index: number): { spec: string; lastOccurrence: number } | undefined {
    const r = this.s.schedule.get(name, index);
    return r ? { spec: r.spec, lastOccurrence: r.last_occurrence } : undefined;
  }

  setSchedule(name: string, index: number, spec: string, lastOccurrence: number): void {
    this.s.setSchedule.run(name, index, spec, lastOccurrence);
  }

  isPaused(name: string): boolean {
    return (this.s.paused.get(name) ?? 0) > 0;
  }

  pause(name: string, by: string, now: number): void {
    this.s.pause.run(name, now, by);
  }

  resume(name: string): void {
    this.s.resume.run(name);
  }
}
