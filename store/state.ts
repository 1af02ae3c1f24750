// Capability state in SQLite: the queries that read it (shared by the kernel's Store and the
// workers' read-only connections) and the optimistic transaction that writes it.
//
// Versions: every write gives its key a fresh value of ONE global, strictly increasing counter, and
// inserting or deleting a key gives its namespace a fresh value too. No number is ever used twice,
// so a read recorded at version v can only still match if nothing touched the key since (a key that
// was deleted and re-inserted has a new version: no ABA). A namespace version covers list() reads:
// it moves whenever the set of keys changes, not when a value changes (that is caught by key reads).

import type { Db } from './db.ts';
import { openReadOnly } from './db.ts';
import { assertKnownSchema } from './migrations.ts';
import { PENDING_BY_KEY_SQL } from './jobs.ts';
import type { TxnRecord } from '../capabilities/run-types.ts';
import type Database from 'better-sqlite3';

export interface StateRow {
  key: string;
  value: string;
  version: number;
}

export interface ListOptions {
  prefix?: string;
  after?: string;
  limit: number;
}

/** The smallest string greater than every string that starts with `prefix`, in SQLite's BINARY
 *  (UTF-8 byte = code point) order, or null when no such bound exists. */
export function prefixUpperBound(prefix: string): string | null {
  const cps = Array.from(prefix, (c) => c.codePointAt(0) as number);
  while (cps.length > 0) {
    const last = cps.pop() as number;
    if (last < 0x10ffff) {
      // Surrogate code points cannot be stored in UTF-8 text, so the next one after U+D7FF is U+E000.
      cps.push(last === 0xd7ff ? 0xe000 : last + 1);
      return String.fromCodePoint(...cps);
    }
  }
  return null;
}

/** Reads of the state tables. Works on a read-only connection. */
export class StateReader {
  private readonly getStmt: Database.Statement<[string, string], { value: string; version: number }>;
  private readonly keyVersionStmt: Database.Statement<[string, string], number>;
  private readonly nsVersionStmt: Database.Statement<[string], number>;
  private readonly listStmts = new Map<string, Database.Statement<Record<string, string | number>, StateRow>>();

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare('SELECT value, version FROM state WHERE namespace = ? AND key = ?');
    this.keyVersionStmt = db.prepare<[string, string], number>('SELECT version FROM state WHERE namespace = ? AND key = ?').pluck();
    this.nsVersionStmt = db.prepare<[string], number>('SELECT version FROM state_namespaces WHERE namespace = ?').pluck();
  }

  readState(namespace: string, key: string): { value: string; version: number } | undefined {
    const row = this.getStmt.get(namespace, key);
    return row ? { value: row.value, version: row.version } : undefined;
  }

  /** The key's version, 0 when absent. */
  keyVersion(namespace: string, key: string): number {
    return this.keyVersionStmt.get(namespace, key) ?? 0;
  }

  /** The namespace's version, 0 when nothing was ever inserted into it. */
  namespaceVersion(namespace: string): number {
    return this.nsVersionStmt.get(namespace) ?? 0;
  }

  /** Keys in order, after `after` (exclusive), restricted to `prefix`; at most `limit`. */
  listState(namespace: string, opts: ListOptions): StateRow[] {
    const params: Record<string, string | number> = { ns: namespace, limit: Math.max(0, Math.floor(opts.limit)) };
    const where = ['namespace = @ns'];
    if (opts.prefix !== undefined && opts.prefix !== '') {
      // A key range, not LIKE/substr, so the primary key index bounds the scan on both sides.
      where.push('key >= @lo');
      params.lo = opts.prefix;
      const hi = prefixUpperBound(opts.prefix);
      if (hi !== null) {
        where.push('key < @hi');
        params.hi = hi;
      }
    }
    if (opts.after !== undefined) {
      where.push('key > @after');
      params.after = opts.after;
    }
    const sql = `SELECT key, value, version FROM state WHERE ${where.join(' AND ')} ORDER BY key LIMIT @limit`;
    let stmt = this.listStmts.get(sql);
    if (!stmt) {
      stmt = this.db.prepare<Record<string, string | number>, StateRow>(sql);
      this.listStmts.set(sql, stmt);
    }
    return stmt.all(params);
  }

  namespaces(): Array<{ namespace: string; keys: number }> {
    return this.db
      .prepare<[], { namespace: string; keys: number }>('SELECT namespace, count(*) AS keys FROM state GROUP BY namespace ORDER BY namespace')
      .all();
  }

  /** The highest version number in use anywhere (keys and namespaces). */
  maxVersion(): number {
    return (
      this.db
        .prepare<[], number>(
          'SELECT max(coalesce((SELECT max(version) FROM state), 0), coalesce((SELECT max(version) FROM state_namespaces), 0))',
        )
        .pluck()
        .get() ?? 0
    );
  }
}

/** Validation and application of a TxnRecord. Must be called inside a write transaction (the
 *  caller's BEGIN IMMEDIATE), so nothing can change between the check and the writes. */
export class StateWriter {
  private counter: number;
  private readonly updateStmt: Database.Statement<[string, number, string, string]>;
  private readonly insertStmt: Database.Statement<[string, string, string, number]>;
  private readonly deleteStmt: Database.Statement<[string, string]>;
  private readonly bumpNsStmt: Database.Statement<[string, number]>;

  constructor(
    db: Db,
    private readonly reader: StateReader,
  ) {
    // The counter lives in memory (the kernel is the only writer) and is persisted implicitly: every
    // number handed out that committed is in state.version or state_namespaces.version, and the
    // latest handed out is always one of them (a delete bumps its namespace past the key's version).
    this.counter = reader.maxVersion();
    this.updateStmt = db.prepare('UPDATE state SET value = ?, version = ? WHERE namespace = ? AND key = ?');
    this.insertStmt = db.prepare('INSERT INTO state (namespace, key, value, version) VALUES (?, ?, ?, ?)');
    this.deleteStmt = db.prepare('DELETE FROM state WHERE namespace = ? AND key = ?');
    this.bumpNsStmt = db.prepare(
      'INSERT INTO state_namespaces (namespace, version) VALUES (?, ?) ON CONFLICT (namespace) DO UPDATE SET version = excluded.version',
    );
  }

  /** True when every read still sees the version it recorded. */
  valid(txn: TxnRecord): boolean {
    for (const [ns, key, version] of txn.reads) {
      if (this.reader.keyVersion(ns, key) !== version) return false;
    }
    for (const [ns, version] of txn.nsReads) {
      if (this.reader.namespaceVersion(ns) !== version) return false;
    }
    return true;
  }

  apply(txn: TxnRecord): void {
    // One bump per namespace per transaction is enough: nobody sees the states in between.
    let changedKeySets: Set<string> | undefined;
    for (const [ns, key, value] of txn.writes) {
      if (value === null) {
        // Deleting a missing key changes nothing, so it moves no version.
        if (this.deleteStmt.run(ns, key).changes > 0) (changedKeySets ??= new Set()).add(ns);
      } else if (this.updateStmt.run(value, ++this.counter, ns, key).changes === 0) {
        this.insertStmt.run(ns, key, value, this.counter);
        (changedKeySets ??= new Set()).add(ns);
      }
    }
    if (changedKeySets) for (const ns of changedKeySets) this.bumpNsStmt.run(ns, ++this.counter);
  }
}

/** What a sandbox worker needs of the store: state reads over a read-only connection, which never
 *  blocks (and is never blocked by) the kernel's writes. */
export interface ReadOnlyState {
  readState(namespace: string, key: string): { value: string; version: number } | undefined;
  listState(namespace: string, opts: ListOptions): StateRow[];
  namespaceVersion(namespace: string): number;
  /** The pending job of `name` with dedupe key `key` (ctx.enqueue's key), if any. */
  pendingJobId(name: string, key: string): string | undefined;
  close(): void;
}

export function openReadOnlyState(file: string): ReadOnlyState {
  const db = openReadOnly(file);
  let reader: StateReader;
  let pendingByKey: Database.Statement<[string, string], string>;
  try {
    assertKnownSchema(db);
    reader = new StateReader(db);
    pendingByKey = db.prepare<[string, string], string>(PENDING_BY_KEY_SQL).pluck();
  } catch (e) {
    db.close();
    throw e;
  }
  return {
    readState: (namespace, key) => reader.readState(namespace, key),
    listState: (namespace, opts) => reader.listState(namespace, opts),
    namespaceVersion: (namespace) => reader.namespaceVersion(namespace),
    pendingJobId: (name, key) => pendingByKey.get(name, key),
    close: () => db.close(),
  };
}
