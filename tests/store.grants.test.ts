// Grants and shared-namespace owners as stored: claimed inside the commit that first declares a
// namespace, one active grant per principal/kind/target, revoked rows kept, and a store from before
// ownership carried forward by migration 2 without taking anyone's access away.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Manifest, Principal, VersionRecord } from '../capabilities/types.ts';
import { MIGRATIONS, migrate } from '../store/migrations.ts';
import { Store } from '../store/store.ts';

const dirs: string[] = [];
function tmpFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-grants-'));
  dirs.push(dir);
  return path.join(dir, 'substrate.db');
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const alice: Principal = { id: 'tok-a', name: 'alice', role: 'agent' };
const bob: Principal = { id: 'tok-b', name: 'bob', role: 'agent' };

function version(name: string, shared: Record<string, 'r' | 'rw'>, createdAt = Date.now()): VersionRecord {
  const manifest: Manifest = { name, version: '1.0.0', description: '', dependencies: {}, state: { shared }, limits: { timeoutMs: 5000, memoryMb: 64 }, tests: [] };
  return { name, version: '1.0.0', hash: `h-${name}`, manifest, source: 'x', language: 'js', compiled: 'x', hasMigrate: false, createdAt, principal: 'p' };
}

function commit(store: Store, principal: Principal, v: VersionRecord): void {
  store.commit({ principal, newVersions: [v], setCurrent: [{ name: v.name, hash: v.hash }], bumpGeneration: true, changes: [], gates: [] });
}

describe('stored grants', () => {
  it('the commit that first declares a namespace makes its capability owner the owner; later ones change nothing', () => {
    const store = Store.open(tmpFile());
    commit(store, alice, version('a.one', { 'ns.x': 'rw' }));
    commit(store, bob, version('b.one', { 'ns.x': 'r', 'ns.y': 'r' }));
    expect(store.namespaceOwner('ns.x')).toMatchObject({ namespace: 'ns.x', ownerId: 'tok-a', ownerName: 'alice', capability: 'a.one' });
    expect(store.namespaceOwner('ns.y')).toMatchObject({ ownerId: 'tok-b', capability: 'b.one' });
    expect(store.namespaceOwners().map((o) => o.namespace)).toEqual(['ns.x', 'ns.y']);
    store.close();
  });

  it('keeps one active grant per principal, kind and target; revoked rows stay but are not listed', () => {
    const store = Store.open(tmpFile());
    const row = { principal: 'tok-b', kind: 'namespace' as const, target: 'ns.x', methods: null, grantedBy: 'tok-a', grantedByName: 'alice' };
    const g1 = store.putGrant({ ...row, id: 'grt_1', mode: 'r' });
    const g2 = store.putGrant({ ...row, id: 'grt_2', mode: 'rw' });
    expect(g2.id).toBe(g1.id);
    expect(store.grants({ kind: 'namespace', target: 'ns.x' })).toEqual([expect.objectContaining({ id: 'grt_1', mode: 'rw' })]);
    expect(store.revokeGrant('grt_1')).toBe(true);
    expect(store.revokeGrant('grt_1')).toBe(false);
    expect(store.grants()).toEqual([]);
    expect(store.grant('grt_1')?.revokedAt).toBeTypeOf('number');
    // A new grant after the revoke is a new row.
    expect(store.putGrant({ ...row, id: 'grt_3', mode: 'r' }).id).toBe('grt_3');
    store.close();
  });

  it('migration 2 gives an existing store owners (first declaration wins) and grants for the other declarers', () => {
    const file = tmpFile();
    const db = new Database(file);
    migrate(db, MIGRATIONS.slice(0, 1));
    const manifest = (shared: Record<string, string>) => JSON.stringify({ name: 'x', version: '1.0.0', description: '', dependencies: {}, state: { shared }, limits: {}, tests: [] });
    const insCap = db.prepare('INSERT INTO capabilities (name, owner_id, owner_name, current_hash, created_at) VALUES (?, ?, ?, NULL, 0)');
    const insVer = db.prepare("INSERT INTO versions (hash, name, version, manifest, dependencies, source, language, compiled, has_migrate, created_at, principal) VALUES (?, ?, '1.0.0', ?, '{}', '', 'js', '', 0, ?, 'p')");
    insCap.run('b.late', 'tok-b', 'bob');
    insCap.run('a.early', 'tok-a', 'alice');
    insCap.run('a.more', 'tok-a', 'alice');
    insVer.run('h2', 'b.late', manifest({ 'ns.x': 'r', 'ns.z': 'rw' }), 200);
    insVer.run('h1', 'a.early', manifest({ 'ns.x': 'rw' }), 100);
    insVer.run('h3', 'a.more', manifest({ 'ns.x': 'r' }), 300);
    db.close();

    const store = Store.open(file);
    expect(store.namespaceOwner('ns.x')).toMatchObject({ ownerId: 'tok-a', capability: 'a.early' });
    expect(store.namespaceOwner('ns.z')).toMatchObject({ ownerId: 'tok-b', capability: 'b.late' });
    // Bob declared ns.x before ownership existed: he keeps r on it, as a grant made by the migration.
    expect(store.grants()).toEqual([expect.objectContaining({ principal: 'tok-b', kind: 'namespace', target: 'ns.x', mode: 'r', grantedBy: 'migration' })]);
    store.close();
  });
});
