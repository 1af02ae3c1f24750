// Schedules: the `schedules` of every current version, each occurrence turned into at most one
// job (docs/jobs.md). A schedule is active while its version is current; when another version
// becomes current, its schedules replace the old ones at the same index (an index whose cron and
// time zone are unchanged keeps its place in time, so an upgrade neither skips nor repeats).
//
// Invariant: an occurrence becomes a job whose id is the occurrence's (occurrenceJobId), inserted
// in the same transaction that records it as the schedule's last occurrence: a kill -9 between
// the two cannot happen, and firing it again after a restart inserts nothing.

import { CronSchedule } from '../capabilities/cron.ts';
import { canonicalJson } from '../capabilities/hash.ts';
import { catchUpOccurrences, JOB_LIMITS, occurrenceJobId, type ScheduleSpec } from '../capabilities/jobs.ts';
import type { Json } from '../capabilities/types.ts';
import type { StoreApi } from '../store/types.ts';
import type { Generation } from './generation.ts';

/** An occurrence evaluated within this long after its time is on time; older ones were missed
 *  (the kernel was down) and follow the schedule's catchUp policy. */
export const ON_TIME_MS = 60_000;
/** setTimeout's limit is about 24.8 days: a far occurrence is re-armed in steps of a day. */
const MAX_TIMER_MS = 86_400_000;

interface Active {
  name: string;
  index: number;
  spec: ScheduleSpec;
  specKey: string;
  cron: CronSchedule;
  timer: NodeJS.Timeout | null;
}

export interface ScheduleView {
  name: string;
  version: string;
  index: number;
  cron: string;
  timezone: string;
  catchUp: ScheduleSpec['catchUp'];
  overlap: ScheduleSpec['overlap'];
  input: Json;
  paused: boolean;
  lastOccurrence: string | null;
  nextRun: string | null;
}

export class Scheduler {
  private readonly active = new Map<string, Active>();
  private stopped = true;

  constructor(
    private readonly store: StoreApi,
    private readonly gen: Generation,
    private readonly now: () => number,
    /** Called after an occurrence was stored as a job. */
    private readonly onFired: () => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.sync();
  }

  stop(): void {
    this.stopped = true;
    for (const a of this.active.values()) if (a.timer) clearTimeout(a.timer);
    this.active.clear();
  }

  /** Makes the active schedules those of the current versions (at start and after each commit). */
  sync(): void {
    if (this.stopped) return;
    const want = new Map<string, { name: string; index: number; spec: ScheduleSpec }>();
    const g = this.gen.graph;
    for (const [name, hash] of g.currentHashes()) {
      (this.gen.manifestOf(hash).schedules ?? []).forEach((spec, index) => want.set(`${name}#${index}`, { name, index, spec }));
    }
    for (const [id, a] of this.active) {
      const w = want.get(id);
      if (!w || specKey(w.spec) !== a.specKey || canonicalJson(w.spec.input) !== canonicalJson(a.spec.input) || w.spec.catchUp !== a.spec.catchUp || w.spec.overlap !== a.spec.overlap) {
        if (a.timer) clearTimeout(a.timer);
        this.active.delete(id);
      }
    }
    for (const [id, w] of want) {
      if (this.active.has(id)) continue;
      const a: Active = { name: w.name, index: w.index, spec: w.spec, specKey: specKey(w.spec), cron: new CronSchedule(w.spec.cron, w.spec.timezone), timer: null };
      this.active.set(id, a);
      const stored = this.store.jobs.schedule(a.name, a.index);
      // A new schedule (or one whose cron or time zone changed) starts now: nothing before it is missed.
      if (!stored || stored.spec !== a.specKey) this.store.jobs.setSchedule(a.name, a.index, a.specKey, this.now());
      this.evaluate(a);
    }
  }

  /** Evaluates every active schedule now (tests with a fake clock call it after moving time). */
  evaluateAll(): void {
    for (const a of this.active.values()) this.evaluate(a);
  }

  list(): ScheduleView[] {
    const g = this.gen.graph;
    return [...this.active.values()].map((a) => {
      const stored = this.store.jobs.schedule(a.name, a.index);
      const last = stored?.lastOccurrence ?? null;
      const next = a.cron.next(Math.max(this.now(), last ?? 0));
      return {
        name: a.name,
        version: g.current(a.name)?.version ?? '',
        index: a.index,
        cron: a.spec.cron,
        timezone: a.spec.timezone,
        catchUp: a.spec.catchUp,
        overlap: a.spec.overlap,
        input: a.spec.input,
        paused: this.store.jobs.isPaused(a.name),
        lastOccurrence: last === null ? null : new Date(last).toISOString(),
        nextRun: next === null ? null : new Date(next).toISOString(),
      };
    });
  }

  private evaluate(a: Active): void {
    if (this.stopped || this.active.get(`${a.name}#${a.index}`) !== a) return;
    if (a.timer) clearTimeout(a.timer);
    a.timer = null;
    const now = this.now();
    const last = this.store.jobs.schedule(a.name, a.index)?.lastOccurrence ?? now;
    const due = a.cron.between(last, now, JOB_LIMITS.maxCatchUp + 1);
    if (due.length) {
      const onTime = due.filter((t) => now - t <= ON_TIME_MS);
      const missed = due.filter((t) => now - t > ON_TIME_MS);
      const fire = [...catchUpOccurrences(missed, a.spec.catchUp), ...onTime];
      const paused = this.store.jobs.isPaused(a.name);
      const input = JSON.stringify(a.spec.input);
      // overlap "skip": occurrences that come while a job of an earlier evaluation is unfinished
      // are passed over. Those due together (a catch-up) all go: catchUp decided how many.
      const busy = a.spec.overlap === 'skip' && this.store.jobs.unfinishedOfSchedule(a.name, a.index) > 0;
      let fired = 0;
      for (const t of fire) {
        if (paused || busy) continue;
        this.store.jobs.fireOccurrence(a.name, a.index, a.specKey, occurrenceJobId(a.name, a.index, t), input, t, now);
        fired++;
      }
      // Every occurrence up to the newest due one is settled, fired or passed over.
      this.store.jobs.setSchedule(a.name, a.index, a.specKey, due[due.length - 1]);
      if (fired) this.onFired();
    }
    const next = a.cron.next(Math.max(now, due.at(-1) ?? last));
    if (next !== null) {
      a.timer = setTimeout(() => this.evaluate(a), Math.min(MAX_TIMER_MS, Math.max(0, next - this.now())));
      a.timer.unref?.();
    }
  }
}

function specKey(spec: ScheduleSpec): string {
  return canonicalJson({ cron: spec.cron, timezone: spec.timezone });
}
