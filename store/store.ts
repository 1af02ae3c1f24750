// The kernel's store: the one read-write connection to <data>/substrate.db. It owns the capability
// graph as stored (versions, current pointers, generation), the append-only journal, capability
// state (through state.ts), tokens (through tokens.ts), grants (through grants.ts), jobs (jobs.ts), secrets as
// ciphertext (secrets.ts) and the effect journal (effects.ts). Every statement is prepared once; every
// change is one SQLite transaction, so a crash at any instant leaves either all of it or none.
//
// Backup and restore: `backup(file)` uses SQLite's online backup API and may run while the kernel
// serves calls. To restore: stop the kernel, copy the backup file to <data>/substrate.db, delete
// <data>/substrate.db-wal and <data>/substrate.db-shm if present (they belong to the replaced file),
// and start the kernel again.

import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { fail } from '../capabilities/errors.ts';
import type { ChangeSummary, GateResult } from '../capabilities/protocol/types.ts';
import type { Language, Manifest, Role, VersionRecord } from '../capabilities/types.ts';
import type { TxnRecord } from '../capabilities/run-types.ts';
import { openWritable, type Db } from './db.ts';
import { migrate } from './migrations.ts';
import { StateReader, StateWriter, type ListOptions, type StateRow } from './state.ts';
import { TokenTable } from './tokens.ts';
import { GrantTable } from './grants.ts';
import { JobTable } from './jobs.ts';
import { SecretTable } from './secrets.ts';
import { EffectTable } from './effects.ts';
import { RecordTable } from './records.ts';
import { RolloutTable } from './rollouts.ts';
import type { StoreNotice } from './types.ts';
import type { CapabilityRow, CommitInput, GrantKind, GrantRow, JournalEntry, NamespaceOwnerRow, StoreApi, TokenRow, VersionMeta } from './types.ts';

export { openReadOnlyState, type ReadOnlyState } from './state.ts';

interface VersionDbRow {
  hash: string;
  name: string;
  version: string;
  manifest: string;
  source: string;
  language: Language;
  compiled: string;
  has_migrate: number;
  created_at: number;
  principal: string;
}

interface CapabilityDbRow {
  name: string;
  owner_id: string;
  owner_name: string;
  current_hash: string | null;
  created_at: number;
}

interface JournalDbRow {
  seq: number;
  generation: number;
  at: number;
  principal: string;
  changes: string;
  gates: string;
}

const VERSION_COLUMNS = 'hash, name, version, manifest, source, language, compiled, has_migrate, created_at, principal';
const CAPABILITY_COLUMNS = 'name, owner_id, owner_name, current_hash, created_at';

function toVersion(r: VersionDbRow): VersionRecord {
  return {
    name: r.name,
    version: r.version,
    hash: r.hash,
    manifest: JSON.parse(r.manifest) as Manifest,
    source: r.source,
    language: r.language,
    compiled: r.compiled,
    hasMigrate: r.has_migrate !== 0,
    createdAt: r.created_at,
    principal: r.principal,
  };
}

function toCapability(r: CapabilityDbRow): CapabilityRow {
  return { name: r.name, ownerId: r.owner_id, ownerName: r.owner_name, current: r.current_hash, createdAt: r.created_at };
}

/** ',a,b,' from the `name` fields of the changes (an array of objects), for history(name). */
function mentionedNames(changes: readonly ChangeSummary[]): string {
  const names = new Set<string>();
  for (const c of changes) names.add(c.name);
  return names.size === 0 ? '' : `,${[...names].join(',')},`;
}

export class Store implements StoreApi {
  readonly path: string;
  private readonly db: Db;
  private readonly stateReader: StateReader;
  private readonly stateWriter: StateWriter;
  private readonly tokenTable: TokenTable;
  private readonly grantTable: GrantTable;
  /** Jobs and schedules (store/jobs.ts); the kernel's job runner and scheduler use it directly. */
  readonly jobs: JobTable;
  /** Secrets as ciphertext (store/secrets.ts) and the effect journal (store/effects.ts). */
  readonly secrets: SecretTable;
  readonly effects: EffectTable;
  readonly records: RecordTable;
  readonly rollouts: RolloutTable;
  private gen: number;
  readonly backend = 'sqlite' as const;
  readonly kernelId = `k-${randomUUID()}`;
  private readonly listeners = new Set<(n: StoreNotice) => void>();

  private readonly s: {
    getVersion: Database.Statement<[string], VersionDbRow>;
    findVersion: Database.Statement<[string, string], VersionDbRow>;
    versionName: Database.Statement<[string], string>;
    allVersionMeta: Database.Statement<[], { name: string; version: string; hash: string; dependencies: string; created_at: number }>;
    capability: Database.Statement<[string], CapabilityDbRow>;
    capabilities: Database.Statement<[], CapabilityDbRow>;
    insertCapability: Database.Statement<[string, string, string, number]>;
    insertVersion: Database.Statement<[string, string, string, string, string, string, string, string, number, number, string]>;
    setCurrent: Database.Statement<[string | null, string]>;
    setGeneration: Database.Statement<[string]>;
    appendJournal: Database.Statement<[number, number, string, string, string, string]>;
    history: Database.Statement<{ limit: number; before: number; name: string | null }, JournalDbRow>;
  };

  private readonly commitStateTxn: Database.Transaction<(txn: TxnRecord) => 'ok' | 'conflict'>;
  private readonly commitTxn: Database.Transaction<(input: CommitInput) => number | 'conflict' | 'stale'>;

  private constructor(file: string, db: Db) {
    this.path = file;
    this.db = db;
    this.stateReader = new StateReader(db);
    this.stateWriter = new StateWriter(db, this.stateReader);
    this.tokenTable = new TokenTable(db);
    this.grantTable = new GrantTable(db);
    this.jobs = new JobTable(db);
    this.secrets = new SecretTable(db);
    this.effects = new EffectTable(db);
    this.records = new RecordTable(db);
    this.rollouts = new RolloutTable(db);
    this.gen = Number(db.prepare<[], string>("SELECT value FROM meta WHERE key = 'generation'").pluck().get() ?? 0);

    this.s = {
      getVersion: db.prepare(`SELECT ${VERSION_COLUMNS} FROM versions WHERE hash = ?`),
      findVersion: db.prepare(`SELECT ${VERSION_COLUMNS} FROM versions WHERE name = ? AND version = ?`),
      versionName: db.prepare<[string], string>('SELECT name FROM versions WHERE hash = ?').pluck(),
      allVersionMeta: db.prepare('SELECT name, version, hash, dependencies, created_at FROM versions ORDER BY name, created_at, hash'),
      capability: db.prepare(`SELECT ${CAPABILITY_COLUMNS} FROM capabilities WHERE name = ?`),
      capabilities: db.prepare(`SELECT ${CAPABILITY_COLUMNS} FROM capabilities ORDER BY name`),
      insertCapability: db.prepare(
        'INSERT INTO capabilities (name, owner_id, owner_name, current_hash, created_at) VALUES (?, ?, ?, NULL, ?) ON CONFLICT (name) DO NOTHING',
      ),
      // Same hash = same content: re-registering it is idempotent. A different hash under an existing
      // name and version still fails on UNIQUE (name, version) and rolls the commit back.
      insertVersion: db.prepare(
        `INSERT INTO versions (hash, name, version, manifest, dependencies, source, language, compiled, has_migrate, created_at, principal)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
      ),
      setCurrent: db.prepare('UPDATE capabilities SET current_hash = ? WHERE name = ?'),
      setGeneration: db.prepare("UPDATE meta SET value = ? WHERE key = 'generation'"),
      appendJournal: db.prepare('INSERT INTO journal (generation, at, principal, changes, gates, names) VALUES (?, ?, ?, ?, ?, ?)'),
      // instr, not LIKE: a name given by a caller may contain LIKE's wildcards.
      history: db.prepare(
        `SELECT seq, generation, at, principal, changes, gates FROM journal
         WHERE seq < @before AND (@name IS NULL OR instr(names, ',' || @name || ',') > 0)
         ORDER BY seq DESC LIMIT @limit`,
      ),
    };

    this.commitStateTxn = db.transaction((txn: TxnRecord) => {
      if (!this.stateWriter.valid(txn)) return 'conflict';
      if (txn.jobKeys && !this.jobs.keysValid(txn.jobKeys)) return 'conflict';
      this.stateWriter.apply(txn);
      // A job exists exactly when the tree that enqueued it committed: same transaction.
      if (txn.jobs?.length) this.jobs.insert(txn.jobs, Date.now());
      return 'ok';
    });

    this.commitTxn = db.transaction((input: CommitInput): number | 'conflict' | 'stale' => {
      if (input.baseGeneration !== undefined && input.baseGeneration !== this.gen) return 'stale';
      // State first: a stale migration read must leave no trace of the rest.
      if (input.state && !this.stateWriter.valid(input.state)) return 'conflict';
      if (input.state?.jobKeys && !this.jobs.keysValid(input.state.jobKeys)) return 'conflict';
      const now = Date.now();
      for (const v of input.newVersions) {
        this.s.insertCapability.run(v.name, input.principal.id, input.principal.name, now);
      }
      for (const v of input.newVersions) {
        this.s.insertVersion.run(
          v.hash,
          v.name,
          v.version,
          JSON.stringify(v.manifest),
          JSON.stringify(v.manifest.dependencies ?? {}),
          v.source,
          v.language,
          v.compiled,
          v.hasMigrate ? 1 : 0,
          v.createdAt,
          v.principal,
        );
        // In the same transaction: a version that declares a shared namespace nobody owns makes
        // its capability's owner the owner (guarantee 8).
        this.grantTable.claim(v.name, Object.keys(v.manifest.state.shared), now);
      }
      for (const { name, hash } of input.setCurrent) {
        if (hash !== null && this.s.versionName.get(hash) !== name) {
          throw fail('NOT_FOUND', `no version ${hash} of ${name}`, { name, hash });
        }
        if (this.s.setCurrent.run(hash, name).changes === 0) {
          throw fail('NOT_FOUND', `no capability ${name}`, { name });
        }
      }
      const generation = input.bumpGeneration ? this.gen + 1 : this.gen;
      if (input.bumpGeneration) this.s.setGeneration.run(String(generation));
      this.s.appendJournal.run(
        generation,
        now,
        input.principal.name,
        JSON.stringify(input.changes),
        JSON.stringify(input.gates),
        mentionedNames(input.changes),
      );
      if (input.state) this.stateWriter.apply(input.state);
      if (input.state?.jobs?.length) this.jobs.insert(input.state.jobs, now);
      if (input.rollout) this.rollouts.put(input.rollout);
      return generation;
    });
  }

  static open(file: string): Store {
    const db = openWritable(file);
    try {
      migrate(db);
      return new Store(file, db);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---- sharing: one kernel per SQLite file (kernel/data-dir.ts locks it), so the stored
  // generation is always the one this kernel committed and every notice is its own ----

  storedGeneration(): number {
    return this.gen;
  }

  adoptGeneration(generation: number): void {
    this.gen = generation;
  }

  publish(channel: 'event', payload: string): void {
    const n: StoreNotice = { channel, payload };
    // Asynchronous like NOTIFY: a listener never runs inside its publisher's call.
    queueMicrotask(() => {
      for (const l of this.listeners) l(n);
    });
  }

  subscribe(listener: (n: StoreNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  tryLock(_name: string): boolean {
    return true;
  }

  unlock(_name: string): void {}

  // ---- graph ----

  generation(): number {
    return this.gen;
  }

  getVersion(hash: string): VersionRecord | undefined {
    const r = this.s.getVersion.get(hash);
    return r ? toVersion(r) : undefined;
  }

  findVersion(name: string, version: string): VersionRecord | undefined {
    const r = this.s.findVersion.get(name, version);
    return r ? toVersion(r) : undefined;
  }

  allVersionMeta(): VersionMeta[] {
    return this.s.allVersionMeta.all().map((r) => ({
      name: r.name,
      version: r.version,
      hash: r.hash,
      dependencies: JSON.parse(r.dependencies) as { [name: string]: string },
      createdAt: r.created_at,
    }));
  }

  capability(name: string): CapabilityRow | undefined {
    const r = this.s.capability.get(name);
    return r ? toCapability(r) : undefined;
  }

  capabilities(): CapabilityRow[] {
    return this.s.capabilities.all().map(toCapability);
  }

  commit(input: CommitInput): number | 'conflict' | 'stale' {
    // BEGIN IMMEDIATE: take the write lock before reading, so the state validation and the writes
    // see the same database.
    const result = this.commitTxn.immediate(input);
    if (typeof result === 'number') this.gen = result;
    return result;
  }

  // ---- journal ----

  history(opts: { name?: string; limit: number; before?: number }): JournalEntry[] {
    const rows = this.s.history.all({
      limit: Math.max(0, Math.floor(opts.limit)),
      before: opts.before ?? Number.MAX_SAFE_INTEGER,
      name: opts.name ?? null,
    });
    return rows.map((r) => ({
      seq: r.seq,
      generation: r.generation,
      at: r.at,
      principal: r.principal,
      // Written by commit() from the same types; the journal is never edited in place.
      changes: JSON.parse(r.changes) as ChangeSummary[],
      gates: JSON.parse(r.gates) as GateResult[],
    }));
  }

  // ---- state ----

  readState(namespace: string, key: string): { value: string; version: number } | undefined {
    return this.stateReader.readState(namespace, key);
  }

  listState(namespace: string, opts: ListOptions): StateRow[] {
    return this.stateReader.listState(namespace, opts);
  }

  namespaceVersion(namespace: string): number {
    return this.stateReader.namespaceVersion(namespace);
  }

  commitState(txn: TxnRecord): 'ok' | 'conflict' {
    return this.commitStateTxn.immediate(txn);
  }

  namespaces(): Array<{ namespace: string; keys: number }> {
    return this.stateReader.namespaces();
  }

  // ---- tokens ----

  createToken(row: { id: string; name: string; role: Role; secretHash: string }): TokenRow {
    return this.tokenTable.create(row);
  }

  tokenBySecretHash(secretHash: string): TokenRow | undefined {
    return this.tokenTable.bySecretHash(secretHash);
  }

  token(id: string): TokenRow | undefined {
    return this.tokenTable.byId(id);
  }

  tokens(): TokenRow[] {
    return this.tokenTable.all();
  }

  revokeToken(id: string): boolean {
    return this.tokenTable.revoke(id);
  }

  // ---- grants ----

  putGrant(row: Omit<GrantRow, 'createdAt' | 'revokedAt'>): GrantRow {
    return this.grantTable.put(row);
  }

  grant(id: string): GrantRow | undefined {
    return this.grantTable.byId(id);
  }

  grants(on?: { kind: GrantKind; target: string }): GrantRow[] {
    return on ? this.grantTable.forTarget(on.kind, on.target) : this.grantTable.all();
  }

  revokeGrant(id: string): boolean {
    return this.grantTable.revoke(id);
  }

  namespaceOwner(namespace: string): NamespaceOwnerRow | undefined {
    return this.grantTable.owner(namespace);
  }

  namespaceOwners(): NamespaceOwnerRow[] {
    return this.grantTable.owners();
  }

  // ---- operations ----

  /** Online backup: pages are copied in steps between which the kernel keeps serving; writes made
   *  meanwhile through this connection are carried into the copy. Restore: see the top comment. */
  async backup(file: string): Promise<void> {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    await this.db.backup(file);
  }
}
