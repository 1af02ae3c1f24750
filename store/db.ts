// Opening the SQLite file: the connection settings every Substrate connection needs, in one place.
// The kernel holds the only read-write connection; sandbox workers open read-only ones next to it.

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

/** The kernel's connection. Creates the parent directory and the file when missing. */
export function openWritable(file: string): Db {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
  // Made 0600 before SQLite opens it: SQLite gives the -wal and -shm files it creates the mode of
  // the database file, so the whole store stays readable by its user only.
  fs.closeSync(fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600));
  const db = new Database(file);
  try {
    // WAL lets the workers' read-only connections read while the kernel writes (readers never block
    // the writer, the writer never blocks readers).
    db.pragma('journal_mode = WAL');
    // With WAL, synchronous=NORMAL syncs at checkpoints, not at every commit. A committed
    // transaction is in the WAL file (the OS page cache) when COMMIT returns, so it survives kill -9
    // of the process: nothing acknowledged is lost on a process crash, only possibly on power loss
    // or an OS crash, which is the trade-off taken for commit latency.
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/** A worker's connection: never writes, never creates the file (the kernel made it). */
export function openReadOnly(file: string): Db {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}
