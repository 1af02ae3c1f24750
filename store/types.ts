// The store's public surface: what the kernel (read-write, the only writer) and the sandbox workers
// (read-only, state reads only) may ask of the SQLite file. Implemented by Store in store/store.ts.

import type { ChangeSummary, GateResult } from '../capabilities/protocol/types.ts';
import type { Access, Json, Principal, Role, VersionRecord } from '../capabilities/types.ts';
import type { TxnRecord } from '../capabilities/run-types.ts';
import type { JobTable } from './jobs.ts';
import type { SecretTable } from './secrets.ts';
import type { EffectTable } from './effects.ts';
import type { RecordTable } from './records.ts';
import type { RolloutRow, RolloutTable } from './rollouts.ts';

export interface CapabilityRow {
  name: string;
  ownerId: string;
  ownerName: string;
  /** Hash of the current version, or null (uploaded but never activated, or removed). */
  current: string | null;
  createdAt: number;
}

export interface VersionMeta {
  name: string;
  version: string;
  hash: string;
  dependencies: { [name: string]: string };
  createdAt: number;
}

export interface JournalEntry {
  /** Position in the journal: strictly increasing, the cursor of history paging. */
  seq: number;
  generation: number;
  at: number;
  principal: string;
  changes: ChangeSummary[];
  gates: GateResult[];
}

export interface StateEntry {
  key: string;
  value: Json;
  version: number;
}

export interface TokenRow {
  id: string;
  name: string;
  role: Role;
  createdAt: number;
  revokedAt: number | null;
}

/** What a grant's target is: a shared namespace, or (issue 13) an egress destination. */
export type GrantKind = 'namespace' | 'http';

/** One grant as stored (store/grants.ts). `principal` is a token id or `role:<role>`. */
export interface GrantRow {
  id: string;
  principal: string;
  kind: GrantKind;
  target: string;
  /** `namespace` grants: the access given. */
  mode: Access | null;
  /** `http` grants: the methods allowed, null = all. */
  methods: string[] | null;
  grantedBy: string;
  grantedByName: string;
  createdAt: number;
  revokedAt: number | null;
}

/** Who owns a shared namespace: the owner of the capability that first declared it. */
export interface NamespaceOwnerRow {
  namespace: string;
  ownerId: string;
  ownerName: string;
  capability: string;
  createdAt: number;
}

/** One committed change to the set of current versions. Applied in ONE SQLite transaction:
 *  insert `newVersions` (and capability rows for names seen first, owned by `principal`), set each
 *  pointer in `setCurrent` (null = removed), bump the generation by one (only when `bumpGeneration`),
 *  append a journal row, and apply `state` (migration writes; validated like an invocation's
 *  transaction). Returns the new generation, or 'conflict' when `state` reads are stale (nothing
 *  is written then). */
export interface CommitInput {
  principal: Principal;
  newVersions: VersionRecord[];
  setCurrent: Array<{ name: string; hash: string | null }>;
  bumpGeneration: boolean;
  changes: ChangeSummary[];
  gates: GateResult[];
  state?: TxnRecord;
  /** A rollout's row as of this commit (its step, or its end): written in the same transaction,
   *  so the stored generation and its traffic split never disagree (store/rollouts.ts). */
  rollout?: RolloutRow;
  /** The generation this change was planned and gated on. When set and the stored generation is
   *  another one (a kernel sharing the store committed meanwhile), nothing is written and commit()
   *  returns 'stale': the caller adopts the stored generation and plans again. */
  baseGeneration?: number;
}


/** A message between kernels sharing one store (PostgreSQL NOTIFY; on SQLite only this kernel
 *  hears its own). `generation`: payload is the new generation's number, sent by commit() inside
 *  its transaction. `event`: a kernel event as JSON (kernel/events.ts), at most NOTICE_MAX_BYTES.
 *  `reconnected`: the store lost its server connection and has it again; notices sent meanwhile
 *  are lost, so a listener catches up from the store (storedGeneration(), history()). */
export type StoreNotice = { channel: 'generation'; payload: string } | { channel: 'event'; payload: string } | { channel: 'reconnected'; payload: '' };

/** PostgreSQL's NOTIFY payload limit is 8000 bytes; kept below it. */
export const NOTICE_MAX_BYTES = 7900;

/** Which engine holds the store. */
export type StoreBackend = 'sqlite' | 'postgres';

export interface StoreApi {
  readonly path: string;
  close(): void;

  // ---- sharing (issue 17: several kernels on one PostgreSQL; SQLite has exactly one kernel) ----
  readonly backend: StoreBackend;
  /** This kernel's id in the store: leases of the jobs it runs, the rollout lock. */
  readonly kernelId: string;
  /** The generation as stored now, read from the database (another kernel may have committed
   *  since generation(), which is the one this kernel last committed or adopted). */
  storedGeneration(): number;
  /** Tells this kernel's store that the kernel adopted `generation` (committed elsewhere). */
  adoptGeneration(generation: number): void;
  /** Sends a notice to every kernel on the store (this one included). */
  publish(channel: 'event', payload: string): void;
  /** Listens for notices; returns the unsubscribe. Listeners run on the event loop. */
  subscribe(listener: (n: StoreNotice) => void): () => void;
  /** A named lock held by this kernel until unlock() or its death (PostgreSQL: a session advisory
   *  lock); SQLite: always true. */
  tryLock(name: string): boolean;
  unlock(name: string): void;

  // ---- graph ----
  generation(): number;
  getVersion(hash: string): VersionRecord | undefined;
  findVersion(name: string, version: string): VersionRecord | undefined;
  /** Every version of every capability, light: enough to build the graph. */
  allVersionMeta(): VersionMeta[];
  capability(name: string): CapabilityRow | undefined;
  capabilities(): CapabilityRow[];
  commit(input: CommitInput): number | 'conflict' | 'stale';

  // ---- journal ----
  /** Newest first. `before` pages by journal seq (exclusive); `name` keeps rows whose changes
   *  mention that capability. */
  history(opts: { name?: string; limit: number; before?: number }): JournalEntry[];

  // ---- state ----
  readState(namespace: string, key: string): { value: string; version: number } | undefined;
  /** Keys in order, starting after `after`; value as JSON text. */
  listState(namespace: string, opts: { prefix?: string; after?: string; limit: number }): Array<{ key: string; value: string; version: number }>;
  /** A namespace's version: grows whenever a key is inserted into or deleted from it. 0 if never. */
  namespaceVersion(namespace: string): number;
  /** Validates reads against current versions and applies writes, in one transaction. */
  commitState(txn: TxnRecord): 'ok' | 'conflict';
  namespaces(): Array<{ namespace: string; keys: number }>;

  // ---- tokens ----
  createToken(row: { id: string; name: string; role: Role; secretHash: string }): TokenRow;
  tokenBySecretHash(secretHash: string): TokenRow | undefined;
  token(id: string): TokenRow | undefined;
  tokens(): TokenRow[];
  revokeToken(id: string): boolean;

  // ---- grants and shared-namespace owners (store/grants.ts); commit() claims namespaces ----
  putGrant(row: Omit<GrantRow, 'createdAt' | 'revokedAt'>): GrantRow;
  grant(id: string): GrantRow | undefined;
  /** Active grants, on one target or all. */
  grants(on?: { kind: GrantKind; target: string }): GrantRow[];
  revokeGrant(id: string): boolean;
  namespaceOwner(namespace: string): NamespaceOwnerRow | undefined;
  namespaceOwners(): NamespaceOwnerRow[];

  // ---- jobs and schedules (store/jobs.ts); commitState() stores what a tree enqueued ----
  readonly jobs: JobTable;

  // ---- secrets (ciphertext only; kernel/secrets.ts holds the key) and the effect journal ----
  readonly secrets: SecretTable;
  readonly effects: EffectTable;
  /** Recorded root invocations per version (store/records.ts). */
  readonly records: RecordTable;
  /** Canary rollouts (store/rollouts.ts); commit() writes a step's row with its generation. */
  readonly rollouts: RolloutTable;

  // ---- operations ----
  /** SQLite online backup to `file` while the kernel runs. */
  backup(file: string): Promise<void>;
}

export type { Json };
