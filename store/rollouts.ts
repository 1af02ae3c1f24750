// The rollouts table (migration 6): one row per canary rollout, running or ended, with its
// parameters, the step it is at and every step's record and verdict. A running row is the truth of
// the traffic split: it is written in the same SQLite transaction as the generation of its step
// (store.commit's `rollout`), so after a crash the split of the stored generation is exactly the
// one its running rows say, and the kernel's controller (kernel/rollouts.ts) picks them up at start.

import type Database from 'better-sqlite3';
import type { RolloutVerdict } from '../capabilities/evaluation.ts';
import type { Canary, Split } from '../capabilities/rollout-resolution.ts';
import type { Db } from './db.ts';

export type RolloutStatus = 'running' | 'promoted' | 'aborted';

/** One step as it ran: its weight, the generation that set it, and its verdict once judged. */
export interface RolloutStepRecord {
  step: number;
  weight: number;
  generation: number;
  startedAt: number;
  endedAt: number | null;
  /** Times an inconclusive verdict extended the step. */
  extensions: number;
  verdict: RolloutVerdict | null;
}

export interface RolloutRow {
  id: string;
  name: string;
  /** The canary. */
  version: string;
  hash: string;
  /** The version current when the rollout started (serves the rest of the traffic). */
  baseline: string;
  baselineHash: string;
  status: RolloutStatus;
  steps: number[];
  stepS: number;
  minCalls: number;
  maxErrorRateDelta: number;
  maxP99Ratio: number;
  /** Index in `steps` of the step running (or the last one that ran). */
  step: number;
  history: RolloutStepRecord[];
  principal: string;
  principalId: string;
  startedAt: number;
  endedAt: number | null;
  /** Why it ended (abort, promote, the failing verdict's reasons). */
  reason: string | null;
}

/** The table, made by migration 6 (IF NOT EXISTS: kernels of commit a02fa71 made it at open). */
const ROLLOUTS_SCHEMA = `
  -- data is the whole RolloutRow as JSON; name, status and started_at are repeated to be queried.
  CREATE TABLE IF NOT EXISTS rollouts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    data        TEXT NOT NULL
  );
  -- At most one running rollout per name.
  CREATE UNIQUE INDEX IF NOT EXISTS rollouts_running ON rollouts (name) WHERE status = 'running';
  CREATE INDEX IF NOT EXISTS rollouts_by_name ON rollouts (name, started_at);
`;

/** Migration 6 of store/migrations.ts (its Migration shape, without importing it: no cycle). */
export const ROLLOUTS_MIGRATION: { version: number; name: string; up(db: Db): void } = {
  version: 6,
  name: 'canary rollouts',
  up(db) {
    db.exec(ROLLOUTS_SCHEMA);
  },
};

export class RolloutTable {
  private readonly s: {
    put: Database.Statement<[string, string, string, number, string]>;
    running: Database.Statement<[], string>;
    byName: Database.Statement<[string, number], string>;
    recent: Database.Statement<[number], string>;
  };

  constructor(db: Db) {
    this.s = {
      put: db.prepare(
        `INSERT INTO rollouts (id, name, status, started_at, data) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, data = excluded.data`,
      ),
      running: db.prepare<[], string>("SELECT data FROM rollouts WHERE status = 'running' ORDER BY name").pluck(),
      byName: db.prepare<[string, number], string>('SELECT data FROM rollouts WHERE name = ? ORDER BY started_at DESC, rowid DESC LIMIT ?').pluck(),
      recent: db.prepare<[number], string>('SELECT data FROM rollouts ORDER BY started_at DESC, rowid DESC LIMIT ?').pluck(),
    };
  }

  /** Inserts or updates a row (store.commit calls it inside the commit transaction). */
  put(row: RolloutRow): void {
    this.s.put.run(row.id, row.name, row.status, row.startedAt, JSON.stringify(row));
  }

  running(): RolloutRow[] {
    return this.s.running.all().map(parse);
  }

  /** Newest first: one name's rollouts, or everyone's. */
  list(name: string | undefined, limit: number): RolloutRow[] {
    const rows = name === undefined ? this.s.recent.all(limit) : this.s.byName.all(name, limit);
    return rows.map(parse);
  }

  /** The canaries of the running rollouts: the traffic split of the stored generation. */
  split(): Split {
    return splitOf(this.running());
  }
}

export function splitOf(rows: readonly RolloutRow[]): Split {
  const m = new Map<string, Canary>();
  for (const r of rows) if (r.status === 'running') m.set(r.name, { name: r.name, hash: r.hash, weight: r.steps[r.step] });
  return m;
}

// Written by put() from the same type; rows are never edited by hand.
function parse(data: string): RolloutRow {
  return JSON.parse(data) as RolloutRow;
}
