// Bearer tokens as stored: plain rows. The kernel makes the secret and hashes it (sha256) before it
// gets here; the store never sees a secret.

import type { Role } from '../capabilities/types.ts';
import type { Db } from './db.ts';
import type { TokenRow } from './types.ts';
import type Database from 'better-sqlite3';

interface TokenDbRow {
  id: string;
  name: string;
  role: Role;
  created_at: number;
  revoked_at: number | null;
}

const COLUMNS = 'id, name, role, created_at, revoked_at';

function toRow(r: TokenDbRow): TokenRow {
  return { id: r.id, name: r.name, role: r.role, createdAt: r.created_at, revokedAt: r.revoked_at };
}

export class TokenTable {
  private readonly insertStmt: Database.Statement<[string, string, string, string, number]>;
  private readonly bySecretStmt: Database.Statement<[string], TokenDbRow>;
  private readonly byIdStmt: Database.Statement<[string], TokenDbRow>;
  private readonly allStmt: Database.Statement<[], TokenDbRow>;
  private readonly revokeStmt: Database.Statement<[number, string]>;

  constructor(db: Db) {
    this.insertStmt = db.prepare('INSERT INTO tokens (id, name, role, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)');
    this.bySecretStmt = db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE secret_hash = ?`);
    this.byIdStmt = db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE id = ?`);
    this.allStmt = db.prepare(`SELECT ${COLUMNS} FROM tokens ORDER BY created_at, id`);
    this.revokeStmt = db.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  }

  create(row: { id: string; name: string; role: Role; secretHash: string }): TokenRow {
    const createdAt = Date.now();
    this.insertStmt.run(row.id, row.name, row.role, row.secretHash, createdAt);
    return { id: row.id, name: row.name, role: row.role, createdAt, revokedAt: null };
  }

  /** Revoked tokens are returned too (with revokedAt): the caller decides what a revoked one means. */
  bySecretHash(secretHash: string): TokenRow | undefined {
    const r = this.bySecretStmt.get(secretHash);
    return r ? toRow(r) : undefined;
  }

  byId(id: string): TokenRow | undefined {
    const r = this.byIdStmt.get(id);
    return r ? toRow(r) : undefined;
  }

  /** Every token, revoked ones included, oldest first. */
  all(): TokenRow[] {
    return this.allStmt.all().map(toRow);
  }

  /** True when the token exists and is now revoked (revoking twice keeps the first revokedAt);
   *  false for an unknown id. */
  revoke(id: string): boolean {
    if (this.revokeStmt.run(Date.now(), id).changes > 0) return true;
    return this.byIdStmt.get(id) !== undefined;
  }
}
