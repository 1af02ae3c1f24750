// Grants and shared-namespace owners as stored: plain rows. Who may add or revoke what, and what a
// grant means for a call, is the kernel's business (kernel/grants.ts); this file only keeps them.
//
// One table serves every kind of grant: `kind` says what `target` is (a shared namespace name for
// `namespace`, a destination pattern for `http`), `mode` is the namespace kinds' access and
// `methods` the http kind's (JSON array, null = all). Revoked grants keep their row (revoked_at set)
// so the record of who was granted what is never rewritten.

import type Database from 'better-sqlite3';
import type { Access } from '../capabilities/types.ts';
import type { Db } from './db.ts';
import type { GrantKind, GrantRow, NamespaceOwnerRow } from './types.ts';

interface GrantDbRow {
  id: string;
  principal: string;
  kind: GrantKind;
  target: string;
  mode: Access | null;
  methods: string | null;
  granted_by: string;
  granted_by_name: string;
  created_at: number;
  revoked_at: number | null;
}

interface OwnerDbRow {
  namespace: string;
  owner_id: string;
  owner_name: string;
  capability: string;
  created_at: number;
}

const COLUMNS = 'id, principal, kind, target, mode, methods, granted_by, granted_by_name, created_at, revoked_at';

function toGrant(r: GrantDbRow): GrantRow {
  return {
    id: r.id,
    principal: r.principal,
    kind: r.kind,
    target: r.target,
    mode: r.mode,
    methods: r.methods === null ? null : (JSON.parse(r.methods) as string[]),
    grantedBy: r.granted_by,
    grantedByName: r.granted_by_name,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

function toOwner(r: OwnerDbRow): NamespaceOwnerRow {
  return { namespace: r.namespace, ownerId: r.owner_id, ownerName: r.owner_name, capability: r.capability, createdAt: r.created_at };
}

export class GrantTable {
  private readonly s: {
    insert: Database.Statement<[string, string, string, string, string | null, string | null, string, string, number]>;
    update: Database.Statement<[string | null, string | null, string]>;
    byId: Database.Statement<[string], GrantDbRow>;
    active: Database.Statement<[string, string, string], GrantDbRow>;
    forTarget: Database.Statement<[string, string], GrantDbRow>;
    all: Database.Statement<[], GrantDbRow>;
    revoke: Database.Statement<[number, string]>;
    owner: Database.Statement<[string], OwnerDbRow>;
    owners: Database.Statement<[], OwnerDbRow>;
    claim: Database.Statement<[string, number, string]>;
  };

  constructor(db: Db) {
    this.s = {
      insert: db.prepare(`INSERT INTO grants (id, principal, kind, target, mode, methods, granted_by, granted_by_name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      update: db.prepare('UPDATE grants SET mode = ?, methods = ? WHERE id = ?'),
      byId: db.prepare(`SELECT ${COLUMNS} FROM grants WHERE id = ?`),
      active: db.prepare(`SELECT ${COLUMNS} FROM grants WHERE principal = ? AND kind = ? AND target = ? AND revoked_at IS NULL`),
      forTarget: db.prepare(`SELECT ${COLUMNS} FROM grants WHERE kind = ? AND target = ? AND revoked_at IS NULL ORDER BY created_at, id`),
      all: db.prepare(`SELECT ${COLUMNS} FROM grants WHERE revoked_at IS NULL ORDER BY created_at, id`),
      revoke: db.prepare('UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      owner: db.prepare('SELECT namespace, owner_id, owner_name, capability, created_at FROM namespace_owners WHERE namespace = ?'),
      owners: db.prepare('SELECT namespace, owner_id, owner_name, capability, created_at FROM namespace_owners ORDER BY namespace'),
      // The namespace's owner is the owner of the capability whose version first declared it.
      claim: db.prepare(
        'INSERT INTO namespace_owners (namespace, owner_id, owner_name, capability, created_at) SELECT ?, owner_id, owner_name, name, ? FROM capabilities WHERE name = ? ON CONFLICT (namespace) DO NOTHING',
      ),
    };
  }

  /** Adds a grant, or changes the mode/methods of the active one with the same principal, kind
   *  and target (one active grant per triple, so that one revoke always takes the access away). */
  put(row: { id: string; principal: string; kind: GrantKind; target: string; mode: Access | null; methods: string[] | null; grantedBy: string; grantedByName: string }): GrantRow {
    const methods = row.methods === null ? null : JSON.stringify(row.methods);
    const existing = this.s.active.get(row.principal, row.kind, row.target);
    if (existing) {
      this.s.update.run(row.mode, methods, existing.id);
      return toGrant(this.s.byId.get(existing.id) as GrantDbRow);
    }
    this.s.insert.run(row.id, row.principal, row.kind, row.target, row.mode, methods, row.grantedBy, row.grantedByName, Date.now());
    return toGrant(this.s.byId.get(row.id) as GrantDbRow);
  }

  /** Revoked grants too (revokedAt set). */
  byId(id: string): GrantRow | undefined {
    const r = this.s.byId.get(id);
    return r ? toGrant(r) : undefined;
  }

  /** The active grants on one target. */
  forTarget(kind: GrantKind, target: string): GrantRow[] {
    return this.s.forTarget.all(kind, target).map(toGrant);
  }

  /** Every active grant, oldest first. */
  all(): GrantRow[] {
    return this.s.all.all().map(toGrant);
  }

  /** True when the grant was active and is now revoked. */
  revoke(id: string): boolean {
    return this.s.revoke.run(Date.now(), id).changes > 0;
  }

  owner(namespace: string): NamespaceOwnerRow | undefined {
    const r = this.s.owner.get(namespace);
    return r ? toOwner(r) : undefined;
  }

  owners(): NamespaceOwnerRow[] {
    return this.s.owners.all().map(toOwner);
  }

  /** Inside a commit, after the capability row exists: the owner of `capability` becomes the
   *  owner of each namespace nobody owns yet. */
  claim(capability: string, namespaces: string[], at: number): void {
    for (const ns of namespaces) this.s.claim.run(ns, at, capability);
  }
}
