// The data directory a kernel owns: one kernel per directory (contract guarantee 9), held with an
// OS-level lock on <data>/kernel.lock, and the file modes that keep its contents to the user that
// runs the kernel (directory 0700 when created here, the files Substrate writes 0600).
//
// Why an OS lock (fs-native-extensions: open-file-description fcntl locks on Linux, flock on macOS,
// LockFileEx on Windows) and not a pid file: the OS drops the lock when the holder dies, kill -9
// included, so a stale lock cannot exist and no liveness guess (pid reuse, clocks, mtime refresh of
// a blocked event loop) decides who owns the store. The file stays in place when the kernel stops:
// unlinking it would let a starter lock an orphaned inode while another creates a new file.
// The holder's pid is written into the locked file so that a refused starter can name it.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { StartError } from './start-error.ts';

// The layout of a data directory: every file name Substrate uses in it, spelled only here (the
// kernel, the CLI and the benchmarks import them; store/ cannot import kernel/ and is given paths).
/** The SQLite store; SQLite itself adds STORE_WAL_FILE and STORE_SHM_FILE beside it. */
export const STORE_FILE = 'substrate.db';
export const STORE_WAL_FILE = `${STORE_FILE}-wal`;
export const STORE_SHM_FILE = `${STORE_FILE}-shm`;
/** The first operator token's secret, written when the directory is new. */
export const TOKEN_FILE = 'operator.token';
/** Written by a running kernel ({ url, pid, startedAt }) so the CLI finds it without --url. */
export const STATE_FILE = 'kernel.json';
/** Held with the OS lock while a kernel owns the directory. */
export const LOCK_FILE = 'kernel.lock';
/** The directory when this kernel creates it: only its user may list or enter it. */
export const DATA_DIR_MODE = 0o700;
/** Every file Substrate writes in the directory (store, its -wal/-shm, token, lock, kernel.json). */
export const DATA_FILE_MODE = 0o600;

interface FsLocks {
  tryLock(fd: number): boolean;
  unlock(fd: number): void;
}
// Loaded on first use, not at import: the CLI imports this file for the names above and should
// not pay for (or depend on) the native addon in commands that never lock.
let loadedLocks: FsLocks | undefined;
const locks = {
  tryLock: (fd: number): boolean => (loadedLocks ??= loadLocks()).tryLock(fd),
  unlock: (fd: number): void => (loadedLocks ??= loadLocks()).unlock(fd),
};
function loadLocks(): FsLocks {
  return createRequire(import.meta.url)('fs-native-extensions') as FsLocks;
}

export interface LockHolder {
  pid: number | undefined;
  startedAt: string | undefined;
}

export interface DataDirLock {
  readonly dir: string;
  readonly file: string;
  release(): void;
}

function readHolder(fd: number): LockHolder {
  try {
    const size = Math.min(fs.fstatSync(fd).size, 4096);
    const buf = Buffer.alloc(size);
    fs.readSync(fd, buf, 0, size, 0);
    const j = JSON.parse(buf.toString('utf8')) as { pid?: unknown; startedAt?: unknown };
    return { pid: typeof j.pid === 'number' ? j.pid : undefined, startedAt: typeof j.startedAt === 'string' ? j.startedAt : undefined };
  } catch {
    // Locked but not yet written (the holder is starting), or written by something else.
    return { pid: undefined, startedAt: undefined };
  }
}

function refuse(dir: string, holder: LockHolder): StartError {
  const who = holder.pid !== undefined ? `process ${holder.pid}` : 'another process';
  const since = holder.startedAt ? ` since ${holder.startedAt}` : '';
  return new StartError(
    'DATA_DIR_IN_USE',
    `the data directory ${dir} is in use by ${who}${since}: one kernel per data directory. ` +
      `Stop that kernel, or start this one with another --data.`,
    { dataDir: dir, ...(holder.pid !== undefined ? { pid: holder.pid } : {}) },
  );
}

/** Throws DATA_DIR_IN_USE when a live kernel holds `dir`; creates and changes nothing (a missing
 *  directory or lock file is simply free). Lets a start refuse before it binds a port. */
export function assertDataDirFree(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, LOCK_FILE), 'r+');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    if (!locks.tryLock(fd)) throw refuse(dir, readHolder(fd));
    locks.unlock(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Creates `dir` (0700) when missing and takes its lock for this process, or throws
 *  DATA_DIR_IN_USE naming the holder. Nothing else in the directory is touched before the lock is
 *  held; once it is, the modes of the files Substrate owns there are set to 0600. */
export function lockDataDir(dir: string): DataDirLock {
  const existed = fs.existsSync(dir);
  fs.mkdirSync(dir, { recursive: true, mode: DATA_DIR_MODE });
  if (!existed) fs.chmodSync(dir, DATA_DIR_MODE); // mkdir's mode is filtered by the umask
  else warnIfOpen(dir);
  const file = path.join(dir, LOCK_FILE);
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, DATA_FILE_MODE);
  try {
    if (!locks.tryLock(fd)) throw refuse(dir, readHolder(fd));
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  fs.fchmodSync(fd, DATA_FILE_MODE);
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }) + '\n', 0);
  restrictFiles(dir);
  let released = false;
  return {
    dir,
    file,
    release() {
      if (released) return;
      released = true;
      try {
        locks.unlock(fd);
      } finally {
        fs.closeSync(fd); // closing alone would release it too; unlock says so explicitly
      }
    },
  };
}

/** Files a data directory of an older kernel may hold with looser modes (the kernel writes new
 *  ones 0600; SQLite gives -wal and -shm the database file's mode). */
const OWNED_FILES = [STORE_FILE, STORE_WAL_FILE, STORE_SHM_FILE, TOKEN_FILE, STATE_FILE];

function restrictFiles(dir: string): void {
  for (const name of OWNED_FILES) {
    try {
      fs.chmodSync(path.join(dir, name), DATA_FILE_MODE);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

/** A directory the operator made is left as made (it may be shared on purpose, e.g. with a backup
 *  group); the files in it are 0600 anyway, so only their names would show. Say so once. */
function warnIfOpen(dir: string): void {
  const mode = fs.statSync(dir).mode & 0o777;
  if (mode & 0o077) {
    process.stderr.write(`substrate: warning: the data directory ${dir} is mode ${mode.toString(8).padStart(4, '0')}; other users can list it (its files are 0600). chmod 700 it to hide them.\n`);
  }
}
