// Hand-built versions and run specs for the sandbox tests: manifests with every default filled in,
// compiled = plain JavaScript module source.

import type { Access, Json, JsonObject, Manifest } from '../capabilities/types.ts';
import type { Links, LogEntry, RunSpec, VersionPayload } from '../sandbox/protocol.ts';
import { SandboxPool } from '../sandbox/pool.ts';
import type { SandboxPoolOptions } from '../sandbox/pool.ts';

export interface VersionOptions {
  version?: string;
  dependencies?: { [name: string]: string };
  shared?: { [ns: string]: Access };
  timeoutMs?: number;
  memoryMb?: number;
  inputSchema?: JsonObject;
  outputSchema?: JsonObject;
}

export class Versions {
  private readonly byHash = new Map<string, VersionPayload>();
  private n = 0;

  /** Registers a version; returns its (made-up, unique) hash. */
  add(name: string, compiled: string, o: VersionOptions = {}): string {
    const version = o.version ?? '1.0.0';
    const hash = `sha256:${name}@${version}#${++this.n}`;
    const manifest: Manifest = {
      name,
      version,
      description: '',
      inputSchema: o.inputSchema,
      outputSchema: o.outputSchema,
      dependencies: o.dependencies ?? {},
      state: { shared: o.shared ?? {} },
      limits: { timeoutMs: o.timeoutMs ?? 5000, memoryMb: o.memoryMb ?? 64 },
      tests: [],
    };
    this.byHash.set(hash, { hash, name, version, manifest, compiled });
    return hash;
  }

  getVersion(hash: string): VersionPayload | undefined {
    return this.byHash.get(hash);
  }
}

let invocations = 0;

export function spec(root: string, input: Json, extra: Partial<RunSpec> = {}): RunSpec {
  return {
    root,
    entry: 'default',
    input,
    invocationId: `inv-${++invocations}`,
    generation: 1,
    links: {} as Links,
    state: { mode: 'scratch', seed: {} },
    ...extra,
  };
}

export function makePool(versions: Versions, opts: Partial<SandboxPoolOptions> = {}): { pool: SandboxPool; logs: LogEntry[]; crashes: number[] } {
  const logs: LogEntry[] = [];
  const crashes: number[] = [];
  const pool = new SandboxPool({
    size: 1,
    dbPath: null,
    versions,
    onLog: (entries) => logs.push(...entries),
    onCrash: (info) => crashes.push(info.pid),
    ...opts,
  });
  return { pool, logs, crashes };
}

export const ECHO = 'export default (input) => input;';
