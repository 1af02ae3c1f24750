// The types a capability's author writes against, exported as `substrate/capability`: the manifest
// as written (defaults left out), the `ctx` a call receives, and the errors ctx operations reject
// with. Types only, and no imports, so that any TypeScript project can use it (a capability imports
// it with `import type`, which registration strips like every other type). docs/capabilities.md
// explains each field; tests/capability-types.test.ts keeps these types in step with what the
// kernel accepts (the manifest schema, the error list).

/** A JSON value: what inputs, outputs, state values and test data are. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** The contract's error types: `type` of every error a caller or a capability sees. */
export type ErrorType =
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'VERSION_EXISTS'
  | 'VERSION_NOT_NEWER'
  | 'INVALID_MANIFEST'
  | 'COMPILE_ERROR'
  | 'DEPENDENCY_UNSATISFIED'
  | 'DEPENDENCY_CYCLE'
  | 'DEPENDENTS_EXIST'
  | 'GATE_FAILED'
  | 'MIGRATION_FAILED'
  | 'INVALID_INPUT'
  | 'INVALID_OUTPUT'
  | 'CAPABILITY_ERROR'
  | 'TIMEOUT'
  | 'MEMORY_LIMIT'
  | 'CALL_DEPTH_EXCEEDED'
  | 'UNDECLARED_DEPENDENCY'
  | 'STATE_CONFLICT'
  | 'STATE_FORBIDDEN'
  | 'PAYLOAD_TOO_LARGE'
  | 'OVERLOADED'
  | 'SANDBOX_CRASHED'
  | 'EFFECT_FORBIDDEN'
  | 'EFFECT_FAILED'
  | 'ROLLOUT_ACTIVE'
  | 'REPLAY_FAILED';

/** What a rejected ctx operation throws inside the sandbox (an Error named `SubstrateError`).
 *  Rethrown unchanged, it fails the call with the same type and data; anything else a capability
 *  throws becomes CAPABILITY_ERROR with its message and stack. */
export interface CapabilityError extends Error {
  name: 'SubstrateError';
  type: ErrorType;
  data: { [key: string]: Json };
}

/** One gate test: runs before a change commits, on throwaway state. Give `expect` (the output,
 *  compared as JSON: key order ignored, array order not) or `expectError`, or neither (the test
 *  then only asserts that the call succeeds). */
export interface TestCase {
  name: string;
  input: Json;
  expect?: Json;
  /** The call must fail with this type (and, when given, a message containing `message`). */
  expectError?: { type: ErrorType; message?: string };
  /** Seeds the capability's own namespace. */
  state?: { [key: string]: Json };
  /** Seeds shared namespaces, each granted in `state.shared`. */
  sharedState?: { [namespace: string]: { [key: string]: Json } };
  /** The jobs the call must enqueue, in order (`input` compared when given). Nothing is stored. */
  expectJobs?: Array<{ name: string; input?: Json }>;
  /** Responses to the test's requests: gates never reach the network, and a request no fixture
   *  matches fails the test. */
  http?: HttpFixture[];
}

/** A cron schedule (docs/jobs.md): while the version is current, each occurrence becomes one job
 *  running this capability with `input`. */
export interface Schedule {
  /** Five fields: minute hour day-of-month month day-of-week (`0 7 * * 1-5`). */
  cron: string;
  /** Default null. */
  input?: Json;
  /** An IANA zone the cron is read in. Default `UTC`. */
  timezone?: string;
  /** After downtime: `latest` (default) runs the last missed occurrence, `none` none, `all` each (at most 100). */
  catchUp?: 'latest' | 'none' | 'all';
  /** `skip` (default): an occurrence while an earlier one's job is unfinished is passed over. */
  overlap?: 'skip' | 'allow';
}

/** `export const manifest` as written; the kernel fills in the defaults. Unknown keys are refused. */
export interface Manifest {
  /** Dot-separated lowercase segments (`text.wordcount`), at most 128 characters. */
  name: string;
  /** Canonical semver: `1.2.3`, `2.0.0-beta.1`. */
  version: string;
  /** Default `""`. */
  description?: string;
  /** JSON Schema (draft-07 unless `$schema` says 2019-09 or 2020-12) the input must satisfy. */
  inputSchema?: JsonObject;
  /** JSON Schema the output must satisfy. */
  outputSchema?: JsonObject;
  /** Capability name -> semver range (`^1.0.0`): the only names `ctx.call` may reach. Default `{}`. */
  dependencies?: { [name: string]: string };
  /** Shared namespaces this capability may open with `ctx.state.ns(name)`: read-only or read-write. */
  state?: { shared?: { [namespace: string]: 'r' | 'rw' } };
  limits?: {
    /** Wall-clock deadline of one call, awaiting included: 1 to 60000, default 5000. */
    timeoutMs?: number;
    /** The isolate's heap: 8 to 512, default 64. */
    memoryMb?: number;
  };
  /** Gate tests. Default `[]`. */
  tests?: TestCase[];
  /** Retries of this capability's jobs: attempts 1 to 100 (default 5), the first retry's delay
   *  0 to 3600000 ms (default 1000), doubled per attempt, capped at an hour, ±20% jitter. */
  retry?: { attempts?: number; backoffMs?: number };
  /** At most 10. */
  schedules?: Schedule[];
  /** What `fetch` may reach (docs/effects.md): each entry must lie within a grant of the owner. */
  effects?: {
    /** A destination (`host`, `host:port`, `*.host`, an IP literal) or one with the methods it
     *  allows (absent: all) and the secrets the kernel adds to requests to it. At most 64. */
    http?: Array<string | { host: string; methods?: string[]; secrets?: string[] }>;
    /** Lower than the kernel's: 50 requests per call tree, 6 in flight, request body 1 MiB,
     *  response body 8 MiB. */
    limits?: { requests?: number; inFlight?: number; requestBodyBytes?: number; responseBodyBytes?: number };
  };
  /** False: the kernel keeps no records of this version's calls (no replay of them). */
  record?: boolean;
}

/** A response a gate test's request gets instead of the network (docs/effects.md). */
export interface HttpFixture {
  /** `method` absent: any; `url` compared exactly after URL normalization. */
  request: { method?: string; url: string };
  /** `body`: a string as it is, any other JSON value as its JSON text. Status default 200. */
  response?: { status?: number; headers?: { [name: string]: string }; body?: Json };
}

/** `ctx.invocation`: which call this is. */
export interface Invocation {
  /** The root invocation's id, shared by every nested call of the tree (logs carry it). */
  readonly id: string;
  readonly name: string;
  readonly version: string;
  /** The generation of the graph the tree runs on, from its start to its end. */
  readonly generation: number;
  /** 0 for the root call, 1 for its callees, ... (at most 16 deep). */
  readonly depth: number;
  /** Epoch milliseconds after which this call fails with TIMEOUT. */
  readonly deadline: number;
  /** In the root call of a job's run: the job. `id` is stable across attempts: use it as the
   *  idempotency key of what the job does to the outside world. */
  readonly job?: { readonly id: string; readonly attempt: number; readonly scheduledAt: string };
}

export interface ListOptions {
  /** Only keys starting with this. */
  prefix?: string;
  /** 1 to 1000, default 100. */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string | null;
}

export interface ListPage<T = Json> {
  /** In key order. */
  items: Array<{ key: string; value: T }>;
  /** Pass it back for the next page; null on the last. */
  cursor: string | null;
}

/** One state namespace. Every operation is part of the call tree's transaction: nothing is
 *  written unless the root call succeeds, and a failed nested call's writes are discarded. */
export interface StateApi {
  /** The value, or undefined when the key is absent. */
  get<T = Json>(key: string): Promise<T | undefined>;
  /** `value` must be JSON (not undefined): at most 1 MiB of JSON text; keys at most 512 bytes. */
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  list<T = Json>(options?: ListOptions): Promise<ListPage<T>>;
}

/** `ctx.state`: the capability's own namespace, and the shared ones its manifest grants. */
export interface CapabilityState extends StateApi {
  /** A shared namespace granted in `manifest.state.shared`; else STATE_FORBIDDEN. Writes to an
   *  `"r"` grant reject with STATE_FORBIDDEN. */
  ns(name: string): StateApi;
}

/** The second argument of the default export (the first of `migrate`). Frozen. */
export interface CapabilityContext {
  /** Calls a capability named in `dependencies` (else UNDECLARED_DEPENDENCY) with a JSON input;
   *  resolves to its output or rejects with its typed error. */
  call<O = Json>(name: string, input?: unknown): Promise<O>;
  /** Adds a job running `name` (a declared dependency, or this capability) after this call tree
   *  commits; a failed or re-run tree enqueues nothing. `key` makes it unique among the pending
   *  jobs of that name (the same key resolves to the pending job's id). `delayMs` 0 to 30 days. */
  enqueue(name: string, input?: unknown, options?: { delayMs?: number; key?: string }): Promise<{ jobId: string }>;
  state: CapabilityState;
  /** A log line (arguments formatted like console.log), tagged with the invocation id. */
  log(...args: unknown[]): void;
  invocation: Invocation;
}

/** The default export. Its result must be JSON (undefined becomes null). */
export type Capability<I = Json, O = Json> = (input: I, ctx: CapabilityContext) => O | Promise<O>;

/** `export async function migrate(ctx, from)`: runs on live state when this version becomes
 *  current; `from` is the version that was current before, or null. Throwing refuses the change
 *  (MIGRATION_FAILED). */
export type Migrate = (ctx: CapabilityContext, from: string | null) => void | Promise<void>;
