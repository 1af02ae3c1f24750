// The messages between the kernel process and a sandbox worker process, and the shape of one run.
// The kernel never runs capability code; it sends a RunSpec to a worker, which runs the whole call
// tree (root and every nested ctx.call) inside its own isolates and answers with a RunResult that
// carries the tree's state transaction for the kernel to commit.

import type { WireError } from '../capabilities/errors.ts';
import type { Access, Json, Manifest } from '../capabilities/types.ts';
import type { Links, TxnRecord } from '../capabilities/run-types.ts';
import type { JobInfo } from '../capabilities/jobs.ts';
import type { EgressCaller, EgressRequest, EgressResult } from '../capabilities/effects.ts';

// Defined in capabilities/ (shared with store/ and the graph); re-exported for the sandbox's importers.
export type { Links, TxnRecord };

/** Where a run's state reads come from. `live` reads the store (read-only connection of the
 *  worker); `scratch` starts from the seed (gate tests: throwaway state); `replay` serves exactly
 *  the reads of a recorded call (CallRecord.reads: JSON text, null = absent) and nothing else: a
 *  get of a key the record lacks, or any list, reads as absent/empty and marks the result
 *  `unreplayable` (kernel/replay.ts). Writes are never applied by the worker: they come back in the
 *  TxnRecord. Namespace names: a capability's own namespace is its name, a shared one is
 *  `shared:NAME`. */
export type StateMode =
  | { mode: 'live' }
  | { mode: 'scratch'; seed: { [namespace: string]: { [key: string]: Json } } }
  | { mode: 'replay'; reads: Array<[namespace: string, key: string, value: string | null]> };

export interface RunSpec {
  /** Version hash of the root capability. */
  root: string;
  /** `default` runs the default export with `input`; `migrate` runs `migrate(ctx, from)` where
   *  `input` is `{ from: string | null }` (the previous current version, if any). */
  entry: 'default' | 'migrate';
  input: Json;
  invocationId: string;
  generation: number;
  links: Links;
  state: StateMode;
  /** Absolute deadline (epoch ms). Default: now + the root manifest's limits.timeoutMs. */
  deadline?: number;
  /** Set on the runs of gate tests (an optional addition): every log entry of the tree carries it,
   *  so test traffic is never mistaken for live traffic. Absent: a live run. */
  origin?: RunOrigin;
  /** The kernel's grants as they stand for this run (an optional addition): for each version hash
   *  of the tree that declares shared namespaces, the access its owner holds now on each of them,
   *  null where the grant is missing (revoked). Grants change without a version changing, so they
   *  travel with the run, not with the (content-addressed, cached) payload. When set, it is the
   *  only source: a hash without an entry opens no shared namespace. Absent (gate tests, on
   *  throwaway state): the manifest's declarations as they are. */
  shared?: SharedAccess;
  /** Set on a job's run: what ctx.invocation.job says in the root call (docs/jobs.md). */
  job?: JobInfo;
}

export type SharedAccess = { [hash: string]: { [namespace: string]: Access | null } };

/** Which gate test a run is: `dryRun` when the changeset is only being tried (nothing commits). */
export interface RunOrigin {
  /** `replay`: a recorded call run again before a commit (kernel/replay.ts; `test` names the record). */
  kind: 'gate' | 'dryRun' | 'replay';
  /** The capability whose test it is (the tree's root; a log entry may name a dependency). */
  capability: string;
  version: string;
  test: string;
}


/** `unreplayable` (replay state mode only): the run read something its record does not hold (the
 *  first such read, e.g. "state.get of text.count key \"a\""), so its outcome says nothing. */
export type RunResult =
  | { ok: true; output: Json; durationMs: number; txn: TxnRecord; unreplayable?: string }
  | { ok: false; error: WireError; durationMs: number; unreplayable?: string };

/** What the kernel hands a worker that asks for a version it has not seen. Content-addressed:
 *  a worker may cache it by hash forever. */
export interface VersionPayload {
  hash: string;
  name: string;
  version: string;
  manifest: Manifest;
  compiled: string;
}

export interface Inspection {
  manifest: Json | undefined;
  hasDefault: boolean;
  hasMigrate: boolean;
}

export interface LogEntry {
  invocationId: string;
  name: string;
  version: string;
  level: 'log' | 'info' | 'warn' | 'error' | 'debug';
  message: string;
  at: number;
  /** The run's origin (RunSpec.origin); absent for live runs. */
  origin?: RunOrigin;
}

// ---- wire messages (process.send); several may be batched into one array per tick ----

export type ToWorker =
  /** `egress` (an optional addition): the run has an egress hook (pool.ts RunHooks), so its
   *  fetches go to the kernel as `fetch` messages; absent, every fetch is EFFECT_FORBIDDEN. */
  | { t: 'run'; id: number; spec: RunSpec; egress?: boolean }
  /** The kernel's answer to a `fetch` of run `id` (its `req`). */
  | { t: 'fetched'; id: number; req: number; result: EgressResult }
  /** `memoryMb` (an optional addition): the limit the version is expected to run with; the worker
   *  builds the inspection isolate with it so that the first run of this code can adopt it. */
  | { t: 'inspect'; id: number; code: string; memoryMb?: number }
  | { t: 'version'; hash: string; payload: VersionPayload | null }
  | { t: 'retire'; hashes: string[] }
  | { t: 'shutdown' };

export type FromWorker =
  | { t: 'ready'; pid: number }
  /** `isolates`: how many isolates the worker holds after this run (an optional addition). */
  | { t: 'done'; id: number; result: RunResult; rss: number; isolates?: number }
  | { t: 'inspected'; id: number; ok: true; inspection: Inspection }
  | { t: 'inspected'; id: number; ok: false; error: WireError }
  | { t: 'need'; hash: string }
  /** A request of run `id` (numbered `req` within the worker) for the kernel to make. */
  | { t: 'fetch'; id: number; req: number; caller: EgressCaller; request: EgressRequest }
  | { t: 'log'; entries: LogEntry[] };
