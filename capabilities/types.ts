// The plain data of the capability model, shared by every part of Substrate. No behaviour here.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** One `effects.http` entry after normalization: a destination pattern (`host`, `host:port`,
 *  `*.host`, an IP literal, `[v6]:port`), the methods allowed (absent: all) and the secrets the
 *  kernel may inject on requests to it. */
export interface HttpEffect {
  host: string;
  methods?: string[];
  secrets?: string[];
}

/** `manifest.effects` after normalization: present only when the manifest declares it. */
export interface Effects {
  http: HttpEffect[];
  /** Lower than the kernel's (capabilities/effects.ts EFFECT_LIMITS); only where given. */
  limits?: { requests?: number; inFlight?: number; requestBodyBytes?: number; responseBodyBytes?: number };
}

/** One `http` fixture of a gate test: the response a request gets instead of the network. */
export interface HttpFixture {
  request: { method?: string; url: string };
  /** `body`: a string is sent as it is; any other JSON value as its JSON text. */
  response: { status?: number; headers?: { [name: string]: string }; body?: Json };
}

export type Access = 'r' | 'rw';
export type Language = 'js' | 'ts';
export type Role = 'operator' | 'agent' | 'client';

/** One gate test of a manifest. `state` seeds the capability's own namespace on throwaway state;
 *  `sharedState` seeds granted shared namespaces. `expectError` expects a typed error instead. */
export interface TestCase {
  name: string;
  input: Json;
  expect?: Json;
  expectError?: { type: string; message?: string };
  state?: { [key: string]: Json };
  sharedState?: { [namespace: string]: { [key: string]: Json } };
  /** The jobs the call must enqueue (name, and input when given), in order (docs/jobs.md). */
  expectJobs?: Array<{ name: string; input?: Json }>;
  /** Responses the test's requests get instead of the network (docs/effects.md). */
  http?: HttpFixture[];
}

/** A manifest after validation, with every default filled in. */
export interface Manifest {
  name: string;
  version: string;
  description: string;
  inputSchema?: JsonObject;
  outputSchema?: JsonObject;
  dependencies: { [name: string]: string };
  state: { shared: { [namespace: string]: Access } };
  limits: { timeoutMs: number; memoryMb: number };
  tests: TestCase[];
  /** Retries of this capability's jobs; absent means the contract's defaults (capabilities/jobs.ts). */
  retry?: { attempts: number; backoffMs: number };
  /** Cron schedules, active while this version is current (docs/jobs.md). */
  /** Egress this version may make (docs/effects.md); absent: none. */
  effects?: Effects;
  /** False: the kernel keeps no records of this version's calls (docs/evaluation.md). */
  record?: boolean;
  schedules?: Array<{ cron: string; input: Json; timezone: string; catchUp: 'latest' | 'none' | 'all'; overlap: 'skip' | 'allow' }>;
}

/** One immutable version as stored. `compiled` is the JavaScript module the sandbox runs. */
export interface VersionRecord {
  name: string;
  version: string;
  hash: string;
  manifest: Manifest;
  source: string;
  language: Language;
  compiled: string;
  hasMigrate: boolean;
  createdAt: number;
  principal: string;
}

/** Who is acting: a token's principal, or the local process itself. */
export interface Principal {
  id: string;
  name: string;
  role: Role;
}

export const LOCAL_OPERATOR: Principal = { id: 'local', name: 'local', role: 'operator' };

/** Kernel-wide limits of the contract. */
export const KERNEL_LIMITS = {
  maxDepth: 16,
  maxPayloadBytes: 1024 * 1024,
  maxStateValueBytes: 1024 * 1024,
  maxStateKeyBytes: 512,
  defaultTimeoutMs: 5000,
  maxTimeoutMs: 60_000,
  defaultMemoryMb: 64,
  maxMemoryMb: 512,
  maxConflictReruns: 5,
  /** Gate tests one version may declare (docs/decisions.md, "Limits"). */
  maxTestsPerVersion: 100,
  /** Distinct state keys one transaction (a call tree, or a changeset's migrations) may write. */
  maxTxnRows: 10_000,
} as const;
