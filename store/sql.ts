// The SQL connection every table of the store is written against, for both backends: the embedded
// SQLite file (store/db.ts: better-sqlite3, whose own Database satisfies this interface) and a
// PostgreSQL server (store/pg-connection.ts: a synchronous facade over `pg` in a worker thread).
//
// Why synchronous: the store's callers (about ninety sites in kernel/) rely on a read or a commit
// finishing before the next line runs, and the commit pipeline's invariants are written that way.
// With PostgreSQL each statement blocks the calling thread for one round trip to the server; that
// is the documented cost (docs/scale-out.md), paid instead of rewriting every caller as async.
//
// SQL written once for both: positional `?` and named `@name` parameters (the PostgreSQL facade
// rewrites them to $n outside string literals); a parameter used only in `@p IS NULL` needs a
// CAST(@p AS TEXT|BIGINT) so PostgreSQL can type it (SQLite ignores the cast); where the dialects
// differ, the Dialect below spells the piece. BIGINT columns come back as JS numbers on both.

export type SqlValue = string | number | bigint | Buffer | null;

export interface SqlRunResult {
  /** Rows inserted, updated or deleted. */
  changes: number;
}

type Args<P> = P extends unknown[] ? P : [P];

/** A prepared statement: the subset of better-sqlite3's Statement the store uses. */
export interface SqlStatement<P extends unknown[] | object = unknown[], R = unknown> {
  run(...params: Args<P>): SqlRunResult;
  get(...params: Args<P>): R | undefined;
  all(...params: Args<P>): R[];
  /** Rows become their first column's value. */
  pluck(toggle?: boolean): this;
}

/** A function that runs in one transaction: BEGIN (deferred) when called, BEGIN IMMEDIATE (SQLite:
 *  the write lock taken before the first read) with `.immediate`. Nested calls are savepoints. A
 *  throw rolls the whole transaction back and rethrows. On PostgreSQL a serialization failure or a
 *  deadlock surfaces as SqlConflictError (nothing was written; the caller may re-run). */
export interface SqlTransaction<A extends unknown[], T> {
  (...args: A): T;
  immediate(...args: A): T;
}

export interface SqlDb {
  /** The file path (SQLite) or the server URL without its password (PostgreSQL). */
  readonly name: string;
  readonly open: boolean;
  prepare<P extends unknown[] | object = unknown[], R = unknown>(sql: string): SqlStatement<P, R>;
  transaction<A extends unknown[], T>(fn: (...args: A) => T): SqlTransaction<A, T>;
  /** Runs several statements (DDL), no parameters. */
  exec(sql: string): void;
  close(): void;
}

/** What only a PostgreSQL connection does: notifications between kernels, session locks. */
export interface PgDb extends SqlDb {
  readonly dialect: Dialect;
  /** LISTEN on `channel`: `cb` runs on this thread's event loop for every NOTIFY, from any session
   *  (ours too). Kept across reconnects; notifications sent while disconnected are lost (the caller
   *  catches up from the journal in onReconnect). */
  listen(channel: string, cb: (payload: string) => void): void;
  /** Called on the event loop after the connection to the server was lost and made again. */
  onReconnect(cb: () => void): void;
  /** pg_try_advisory_lock on this connection's session: true when now held by us. A session lock
   *  is released when the session ends, so a kernel that dies gives it up with its connection. */
  tryAdvisoryLock(key: number): boolean;
  advisoryUnlock(key: number): void;
}

/** A PostgreSQL error that means "nothing was written, run it again": serialization failure
 *  (40001), deadlock (40P01) or a unique violation between two writers racing (23505 inside a
 *  transaction the store marks retryable). */
export class SqlConflictError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'SqlConflictError';
    this.code = code;
  }
}

/** The server cannot be reached (connection refused or lost mid-statement, or a statement outlived
 *  its timeout): nothing of the statement's transaction is committed unless COMMIT returned. */
export class SqlUnavailableError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'SqlUnavailableError';
    this.code = code;
  }
}

/** The pieces of SQL the two engines spell differently. */
export interface Dialect {
  readonly kind: 'sqlite' | 'postgres';
  /** A JSON text column's top-level field as text: json_extract(c,'$.f') / (c::json->>'f'). */
  jsonText(column: string, field: string): string;
  /** 1-based position of `needle` in `haystack`, 0 when absent: instr / strpos. */
  position(haystack: string, needle: string): string;
  /** The larger of two values: max(a, b) / GREATEST(a, b). */
  greatest(a: string, b: string): string;
  /** Appended to a SELECT that claims rows another kernel may claim too. */
  readonly skipLocked: string;
  /** Appended to a SELECT whose rows this transaction will write (the generation row). */
  readonly forUpdate: string;
}

export const SQLITE: Dialect = {
  kind: 'sqlite',
  jsonText: (c, f) => `json_extract(${c}, '$.${f}')`,
  position: (h, n) => `instr(${h}, ${n})`,
  greatest: (a, b) => `max(${a}, ${b})`,
  // One writer per file: BEGIN IMMEDIATE already serializes every claim.
  skipLocked: '',
  forUpdate: '',
};

export const POSTGRES: Dialect = {
  kind: 'postgres',
  jsonText: (c, f) => `(${c}::json->>'${f}')`,
  position: (h, n) => `strpos(${h}, ${n})`,
  greatest: (a, b) => `GREATEST(${a}, ${b})`,
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  forUpdate: ' FOR UPDATE',
};
