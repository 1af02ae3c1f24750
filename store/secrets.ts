// The secrets table (migration 4) as plain rows: a name, where the kernel may send it (hosts, the
// header and its format) and the value as AES-256-GCM ciphertext with its IV and auth tag. This file
// never sees a value in clear and holds no key: encrypting, decrypting and the key file are
// kernel/secrets.ts's. Also the key check (a known text encrypted with the key, in `meta`), by which
// the kernel tells a wrong key file from a right one before it decrypts anything.

import type Database from 'better-sqlite3';
import type { Db } from './db.ts';

export interface SecretRow {
  name: string;
  hosts: string[];
  header: string;
  format: string;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
  createdAt: number;
  createdBy: string;
}

interface SecretDbRow {
  name: string;
  hosts: string;
  header: string;
  format: string;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
  created_at: number;
  created_by: string;
}

const COLUMNS = 'name, hosts, header, format, iv, tag, ciphertext, created_at, created_by';
const KEY_CHECK = 'secrets.keyCheck';

function toRow(r: SecretDbRow): SecretRow {
  return {
    name: r.name,
    hosts: JSON.parse(r.hosts) as string[],
    header: r.header,
    format: r.format,
    iv: r.iv,
    tag: r.tag,
    ciphertext: r.ciphertext,
    createdAt: r.created_at,
    createdBy: r.created_by,
  };
}

export class SecretTable {
  private readonly s: {
    get: Database.Statement<[string], SecretDbRow>;
    all: Database.Statement<[], SecretDbRow>;
    upsert: Database.Statement<[string, string, string, string, Buffer, Buffer, Buffer, number, string]>;
    remove: Database.Statement<[string]>;
    count: Database.Statement<[], number>;
    keyCheck: Database.Statement<[string], string>;
    setKeyCheck: Database.Statement<[string, string]>;
  };
  private readonly putTxn: Database.Transaction<(row: SecretRow) => boolean>;

  constructor(db: Db) {
    this.s = {
      get: db.prepare(`SELECT ${COLUMNS} FROM secrets WHERE name = ?`),
      all: db.prepare(`SELECT ${COLUMNS} FROM secrets ORDER BY name`),
      upsert: db.prepare(
        `INSERT INTO secrets (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET hosts = excluded.hosts, header = excluded.header, format = excluded.format,
           iv = excluded.iv, tag = excluded.tag, ciphertext = excluded.ciphertext, created_at = excluded.created_at, created_by = excluded.created_by`,
      ),
      remove: db.prepare('DELETE FROM secrets WHERE name = ?'),
      count: db.prepare<[], number>('SELECT count(*) FROM secrets').pluck(),
      keyCheck: db.prepare<[string], string>('SELECT value FROM meta WHERE key = ?').pluck(),
      setKeyCheck: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
    this.putTxn = db.transaction((row: SecretRow) => {
      const replaced = this.s.get.get(row.name) !== undefined;
      this.s.upsert.run(row.name, JSON.stringify(row.hosts), row.header, row.format, row.iv, row.tag, row.ciphertext, row.createdAt, row.createdBy);
      return replaced;
    });
  }

  /** Stores or replaces the secret of that name; true when it replaced one. */
  put(row: SecretRow): boolean {
    return this.putTxn.immediate(row);
  }

  get(name: string): SecretRow | undefined {
    const r = this.s.get.get(name);
    return r ? toRow(r) : undefined;
  }

  /** Every secret, by name. */
  all(): SecretRow[] {
    return this.s.all.all().map(toRow);
  }

  /** True when it existed. */
  remove(name: string): boolean {
    return this.s.remove.run(name).changes > 0;
  }

  count(): number {
    return this.s.count.get() ?? 0;
  }

  /** The key check written with the first secret's key (opaque text), or undefined. */
  keyCheck(): string | undefined {
    return this.s.keyCheck.get(KEY_CHECK);
  }

  setKeyCheck(value: string): void {
    this.s.setKeyCheck.run(KEY_CHECK, value);
  }
}
