// Recorded root invocations as stored (migration 5): one row per CallRecord
// (capabilities/evaluation.ts), appended by the kernel in batches (kernel/records.ts), listed newest
// first per version hash or per capability name, and bounded per version.
//
// Retention, one rule: each version hash keeps its newest `perVersion` rows (RECORDS_PER_VERSION by
// default); every append deletes, in its transaction, exactly the excess of each version it touched
// (the oldest, read from the start of the (hash, seq) index: a cost of the rows deleted, not kept).
// Rows never hold a secret: the kernel stores the redacted responses the sandbox saw and only the
// headers the capability itself set.

import type Database from 'better-sqlite3';
import { RECORDS_PER_VERSION, type CallRecord } from '../capabilities/evaluation.ts';
import type { Json } from '../capabilities/types.ts';
import type { Db } from './db.ts';

interface RecordDbRow {
  seq: number;
  id: string;
  at: number;
  name: string;
  version: string;
  hash: string;
  generation: number;
  invocation_id: string;
  duration_ms: number;
  replayable: number;
  body: string;
}

/** The part of a record kept as JSON text. */
type Body = Pick<CallRecord, 'input' | 'output' | 'error' | 'reads' | 'egress'>;

/** A stored record with its position (the cursor of paging). */
export interface StoredRecord extends CallRecord {
  seq: number;
}

export interface RecordQuery {
  /** One version (by hash) or every version of a name; at least one of them. */
  hash?: string;
  name?: string;
  /** Exclusive: rows appended before this seq. */
  before?: number;
  limit: number;
}

const COLUMNS = 'seq, id, at, name, version, hash, generation, invocation_id, duration_ms, replayable, body';

function toRecord(r: RecordDbRow): StoredRecord {
  const body = JSON.parse(r.body) as Body;
  return {
    seq: r.seq,
    id: r.id,
    at: r.at,
    name: r.name,
    version: r.version,
    hash: r.hash,
    generation: r.generation,
    invocationId: r.invocation_id,
    input: body.input ?? (null as Json),
    ...(body.error ? { error: body.error } : { output: body.output ?? null }),
    durationMs: r.duration_ms,
    reads: body.reads ?? [],
    egress: body.egress ?? [],
    replayable: r.replayable !== 0,
  };
}

/** JSON text of the body of a record (the kernel measures it before appending). */
export function recordBody(r: CallRecord): string {
  const body: Body = { input: r.input, reads: r.reads, egress: r.egress };
  if (r.error) body.error = r.error;
  else body.output = r.output ?? null;
  return JSON.stringify(body);
}

export class RecordTable {
  private readonly s: {
    insert: Database.Statement<unknown[]>;
    byHash: Database.Statement<[string, number, number], RecordDbRow>;
    byName: Database.Statement<[string, number, number], RecordDbRow>;
    prune: Database.Statement<[string, number]>;
    count: Database.Statement<[string], number>;
  };
  /** Rows per version, counted once per hash then kept up to date here (this connection is the
   *  table's only writer), so a prune deletes exactly the excess, from the oldest. */
  private readonly kept = new Map<string, number>();
  private readonly appendTxn: Database.Transaction<(rows: ReadonlyArray<{ record: CallRecord; body: string }>) => void>;

  constructor(
    db: Db,
    private readonly perVersion: number = RECORDS_PER_VERSION,
  ) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO call_records (id, at, name, version, hash, generation, invocation_id, ok, duration_ms, replayable, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      byHash: db.prepare(`SELECT ${COLUMNS} FROM call_records WHERE hash = ? AND seq < ? ORDER BY seq DESC LIMIT ?`),
      byName: db.prepare(`SELECT ${COLUMNS} FROM call_records WHERE name = ? AND seq < ? ORDER BY seq DESC LIMIT ?`),
      // The oldest `n` rows of a version, found from the start of the (hash, seq) index.
      prune: db.prepare('DELETE FROM call_records WHERE seq IN (SELECT seq FROM call_records WHERE hash = ? ORDER BY seq LIMIT ?)'),
      count: db.prepare<[string], number>('SELECT count(*) FROM call_records WHERE hash = ?').pluck(),
    };
    this.appendTxn = db.transaction((rows: ReadonlyArray<{ record: CallRecord; body: string }>) => {
      const touched = new Set<string>();
      for (const { record: r, body } of rows) {
        const before = this.keptOf(r.hash);
        this.s.insert.run(r.id, r.at, r.name, r.version, r.hash, r.generation, r.invocationId, r.error ? 0 : 1, r.durationMs, r.replayable ? 1 : 0, body);
        this.kept.set(r.hash, before + 1);
        touched.add(r.hash);
      }
      for (const hash of touched) {
        const excess = this.keptOf(hash) - this.perVersion;
        if (excess <= 0) continue;
        this.s.prune.run(hash, excess);
        this.kept.set(hash, this.perVersion);
      }
    });
  }

  /** Appends records (in order, each with its body's JSON text) in one transaction, then prunes
   *  every version it touched to its newest `perVersion`. */
  append(rows: ReadonlyArray<{ record: CallRecord; body: string }>): void {
    if (rows.length === 0) return;
    try {
      this.appendTxn.immediate(rows);
    } catch (e) {
      // Rolled back: the counts are counted again from the table.
      this.kept.clear();
      throw e;
    }
  }

  /** Newest first. */
  list(q: RecordQuery): StoredRecord[] {
    const before = q.before ?? Number.MAX_SAFE_INTEGER;
    const limit = Math.max(0, Math.floor(q.limit));
    if (q.hash !== undefined) return this.s.byHash.all(q.hash, before, limit).map(toRecord);
    if (q.name !== undefined) return this.s.byName.all(q.name, before, limit).map(toRecord);
    return [];
  }

  private keptOf(hash: string): number {
    let n = this.kept.get(hash);
    if (n === undefined) this.kept.set(hash, (n = this.count(hash)));
    return n;
  }

  /** Rows kept for one version. */
  count(hash: string): number {
    return this.s.count.get(hash) ?? 0;
  }
}
