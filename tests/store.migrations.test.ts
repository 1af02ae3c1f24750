// Schema migrations: applied at open, idempotent at re-open, carrying data forward, refusing newer files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, migrate, schemaVersion, type Migration } from '../store/migrations.ts';
import { Store } from '../store/store.ts';

const dirs: string[] = [];
function tmpFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-store-'));
  dirs.push(dir);
  return path.join(dir, 'nested', 'substrate.db');
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('store migrations', () => {
  it('creates the schema at open, in WAL mode, and re-opens without re-applying', () => {
    const file = tmpFile();
    const store = Store.open(file);
    expect(store.generation()).toBe(0);
    expect(store.commitState({ reads: [], nsReads: [], writes: [['a', 'k', '1']] })).toBe('ok');
    store.close();

    const raw = new Database(file);
    expect(schemaVersion(raw)).toBe(MIGRATIONS.length);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();

    const again = Store.open(file);
    expect(again.readState('a', 'k')?.value).toBe('1');
    again.close();
  });

  it('migrates a store forward without losing data', () => {
    const file = tmpFile();
    const store = Store.open(file);
    store.commitState({ reads: [], nsReads: [], writes: [['ns', 'x', '{"n":1}']] });
    store.createToken({ id: 't1', name: 'ci', role: 'agent', secretHash: 'h1' });
    store.close();

    const next = MIGRATIONS.length + 1;
    const v2: Migration = {
      version: next,
      name: 'add a column',
      up(db) {
        db.exec("ALTER TABLE tokens ADD COLUMN note TEXT NOT NULL DEFAULT ''");
      },
    };
    const db = new Database(file);
    expect(migrate(db, [...MIGRATIONS, v2])).toBe(next);
    expect(schemaVersion(db)).toBe(next);
    expect(db.prepare('SELECT value FROM state WHERE namespace = ? AND key = ?').pluck().get('ns', 'x')).toBe('{"n":1}');
    expect(db.prepare('SELECT name, note FROM tokens WHERE id = ?').get('t1')).toEqual({ name: 'ci', note: '' });
    // Applying the same list again changes nothing.
    expect(migrate(db, [...MIGRATIONS, v2])).toBe(next);
    db.close();
  });

  it('rolls back a failing migration and leaves the version where it was', () => {
    const file = tmpFile();
    Store.open(file).close();
    const bad: Migration = {
      version: MIGRATIONS.length + 1,
      name: 'fails halfway',
      up(db) {
        db.exec('CREATE TABLE half (x)');
        throw new Error('boom');
      },
    };
    const db = new Database(file);
    expect(() => migrate(db, [...MIGRATIONS, bad])).toThrow('boom');
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").pluck().get()).toBe(0);
    db.close();
  });

  it('refuses a store newer than the code knows', () => {
    const file = tmpFile();
    Store.open(file).close();
    const db = new Database(file);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => Store.open(file)).toThrow(/newer than this Substrate knows/);
  });
});
