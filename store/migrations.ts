// The schema of the store and how it moves forward. Each migration is numbered; `PRAGMA user_version`
// records the last one applied. Opening a store applies the missing ones in order, each in its own
// transaction, so an older store is carried forward with its data and never dropped. A store written
// by newer code (a higher user_version than any migration here) is refused rather than guessed at.

import type { Db } from './db.ts';
import { ROLLOUTS_MIGRATION } from './rollouts.ts';

export interface Migration {
  version: number;
  name: string;
  up(db: Db): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    up(db) {
      db.exec(`
        CREATE TABLE capabilities (
          name          TEXT PRIMARY KEY,
          owner_id      TEXT NOT NULL,
          owner_name    TEXT NOT NULL,
          current_hash  TEXT NULL REFERENCES versions(hash),
          created_at    INTEGER NOT NULL
        );

        -- dependencies repeats manifest.dependencies so the graph can be built without parsing
        -- every manifest (and its tests) of every version.
        CREATE TABLE versions (
          hash          TEXT PRIMARY KEY,
          name          TEXT NOT NULL REFERENCES capabilities(name),
          version       TEXT NOT NULL,
          manifest      TEXT NOT NULL,
          dependencies  TEXT NOT NULL,
          source        TEXT NOT NULL,
          language      TEXT NOT NULL,
          compiled      TEXT NOT NULL,
          has_migrate   INTEGER NOT NULL,
          created_at    INTEGER NOT NULL,
          principal     TEXT NOT NULL,
          UNIQUE (name, version)
        );

        CREATE TABLE meta (
          key    TEXT PRIMARY KEY,
          value  TEXT NOT NULL
        );
        INSERT INTO meta (key, value) VALUES ('generation', '0');

        -- names is ',a,b,': the capability names the changes mention, for history(name).
        CREATE TABLE journal (
          seq         INTEGER PRIMARY KEY AUTOINCREMENT,
          generation  INTEGER NOT NULL,
          at          INTEGER NOT NULL,
          principal   TEXT NOT NULL,
          changes     TEXT NOT NULL,
          gates       TEXT NOT NULL,
          names       TEXT NOT NULL
        );
        CREATE INDEX journal_generation ON journal (generation);

        CREATE TABLE state (
          namespace  TEXT NOT NULL,
          key        TEXT NOT NULL,
          value      TEXT NOT NULL,
          version    INTEGER NOT NULL,
          PRIMARY KEY (namespace, key)
        ) WITHOUT ROWID;

        -- Rows are kept after a namespace's last key is deleted: its version must never go back.
        CREATE TABLE state_namespaces (
          namespace  TEXT PRIMARY KEY,
          version    INTEGER NOT NULL
        );

        CREATE TABLE tokens (
          id           TEXT PRIMARY KEY,
          name         TEXT NOT NULL,
          role         TEXT NOT NULL,
          secret_hash  TEXT NOT NULL UNIQUE,
          created_at   INTEGER NOT NULL,
          revoked_at   INTEGER NULL
        );
      `);
    },
  },
  {
    version: 2,
    name: 'grants and shared-namespace owners',
    up(db) {
      db.exec(`
        -- principal: a token id, or 'role:<role>' for every token of that role. kind 'namespace':
        -- target is a shared namespace name, mode 'r' or 'rw'; kind 'http' (issue 13): target is a
        -- destination pattern, methods a JSON array (null = all). Revoked rows are kept.
        CREATE TABLE grants (
          id               TEXT PRIMARY KEY,
          principal        TEXT NOT NULL,
          kind             TEXT NOT NULL,
          target           TEXT NOT NULL,
          mode             TEXT NULL,
          methods          TEXT NULL,
          granted_by       TEXT NOT NULL,
          granted_by_name  TEXT NOT NULL,
          created_at       INTEGER NOT NULL,
          revoked_at       INTEGER NULL
        );
        CREATE INDEX grants_active_target ON grants (kind, target) WHERE revoked_at IS NULL;

        CREATE TABLE namespace_owners (
          namespace   TEXT PRIMARY KEY,
          owner_id    TEXT NOT NULL,
          owner_name  TEXT NOT NULL,
          capability  TEXT NOT NULL,
          created_at  INTEGER NOT NULL
        );

        -- A store from before ownership: the first version (by creation) that declared a namespace
        -- makes its capability's owner the namespace's owner ...
        INSERT OR IGNORE INTO namespace_owners (namespace, owner_id, owner_name, capability, created_at)
          SELECT j.key, c.owner_id, c.owner_name, c.name, v.created_at
          FROM versions v JOIN capabilities c ON c.name = v.name, json_each(v.manifest, '$.state.shared') j
          ORDER BY v.created_at, v.hash;

        -- ... and every other owner whose capabilities declared it keeps the access they had, as a
        -- grant recorded as made by this migration (revocable like any other).
        INSERT INTO grants (id, principal, kind, target, mode, methods, granted_by, granted_by_name, created_at)
          SELECT 'grt_m2_' || lower(hex(randomblob(8))), c.owner_id, 'namespace', j.key, max(j.value), NULL,
                 'migration', 'store migration 2', CAST(unixepoch('subsec') * 1000 AS INTEGER)
          FROM versions v JOIN capabilities c ON c.name = v.name, json_each(v.manifest, '$.state.shared') j
          JOIN namespace_owners o ON o.namespace = j.key
          WHERE o.owner_id <> c.owner_id
          GROUP BY c.owner_id, j.key;
      `);
    },
  },
  {
    version: 3,
    name: 'jobs and schedules',
    up(db) {
      db.exec(`
        -- One row per job (capabilities/jobs.ts has the status machine). input, origin, error and
        -- output are JSON text. dedupe_key: ctx.enqueue's key, unique among pending jobs of a name.
        CREATE TABLE jobs (
          id            TEXT PRIMARY KEY,
          name          TEXT NOT NULL,
          input         TEXT NOT NULL,
          status        TEXT NOT NULL,
          attempt       INTEGER NOT NULL DEFAULT 0,
          run_at        INTEGER NOT NULL,
          scheduled_at  INTEGER NOT NULL,
          dedupe_key    TEXT NULL,
          origin        TEXT NOT NULL,
          created_at    INTEGER NOT NULL,
          started_at    INTEGER NULL,
          finished_at   INTEGER NULL,
          error         TEXT NULL,
          output        TEXT NULL,
          version       TEXT NULL,
          generation    INTEGER NULL
        );
        CREATE INDEX jobs_due ON jobs (run_at) WHERE status IN ('pending', 'failed');
        CREATE UNIQUE INDEX jobs_pending_key ON jobs (name, dedupe_key) WHERE dedupe_key IS NOT NULL AND status = 'pending';
        CREATE INDEX jobs_by_name ON jobs (name, created_at);
        CREATE INDEX jobs_by_status ON jobs (status, created_at);

        -- The last occurrence of each schedule (capability name, index in the manifest) that was
        -- turned into a job; spec is the cron and time zone it was computed for.
        CREATE TABLE schedules (
          name             TEXT NOT NULL,
          idx              INTEGER NOT NULL,
          spec             TEXT NOT NULL,
          last_occurrence  INTEGER NOT NULL,
          PRIMARY KEY (name, idx)
        );
        CREATE TABLE schedule_pauses (
          name       TEXT PRIMARY KEY,
          paused_at  INTEGER NOT NULL,
          paused_by  TEXT NOT NULL
        );
      `);
    },
  },
  {
    version: 4,
    name: 'secrets and the effect journal',
    up(db) {
      db.exec(`
        -- Secrets (store/secrets.ts): the value only as AES-256-GCM ciphertext, its IV and auth tag;
        -- the key is outside the database (kernel/secrets.ts). hosts is a JSON array of patterns.
        CREATE TABLE secrets (
          name        TEXT PRIMARY KEY,
          hosts       TEXT NOT NULL,
          header      TEXT NOT NULL,
          format      TEXT NOT NULL,
          iv          BLOB NOT NULL,
          tag         BLOB NOT NULL,
          ciphertext  BLOB NOT NULL,
          created_at  INTEGER NOT NULL,
          created_by  TEXT NOT NULL
        );

        -- The effect journal (store/effects.ts): one row per request of a call tree, newest the
        -- highest seq. response is the redacted EgressResponse as JSON, null once retention drops it.
        CREATE TABLE effects (
          seq             INTEGER PRIMARY KEY AUTOINCREMENT,
          id              TEXT NOT NULL UNIQUE,
          at              INTEGER NOT NULL,
          invocation_id   TEXT NOT NULL,
          name            TEXT NOT NULL,
          version         TEXT NOT NULL,
          hash            TEXT NOT NULL,
          principal       TEXT NOT NULL,
          principal_name  TEXT NOT NULL,
          method          TEXT NOT NULL,
          url             TEXT NOT NULL,
          final_url       TEXT NOT NULL,
          status          INTEGER NULL,
          error           TEXT NULL,
          request_bytes   INTEGER NOT NULL,
          response_bytes  INTEGER NOT NULL,
          duration_ms     REAL NOT NULL,
          replayed        INTEGER NOT NULL,
          response        TEXT NULL
        );
        CREATE INDEX effects_by_name ON effects (name, seq);
        CREATE INDEX effects_by_invocation ON effects (invocation_id, seq);
        CREATE INDEX effects_by_principal ON effects (principal, seq);
      `);
    },
  },
  {
    version: 5,
    name: 'call records',
    up(db) {
      db.exec(`
        -- Recorded root invocations (store/records.ts): the newest per version hash are kept.
        -- body is the rest of the CallRecord as JSON (input, output or error, reads, egress).
        CREATE TABLE call_records (
          seq            INTEGER PRIMARY KEY,
          id             TEXT NOT NULL,
          at             INTEGER NOT NULL,
          name           TEXT NOT NULL,
          version        TEXT NOT NULL,
          hash           TEXT NOT NULL,
          generation     INTEGER NOT NULL,
          invocation_id  TEXT NOT NULL,
          ok             INTEGER NOT NULL,
          duration_ms    REAL NOT NULL,
          replayable     INTEGER NOT NULL,
          body           TEXT NOT NULL
        );
        CREATE INDEX call_records_by_hash ON call_records (hash, seq);
        CREATE INDEX call_records_by_name ON call_records (name, seq);
      `);
    },
  },
  // Canary rollouts (store/rollouts.ts keeps its schema beside the table's statements).
  ROLLOUTS_MIGRATION,
  {
    version: 7,
    name: 'job leases',
    up(db) {
      db.exec(`
        -- Who runs a running job and until when (issue 17): a kernel renews the leases of the jobs
        -- it runs; a running job whose lease ran out belonged to a kernel that died and is pending
        -- again. NULL on rows that are not running.
        ALTER TABLE jobs ADD COLUMN lease_owner TEXT NULL;
        ALTER TABLE jobs ADD COLUMN lease_until INTEGER NULL;
        CREATE INDEX jobs_running_lease ON jobs (lease_until) WHERE status = 'running';
      `);
    },
  },
];

/** The schema version of the file (0 for a new, empty file). */
export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies the migrations the file lacks, in order, each in one transaction. Returns the schema
 *  version reached. Throws, changing nothing, when the file is newer than `migrations` knows. */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): number {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  sorted.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`store migrations must be numbered 1, 2, 3...; found ${m.version} at position ${i + 1}`);
    }
  });
  const latest = sorted.length;
  const current = schemaVersion(db);
  if (current > latest) {
    throw new Error(
      `the store ${db.name} has schema version ${current}, newer than this Substrate knows (${latest}); ` +
        'it was written by a newer release: upgrade Substrate or restore an older backup',
    );
  }
  for (const m of sorted.slice(current)) {
    db.transaction(() => {
      m.up(db);
      // user_version lives in the file header and is written inside the same transaction.
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
  return latest;
}

/** For read-only openers: refuse a file whose schema this code does not know. */
export function assertKnownSchema(db: Db, migrations: readonly Migration[] = MIGRATIONS): void {
  const v = schemaVersion(db);
  if (v !== migrations.length) {
    throw new Error(`the store ${db.name} has schema version ${v}; this Substrate reads version ${migrations.length}`);
  }
}
