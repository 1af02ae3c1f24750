// The effect journal as stored (migration 4): one row per request a call tree made or was served
// from the journal (capabilities/effects.ts EffectRecord), appended by the kernel, listed newest
// first, and bounded. The rows never hold a secret: the kernel records no request headers and only
// the redacted response (kernel/egress.ts).
//
// Retention, one rule (EFFECT_RETENTION): the newest `records` rows are kept and older ones deleted;
// of those, only the newest `bodies` keep their response (older ones keep everything else, with
// `response` null). Counted by seq, the order of appending, after every append.

import type Database from 'better-sqlite3';
import type { EffectRecord, EgressResponse } from '../capabilities/effects.ts';
import type { Db } from './db.ts';

export const EFFECT_RETENTION = {
  /** Rows kept in all. */
  records: 10_000,
  /** Of those, the newest that keep their response body. */
  bodies: 1_000,
} as const;

interface EffectDbRow {
  seq: number;
  id: string;
  at: number;
  invocation_id: string;
  name: string;
  version: string;
  hash: string;
  principal: string;
  principal_name: string;
  method: string;
  url: string;
  final_url: string;
  status: number | null;
  error: string | null;
  request_bytes: number;
  response_bytes: number;
  duration_ms: number;
  replayed: number;
  response: string | null;
}

/** A stored record with its position (the cursor of paging). */
export interface StoredEffect extends EffectRecord {
  seq: number;
}

export interface EffectQuery {
  name?: string;
  invocationId?: string;
  /** Only the records of capabilities this principal owns. */
  principal?: string;
  /** Exclusive: records appended before this seq. */
  before?: number;
  limit: number;
}

const COLUMNS =
  'seq, id, at, invocation_id, name, version, hash, principal, principal_name, method, url, final_url, status, error, request_bytes, response_bytes, duration_ms, replayed, response';

function toRecord(r: EffectDbRow): StoredEffect {
  return {
    seq: r.seq,
    id: r.id,
    at: r.at,
    invocationId: r.invocation_id,
    name: r.name,
    version: r.version,
    hash: r.hash,
    principal: r.principal,
    principalName: r.principal_name,
    method: r.method,
    url: r.url,
    finalUrl: r.final_url,
    status: r.status,
    error: r.error,
    requestBytes: r.request_bytes,
    responseBytes: r.response_bytes,
    durationMs: r.duration_ms,
    replayed: r.replayed !== 0,
    response: r.response === null ? null : (JSON.parse(r.response) as EgressResponse),
  };
}

export class EffectTable {
  private readonly s: {
    insert: Database.Statement<unknown[]>;
    list: Database.Statement<{ name: string | null; inv: string | null; principal: string | null; before: number; limit: number }, EffectDbRow>;
    forInvocation: Database.Statement<[string], EffectDbRow>;
    maxSeq: Database.Statement<[], number | null>;
    deleteUpTo: Database.Statement<[number]>;
    dropBodies: Database.Statement<[number, number]>;
  };
  private readonly appendTxn: Database.Transaction<(records: readonly EffectRecord[]) => void>;
  /** Responses at or below this seq are already dropped: each append clears only the new range. */
  private bodiesDroppedTo = 0;

  constructor(
    db: Db,
    private readonly retention: { records: number; bodies: number } = EFFECT_RETENTION,
  ) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO effects (id, at, invocation_id, name, version, hash, principal, principal_name, method, url, final_url, status, error,
           request_bytes, response_bytes, duration_ms, replayed, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO NOTHING`,
      ),
      list: db.prepare(
        `SELECT ${COLUMNS} FROM effects
         WHERE seq < @before AND (@name IS NULL OR name = @name) AND (@inv IS NULL OR invocation_id = @inv) AND (@principal IS NULL OR principal = @principal)
         ORDER BY seq DESC LIMIT @limit`,
      ),
      forInvocation: db.prepare(`SELECT ${COLUMNS} FROM effects WHERE invocation_id = ? ORDER BY seq`),
      maxSeq: db.prepare<[], number | null>('SELECT max(seq) FROM effects').pluck(),
      deleteUpTo: db.prepare('DELETE FROM effects WHERE seq <= ?'),
      dropBodies: db.prepare('UPDATE effects SET response = NULL WHERE seq > ? AND seq <= ? AND response IS NOT NULL'),
    };
    this.appendTxn = db.transaction((records: readonly EffectRecord[]) => {
      for (const r of records) {
        this.s.insert.run(
          r.id,
          r.at,
          r.invocationId,
          r.name,
          r.version,
          r.hash,
          r.principal,
          r.principalName,
          r.method,
          r.url,
          r.finalUrl,
          r.status,
          r.error,
          r.requestBytes,
          r.responseBytes,
          r.durationMs,
          r.replayed ? 1 : 0,
          r.response === null ? null : JSON.stringify(r.response),
        );
      }
      const max = this.s.maxSeq.get() ?? 0;
      if (max > this.retention.records) this.s.deleteUpTo.run(max - this.retention.records);
      const cut = max - this.retention.bodies;
      if (cut > this.bodiesDroppedTo) {
        this.s.dropBodies.run(this.bodiesDroppedTo, cut);
        this.bodiesDroppedTo = cut;
      }
    });
  }

  /** Appends records (in order) in one transaction, then applies the retention rule. */
  append(records: readonly EffectRecord[]): void {
    if (records.length > 0) this.appendTxn.immediate(records);
  }

  /** Newest first. */
  list(q: EffectQuery): StoredEffect[] {
    return this.s.list
      .all({ name: q.name ?? null, inv: q.invocationId ?? null, principal: q.principal ?? null, before: q.before ?? Number.MAX_SAFE_INTEGER, limit: Math.max(0, Math.floor(q.limit)) })
      .map(toRecord);
  }

  /** Every record of one call tree, in the order it was appended (with responses, where kept). */
  forInvocation(invocationId: string): StoredEffect[] {
    return this.s.forInvocation.all(invocationId).map(toRecord);
  }
}
