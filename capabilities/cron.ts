// Cron expressions of manifest schedules, through croner (a well-kept parser with time zones and
// DST handled; docs/jobs.md). Only the classic five fields (minute hour day month weekday): a
// seconds field would let one schedule enqueue 60 jobs a minute. Pure: time comes in as numbers.

import { Cron } from 'croner';

/** Why `expr` is not a five-field cron expression croner accepts, or null when it is. */
export function cronProblem(expr: string, timezone: string): string | null {
  if (expr.trim().split(/\s+/).length !== 5) return 'must have five fields (minute hour day-of-month month day-of-week), like "*/5 * * * *"';
  try {
    new Cron(expr, { timezone, mode: '5-part', paused: true });
    return null;
  } catch (e) {
    return `is not a valid cron expression: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** Why `tz` is not an IANA time zone this runtime knows, or null. */
export function timezoneProblem(tz: string): string | null {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return null;
  } catch {
    return 'is not a known IANA time zone, like "UTC" or "Europe/Berlin"';
  }
}

/** Occurrences of a schedule as epoch milliseconds. */
export class CronSchedule {
  private readonly cron: Cron;

  constructor(expr: string, timezone: string) {
    this.cron = new Cron(expr, { timezone, mode: '5-part', paused: true });
  }

  /** The first occurrence strictly after `after`, or null when there is none. */
  next(after: number): number | null {
    return this.cron.nextRun(new Date(after))?.getTime() ?? null;
  }

  /** Occurrences in (after, upTo], oldest first, at most `max` of them (the newest `max`). */
  between(after: number, upTo: number, max: number): number[] {
    if (upTo <= after || max <= 0) return [];
    // previousRuns counts back from its reference, exclusive and at whole seconds: start a second
    // past upTo so an occurrence at upTo itself counts.
    const back = this.cron.previousRuns(max, new Date(upTo + 1000)).map((d) => d.getTime());
    return back.filter((t) => t > after && t <= upTo).sort((a, b) => a - b);
  }
}
