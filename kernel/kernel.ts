// The kernel: owns the current generation (an immutable Graph replaced wholesale at each commit),
// turns registrations and changesets into validated, gated, migrated commits, and runs invocations
// pinned to the generation they started on. All writes to the store happen here, in this process;
// all capability code runs in the sandbox pool.
// Over 500 lines for now: the log buffer is its own file (log-buffer.ts); lifecycle, queries,
// invocation and the commit pipeline are still here — the rest of #11's split, left open (see the
// issue's note).

import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import path from 'node:path';
import { nanoid } from 'nanoid';
import semver from 'semver';
import { fail, SubstrateError } from '../capabilities/errors.ts';
import type { Json, JsonObject, Language, Principal, VersionRecord } from '../capabilities/types.ts';
import { checkTextDepth } from '../capabilities/json-limits.ts';
import { KERNEL_LIMITS } from '../capabilities/types.ts';
import { Graph, type GraphVersion } from '../capabilities/graph.ts';
import { planChangeset, selectGateTests, type Plan, type PlannedChange } from '../capabilities/changeset.ts';
import { parseManifest } from '../capabilities/manifest.ts';
import { contentHash } from '../capabilities/hash.ts';
import { compileSource } from '../capabilities/compile.ts';
import { assertName } from '../capabilities/names.ts';
import { Store } from '../store/store.ts';
import type { StoreApi } from '../store/types.ts';
import { SandboxPool } from '../sandbox/pool.ts';
import { checkManifestSchemas, warmSchemaCompiler } from '../sandbox/schema-compiler.ts';
import { checkTxnRows } from '../sandbox/transaction.ts';
import type { Links, LogEntry, TxnRecord, VersionPayload } from '../sandbox/protocol.ts';
import type {
  ApplyParams,
  ApplyResult,
  ChangeParams,
  ChangeSummary,
  DescribeParams,
  DescribeResult,
  GateResult,
  GraphEdge,
  GraphNode,
  GraphParams,
  GraphResult,
  HistoryParams,
  HistoryResult,
  ImpactResult,
  InvokeParams,
  InvokeResult,
  KernelEvent,
  KernelInfo,
  ListParams,
  ListResult,
  LogsParams,
  LogsResult,
  RegisterParams,
  RegisterResult,
  RollbackParams,
  RollbackResult,
  StateGetResult,
  StateListParams,
  StateListResult,
} from './api.ts';
import { gateKey, MAX_GATE_MS_PER_CHANGESET, MAX_GATE_ROUNDS, runGates, throwIfGatesFailed } from './gates.ts';
import { GrantRules, type Owner } from './grants.ts';
import { KeyLocks, lockKey } from './key-locks.ts';
import { STORE_FILE } from './data-dir.ts';
import { LogBuffer } from './log-buffer.ts';
import { KERNEL_VERSION } from './version.ts';

export interface KernelOptions {
  dataDir: string;
  /** Sandbox worker processes; default one per CPU. */
  workers?: number;
  maxCallsPerWorker?: number;
  maxRssMb?: number;
  maxIsolatesPerWorker?: number;
  /** Gate tests run at most this many at once. */
  gateConcurrency?: number;
  /** Time all gates of one changeset may take; default MAX_GATE_MS_PER_CHANGESET (gates.ts). */
  gateBudgetMs?: number;
  logBuffer?: number;
}

// Defined beside ProgressEvent in api.ts so gates.ts needs nothing from this file (no cycle).
export type { ProgressFn } from './api.ts';
import type { ProgressFn } from './api.ts';


/** A register change once compiled, inspected and hashed: ready to plan. */
interface PreparedVersion {
  record: VersionRecord;
  existing: boolean;
  activate: boolean;
}

export class Kernel {
  readonly events = new EventEmitter();
  readonly store: StoreApi;
  readonly pool: SandboxPool;
  readonly dataDir: string;
  /** Shared namespaces: owners, grants, and what a call may open (kernel/grants.ts). */
  readonly grants: GrantRules;
  private graph: Graph;
  private generation: number;
  private readonly startedAt = Date.now();
  /** Links per root hash, for the current graph only; replaced with the graph. */
  private links = new Map<string, Links>();
  /** Versions of a changeset being validated: visible to the sandbox, not yet in the store. */
  private readonly pending = new Map<string, VersionRecord>();
  /** Changesets in flight holding each pending version (gates run concurrently, outside the lock). */
  private readonly pendingRefs = new Map<string, number>();
  private readonly payloads = new Map<string, VersionPayload>();
  /** Changesets commit one at a time (migrations and the store commit, not gates); invocations
   *  never wait for this. */
  private changeQueue: Promise<unknown> = Promise.resolve();
  private readonly logs: LogBuffer;
  private readonly locks = new KeyLocks();
  private reruns = 0;
  private readonly gateConcurrency: number;
  private readonly gateBudgetMs: number;
  private closed = false;

  private constructor(store: StoreApi, pool: SandboxPool, dataDir: string, opts: KernelOptions) {
    this.store = store;
    this.pool = pool;
    this.dataDir = dataDir;
    this.generation = store.generation();
    this.graph = buildGraph(store);
    this.grants = new GrantRules(store, (hash) => this.payload(hash));
    this.logs = new LogBuffer(opts.logBuffer ?? 10_000);
    this.gateConcurrency = opts.gateConcurrency ?? 4;
    this.gateBudgetMs = opts.gateBudgetMs ?? MAX_GATE_MS_PER_CHANGESET;
    this.events.setMaxListeners(0);
  }

  static async open(opts: KernelOptions): Promise<Kernel> {
    const dataDir = path.resolve(opts.dataDir);
    const dbPath = path.join(dataDir, STORE_FILE);
    const store = Store.open(dbPath);
    let kernel: Kernel | undefined;
    const pool = new SandboxPool({
      size: opts.workers,
      dbPath,
      versions: { getVersion: (hash) => kernel?.payload(hash) },
      maxCallsPerWorker: opts.maxCallsPerWorker,
      maxRssMb: opts.maxRssMb,
      maxIsolatesPerWorker: opts.maxIsolatesPerWorker,
      onLog: (entries) => kernel?.recordLogs(entries),
      // The worker's own stderr is for the operator only: callers get sandbox/crash-report.ts.
      onCrash: (c) => process.stderr.write(`substrate: sandbox worker ${c.pid} died (${c.reason}); the end of its stderr:\n${c.stderrTail.slice(-2048)}\n`),
    });
    kernel = new Kernel(store, pool, dataDir, opts);
    warmSchemaCompiler();
    try {
      await pool.start();
    } catch (e) {
      store.close();
      throw e;
    }
    return kernel;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
    this.store.close();
  }

  // ---------------------------------------------------------------- reading

  info(): KernelInfo {
    return {
      version: KERNEL_VERSION,
      generation: this.generation,
      uptimeMs: Date.now() - this.startedAt,
      capabilities: this.graph.currentHashes().size,
    };
  }

  currentGeneration(): number {
    return this.generation;
  }

  /** The current graph (immutable): MCP and the server read it without copying. */
  currentGraph(): Graph {
    return this.graph;
  }

  list(params: ListParams = {}): ListResult {
    const limit = clampLimit(params.limit, 100, 1000);
    const prefix = params.prefix ?? '';
    const rows = this.store.capabilities().filter((c) => c.name.startsWith(prefix) && (!params.cursor || c.name > params.cursor));
    const page = rows.slice(0, limit);
    return {
      items: page.map((c) => {
        const cur = c.current ? this.graph.version(c.current) : undefined;
        const versions = this.graph.versionsOf(c.name).map((v) => v.version);
        const described = cur ?? this.graph.versionsOf(c.name).at(-1);
        return {
          name: c.name,
          current: cur?.version ?? null,
          versions,
          description: described ? this.manifestOf(described.hash).description : '',
        };
      }),
      nextCursor: rows.length > limit ? page[page.length - 1].name : null,
    };
  }

  describe(params: DescribeParams): DescribeResult {
    const v = this.lookup(params.name, params.version);
    const rec = this.recordOf(v.hash);
    const cap = this.store.capability(v.name);
    return {
      name: v.name,
      version: v.version,
      hash: v.hash,
      current: this.graph.current(v.name)?.hash === v.hash,
      manifest: rec.manifest,
      source: rec.source,
      language: rec.language,
      dependencies: Object.entries(rec.manifest.dependencies).map(([dep, range]) => ({
        name: dep,
        range,
        resolved: this.graph.resolve(v.hash, dep)?.version ?? null,
      })),
      dependents: this.graph.dependents(v.name),
      owner: cap?.ownerName ?? rec.principal,
      createdAt: new Date(rec.createdAt).toISOString(),
    };
  }

  history(params: HistoryParams = {}): HistoryResult {
    const limit = clampLimit(params.limit, 50, 1000);
    const before = params.cursor !== undefined ? Number(params.cursor) : undefined;
    if (before !== undefined && !Number.isInteger(before)) throw fail('NOT_FOUND', `bad history cursor '${params.cursor}'`, { cursor: params.cursor });
    const rows = this.store.history({ name: params.name, limit: limit + 1, before });
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => ({
        generation: r.generation,
        at: new Date(r.at).toISOString(),
        principal: r.principal,
        changes: r.changes as unknown as ChangeSummary[],
        gates: r.gates as unknown as GateResult[],
      })),
      nextCursor: rows.length > limit ? String(page[page.length - 1].seq) : null,
    };
  }

  graphView(params: GraphParams = {}): GraphResult {
    const g = this.graph;
    let nodes = g.nodes();
    let edges = g.edges();
    if (params.root !== undefined) {
      const root = g.current(params.root);
      if (!root) throw fail('NOT_FOUND', `no current capability '${params.root}'`, { name: params.root });
      const maxDepth = params.depth ?? Infinity;
      const keep = new Set<string>([root.hash]);
      let frontier = [root.hash];
      for (let d = 0; d < maxDepth && frontier.length; d++) {
        const next: string[] = [];
        for (const h of frontier) {
          for (const dep of Object.keys(g.version(h)?.dependencies ?? {})) {
            const r = g.resolve(h, dep);
            if (r && !keep.has(r.hash)) {
              keep.add(r.hash);
              next.push(r.hash);
            }
          }
        }
        frontier = next;
      }
      nodes = nodes.filter((n) => keep.has(n.hash));
      const keepKeys = new Set(nodes.map((n) => `${n.name}@${n.version}`));
      edges = edges.filter((e) => keepKeys.has(`${e.fromName}@${e.fromVersion}`));
    }
    const outNodes: GraphNode[] = nodes.map((n) => ({
      kind: 'capability',
      name: n.name,
      version: n.version,
      current: n.current,
      description: this.manifestOf(n.hash).description,
    }));
    const outEdges: GraphEdge[] = edges.map((e) => ({
      kind: 'call',
      from: e.fromName,
      fromVersion: e.fromVersion,
      to: e.to,
      range: e.range,
      resolved: e.resolved,
    }));
    // State namespaces: shared grants from manifests, and own namespaces that hold keys.
    const populated = new Set(this.store.namespaces().map((n) => n.namespace));
    const nsNodes = new Set<string>();
    for (const n of nodes) {
      const m = this.manifestOf(n.hash);
      if (populated.has(n.name)) {
        nsNodes.add(n.name);
        outEdges.push({ kind: 'state', from: n.name, fromVersion: n.version, to: n.name, access: 'rw', range: null, resolved: null });
      }
      for (const [ns, access] of Object.entries(m.state.shared)) {
        nsNodes.add(`shared:${ns}`);
        outEdges.push({ kind: 'state', from: n.name, fromVersion: n.version, to: `shared:${ns}`, access, range: null, resolved: null });
      }
    }
    for (const ns of [...nsNodes].sort()) outNodes.push({ kind: 'namespace', name: ns, version: null });
    return { generation: this.generation, nodes: outNodes, edges: outEdges };
  }

  impact(name: string): ImpactResult {
    assertName(name);
    const g = this.graph;
    if (!g.current(name) && g.versionsOf(name).length === 0) throw fail('NOT_FOUND', `no capability '${name}'`, { name });
    const dependents = g.dependents(name);
    const tests: ImpactResult['tests'] = [];
    for (const n of [name, ...dependents]) {
      const cur = g.current(n);
      if (!cur) continue;
      for (const t of this.manifestOf(cur.hash).tests) tests.push({ capability: n, version: cur.version, test: t.name });
    }
    return { name, dependents, tests };
  }

  stateGet(namespace: string, key: string): StateGetResult {
    const row = this.store.readState(namespace, key);
    if (!row) throw fail('NOT_FOUND', `no key '${key}' in namespace '${namespace}'`, { namespace, key });
    return { namespace, key, value: storedValue(namespace, key, row.value), version: row.version };
  }

  stateList(params: StateListParams): StateListResult {
    const limit = clampLimit(params.limit, 100, 1000);
    const rows = this.store.listState(params.namespace, { prefix: params.prefix, after: params.cursor, limit: limit + 1 });
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => ({ key: r.key, value: storedValue(params.namespace, r.key, r.value), version: r.version })),
      nextCursor: rows.length > limit ? page[page.length - 1].key : null,
    };
  }

  /** `visible`: which capabilities' lines the caller may see (kernel/log-access.ts). */
  recentLogs(params: LogsParams = {}, visible?: (name: string) => boolean): LogsResult {
    return this.logs.recent(params, visible);
  }

  async backup(file: string): Promise<{ file: string; bytes: number }> {
    const target = path.resolve(file);
    await this.store.backup(target);
    return { file: target, bytes: statSync(target).size };
  }

  // ---------------------------------------------------------------- invoking

  async invoke(params: InvokeParams): Promise<InvokeResult> {
    const started = performance.now();
    // Pin the generation: the graph object is immutable, so everything below resolves against
    // the generation current at this instant, whatever commits meanwhile.
    const graph = this.graph;
    const generation = this.generation;
    const root = params.version !== undefined ? graph.find(params.name, params.version) : graph.current(params.name);
    if (!root) {
      if (params.version !== undefined) {
        throw fail('NOT_FOUND', `no version ${params.version} of '${params.name}'`, { name: params.name, version: params.version });
      }
      throw fail('NOT_FOUND', `no current capability '${params.name}'`, { name: params.name });
    }
    const links = this.linksFor(graph, root.hash);
    const access = this.grants.runAccess(links);
    const invocationId = nanoid(12);
    let holder = 0;
    try {
      for (let attempt = 0; ; attempt++) {
        const result = await this.pool.run({
          root: root.hash,
          entry: 'default',
          input: params.input === undefined ? null : params.input,
          invocationId,
          generation,
          links,
          state: { mode: 'live' },
          shared: access.shared,
        });
        if (!result.ok) throw SubstrateError.fromWire(result.error);
        this.grants.checkTxn(access, result.txn);
        if (this.commitTxn(result.txn, holder) === 'ok') {
          return {
            output: result.output,
            name: root.name,
            version: root.version,
            generation,
            invocationId,
            durationMs: Math.round((performance.now() - started) * 1000) / 1000,
          };
        }
        if (attempt >= KERNEL_LIMITS.maxConflictReruns) {
          throw fail('STATE_CONFLICT', `state conflict: ${params.name} was re-run ${attempt} times and still conflicted`, {
            name: root.name,
            reruns: attempt,
          });
        }
        // Lost a conflict: re-run holding the keys it touched (see key-locks.ts).
        this.reruns++;
        holder ||= this.locks.newHolder();
        await this.locks.acquire(footprint(result.txn), holder);
      }
    } finally {
      if (holder) this.locks.release(holder);
    }
  }

  /** Re-runs caused by state conflicts since start (benchmarks and docs/state.md read it). */
  rerunCount(): number {
    return this.reruns;
  }

  private commitTxn(txn: TxnRecord, holder: number): 'ok' | 'conflict' {
    checkTxnRows(txn.writes.length);
    if (txn.writes.length === 0 && txn.reads.length <= 1 && txn.nsReads.length === 0) return 'ok'; // one read is trivially consistent
    if (this.locks.size > 0) {
      for (const [ns, key] of txn.writes) if (this.locks.lockedByOther(lockKey(ns, key), holder)) return 'conflict';
    }
    return this.store.commitState(txn);
  }

  private linksFor(graph: Graph, hash: string): Links {
    if (graph !== this.graph) return graph.links(hash);
    let l = this.links.get(hash);
    if (!l) {
      l = graph.links(hash);
      if (this.links.size > 10_000) this.links.clear();
      this.links.set(hash, l);
    }
    return l;
  }

  // ---------------------------------------------------------------- changing

  async register(principal: Principal, params: RegisterParams, onProgress?: ProgressFn): Promise<RegisterResult> {
    const change: ChangeParams = { op: 'register', source: params.source, manifest: params.manifest, language: params.language, activate: params.activate };
    {
      const { prepared, planned } = await this.prepare(principal, [change], 'register');
      const p = prepared[0];
      const res = await this.applyPrepared(principal, planned, prepared, false, onProgress);
      return {
        name: p.record.name,
        version: p.record.version,
        hash: p.record.hash,
        activated: this.graph.current(p.record.name)?.hash === p.record.hash,
        generation: res.generation,
        gates: res.gates,
      };
    }
  }

  async apply(principal: Principal, params: ApplyParams, onProgress?: ProgressFn): Promise<ApplyResult> {
    if (!Array.isArray(params.changes) || params.changes.length === 0) {
      throw fail('INVALID_MANIFEST', 'a changeset needs at least one change', { changes: 0 });
    }
    const { prepared, planned } = await this.prepare(principal, params.changes, 'apply');
    return this.applyPrepared(principal, planned, prepared, params.dryRun === true, onProgress);
  }

  async rollback(principal: Principal, params: RollbackParams, onProgress?: ProgressFn): Promise<RollbackResult> {
    {
      assertName(params.name);
      this.checkOwner(principal, params.name);
      const cur = this.graph.current(params.name);
      let target: string | undefined = params.to;
      if (target === undefined) target = this.previousVersion(params.name, cur?.version ?? null);
      if (target === undefined) {
        throw fail('NOT_FOUND', `'${params.name}' has no earlier version to roll back to`, { name: params.name });
      }
      if (!this.graph.find(params.name, target)) {
        throw fail('NOT_FOUND', `no version ${target} of '${params.name}'`, { name: params.name, version: target });
      }
      const planned: PlannedChange[] = [{ op: 'activate', name: params.name, version: target }];
      const res = await this.applyPrepared(principal, planned, [], false, onProgress, true);
      return { name: params.name, version: target, generation: res.generation };
    }
  }

  async remove(principal: Principal, name: string): Promise<{ name: string; generation: number }> {
    assertName(name);
    this.checkOwner(principal, name);
    const res = await this.applyPrepared(principal, [{ op: 'remove', name }], [], false, undefined);
    return { name, generation: res.generation };
  }

  /** The version that was current before `current` became current, from the journal. */
  private previousVersion(name: string, current: string | null): string | undefined {
    let cursor: number | undefined;
    for (;;) {
      const rows = this.store.history({ name, limit: 200, before: cursor });
      for (const row of rows) {
        for (const c of row.changes as unknown as ChangeSummary[]) {
          if (c.name !== name) continue;
          if (current === null && c.op === 'remove' && c.previous) return c.previous;
          if (c.activated && c.version === current && c.previous && c.previous !== current) return c.previous;
        }
      }
      if (rows.length < 200) return undefined;
      cursor = rows[rows.length - 1].seq;
    }
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.changeQueue.then(fn, fn);
    this.changeQueue = run.catch(() => undefined);
    return run;
  }

  private checkOwner(principal: Principal, name: string): void {
    if (principal.role === 'operator') return;
    const cap = this.store.capability(name);
    if (cap && cap.ownerId !== principal.id) {
      throw fail('FORBIDDEN', `'${name}' is owned by ${cap.ownerName}; only its owner or an operator may change it`, {
        name,
        owner: cap.ownerName,
      });
    }
  }

  /** Compiles, inspects and hashes every register change; checks ownership and versions. */
  private async prepare(principal: Principal, changes: ChangeParams[], via: 'register' | 'apply') {
    const prepared: PreparedVersion[] = [];
    const planned: PlannedChange[] = [];
    const claims = new Map<string, Owner>();
    for (const change of changes) {
      if (change.op === 'register') {
        const p = await this.prepareVersion(principal, change.source, change.manifest, change.language, change.activate ?? true, claims);
        if (via === 'register' && p.activate) {
          const cur = this.graph.current(p.record.name);
          if (cur && cur.hash !== p.record.hash && semver.lt(p.record.version, cur.version)) {
            throw fail('VERSION_NOT_NEWER', `${p.record.name} ${p.record.version} is older than the current ${cur.version}; upload it with activate: false, or use rollback`, {
              name: p.record.name,
              version: p.record.version,
              current: cur.version,
            });
          }
        }
        prepared.push(p);
        planned.push({ op: 'register', version: toGraphVersion(p.record), activate: p.activate });
      } else if (change.op === 'activate') {
        assertName(change.name);
        this.checkOwner(principal, change.name);
        planned.push({ op: 'activate', name: change.name, version: change.version });
      } else if (change.op === 'remove') {
        assertName(change.name);
        this.checkOwner(principal, change.name);
        planned.push({ op: 'remove', name: change.name });
      } else {
        throw fail('INVALID_MANIFEST', `unknown change op '${(change as { op: unknown }).op}'`, { op: (change as { op: unknown }).op as Json });
      }
    }
    return { prepared, planned };
  }

  private async prepareVersion(principal: Principal, source: string, manifestIn: JsonObject | undefined, language: Language | undefined, activate: boolean, claims: Map<string, Owner>): Promise<PreparedVersion> {
    if (typeof source !== 'string' || source.length === 0) throw fail('COMPILE_ERROR', 'source is empty', {});
    if (Buffer.byteLength(source) > KERNEL_LIMITS.maxPayloadBytes) {
      throw fail('PAYLOAD_TOO_LARGE', 'source is larger than 1 MiB', { what: 'source', limit: KERNEL_LIMITS.maxPayloadBytes });
    }
    const lang: Language = language ?? 'js';
    const compiled = compileSource(source, lang);
    // The module is evaluated only in the sandbox, never here: that is where an in-source
    // manifest is read and where the default export is checked.
    // The worker keeps the inspection's isolate for the first run when the memory limit matches:
    // tell it the limit a manifest sent beside the source asks for (in-source ones get the default).
    const limits = manifestIn?.limits;
    const memoryMb = limits && typeof limits === 'object' && !Array.isArray(limits) && typeof limits.memoryMb === 'number' ? limits.memoryMb : undefined;
    const inspection = await this.pool.inspect(compiled, { memoryMb });
    const raw = manifestIn ?? inspection.manifest;
    if (raw === undefined || raw === null) {
      throw fail('INVALID_MANIFEST', 'no manifest: export `const manifest = {...}` from the module or send `manifest` beside the source', { field: 'manifest' });
    }
    const manifest = parseManifest(raw, { compileSchemas: false });
    await checkManifestSchemas(manifest);
    if (!inspection.hasDefault) {
      throw fail('COMPILE_ERROR', 'the module has no default export function', { name: manifest.name, line: null, column: null });
    }
    this.checkOwner(principal, manifest.name);
    this.grants.checkDeclaration(this.grants.ownerOf(manifest.name) ?? principal, manifest, claims);
    const hash = contentHash(manifest, source);
    const existing = this.store.findVersion(manifest.name, manifest.version) ?? this.pendingVersion(manifest.name, manifest.version);
    if (existing && existing.hash !== hash) {
      throw fail('VERSION_EXISTS', `${manifest.name} ${manifest.version} is already registered with different content; bump the version`, {
        name: manifest.name,
        version: manifest.version,
        hash: existing.hash,
      });
    }
    const record: VersionRecord = existing ?? {
      name: manifest.name,
      version: manifest.version,
      hash,
      manifest,
      source,
      language: lang,
      compiled,
      hasMigrate: inspection.hasMigrate,
      createdAt: Date.now(),
      principal: principal.name,
    };
    return { record, existing: existing !== undefined, activate };
  }

  private pendingVersion(name: string, version: string): VersionRecord | undefined {
    for (const r of this.pending.values()) if (r.name === name && r.version === version) return r;
    return undefined;
  }

  /** Plans and gates outside the commit lock, then re-validates, migrates and commits under it
   *  (serialize). When another changeset committed meanwhile, the plan is made again on the new
   *  graph; gate results whose test and resolved versions are unchanged are reused (gates.ts
   *  gateKey), the others run again outside the lock. So one changeset's long gates never hold up
   *  another's commit (docs/upgrades.md, "Concurrent changesets"). */
  private async applyPrepared(
    principal: Principal,
    planned: PlannedChange[],
    prepared: PreparedVersion[],
    dryRun: boolean,
    onProgress: ProgressFn | undefined,
    rollback = false,
  ): Promise<ApplyResult> {
    // Not stored yet (another changeset in flight may have prepared the same version: each holds it).
    const fresh = [...new Map(prepared.filter((p) => !this.store.getVersion(p.record.hash)).map((p) => [p.record.hash, p.record])).values()];
    for (const r of fresh) {
      this.pending.set(r.hash, r);
      this.pendingRefs.set(r.hash, (this.pendingRefs.get(r.hash) ?? 0) + 1);
    }
    const budget = { end: Date.now() + this.gateBudgetMs, ms: this.gateBudgetMs };
    const reuse = new Map<string, GateResult>();
    try {
      for (let round = 0; ; round++) {
        const gated = this.graph;
        const plan0 = planChangeset(gated, planned);
        const unstored0 = fresh.filter((r) => !this.store.getVersion(r.hash));
        if (plan0.setCurrent.length === 0 && unstored0.length === 0 && !dryRun) {
          return { generation: this.generation, dryRun: false, changes: this.summarize(gated, plan0, planned), touched: plan0.touched, gates: [] };
        }
        const tests0 = selectGateTests(plan0, (h) => this.manifestOf(h));
        const run = await runGates({
          pool: this.pool,
          candidate: plan0.candidate,
          tests: tests0,
          generation: this.generation + 1,
          concurrency: this.gateConcurrency,
          dryRun,
          onProgress,
          timeoutOf: (h) => this.manifestOf(h).limits.timeoutMs,
          budget,
          reuse,
        });
        tests0.forEach((t, i) => run.results[i].passed && reuse.set(gateKey(plan0.candidate, t), run.results[i]));
        if (dryRun) {
          return { generation: this.generation, dryRun: true, changes: this.summarize(gated, plan0, planned), touched: plan0.touched, gates: run.results };
        }
        throwIfGatesFailed(run.results, run.overBudget, budget.ms);
        const committed = await this.serialize(async (): Promise<ApplyResult | null> => {
          const before = this.graph;
          let plan = plan0;
          let gates = run.results;
          if (before !== gated) {
            // Re-validate against the graph it would now produce: every gate it needs has passed.
            plan = planChangeset(before, planned);
            const tests = selectGateTests(plan, (h) => this.manifestOf(h));
            const reused = tests.map((t) => reuse.get(gateKey(plan.candidate, t)));
            if (reused.some((g) => g === undefined)) return null;
            gates = reused as GateResult[];
          }
          const newVersions = this.recheckNew(principal, fresh);
          if (plan.setCurrent.length === 0 && newVersions.length === 0) {
            return { generation: this.generation, dryRun: false, changes: this.summarize(before, plan, planned), touched: plan.touched, gates };
          }
          const summaries = this.summarize(before, plan, planned);
          for (let attempt = 0; ; attempt++) {
            const state = await this.runMigrations(before, plan, principal, onProgress);
            if (state) checkTxnRows(state.writes.length);
            onProgress?.({ phase: 'commit', done: 0, total: 1 });
            const generation = this.store.commit({
              principal,
              newVersions,
              setCurrent: plan.setCurrent,
              bumpGeneration: plan.setCurrent.length > 0,
              changes: summaries as unknown as Json,
              gates: gates as unknown as Json,
              state,
            });
            if (generation === 'conflict') {
              if (attempt >= KERNEL_LIMITS.maxConflictReruns) {
                throw fail('STATE_CONFLICT', 'migrations kept conflicting with concurrent invocations', { reruns: attempt });
              }
              continue;
            }
            this.install(before, plan, generation);
            this.announce(principal, summaries, generation, rollback);
            return { generation, dryRun: false, changes: summaries, touched: plan.touched, gates };
          }
        });
        if (committed) return committed;
        if (round + 1 >= MAX_GATE_ROUNDS) {
          throw fail('OVERLOADED', `the graph changed under this changeset ${MAX_GATE_ROUNDS} times while its gates ran; try again`, { limit: 'gateRounds', max: MAX_GATE_ROUNDS });
        }
      }
    } finally {
      for (const r of fresh) {
        const n = (this.pendingRefs.get(r.hash) ?? 1) - 1;
        if (n > 0) this.pendingRefs.set(r.hash, n);
        else {
          this.pendingRefs.delete(r.hash);
          this.pending.delete(r.hash);
        }
      }
    }
  }

  /** Under the lock: the versions still to store, after what committed meanwhile (a first
   *  registration of the name by someone else, the same name and version with other content). */
  private recheckNew(principal: Principal, fresh: VersionRecord[]): VersionRecord[] {
    const out: VersionRecord[] = [];
    const claims = new Map<string, Owner>();
    for (const r of fresh) {
      this.checkOwner(principal, r.name);
      // A shared namespace claimed by a changeset that committed meanwhile now needs a grant.
      this.grants.checkDeclaration(this.grants.ownerOf(r.name) ?? principal, r.manifest, claims);
      const stored = this.store.findVersion(r.name, r.version);
      if (stored && stored.hash !== r.hash) {
        throw fail('VERSION_EXISTS', `${r.name} ${r.version} is already registered with different content; bump the version`, { name: r.name, version: r.version, hash: stored.hash });
      }
      if (!stored) out.push(r);
    }
    return out;
  }

  private summarize(before: Graph, plan: Plan, planned: PlannedChange[]): ChangeSummary[] {
    const out: ChangeSummary[] = [];
    for (const c of planned) {
      if (c.op === 'register') {
        out.push({
          op: 'register',
          name: c.version.name,
          version: c.version.version,
          hash: c.version.hash,
          previous: before.current(c.version.name)?.version ?? null,
          activated: plan.setCurrent.some((s) => s.name === c.version.name && s.hash === c.version.hash) || (c.activate && before.current(c.version.name)?.hash === c.version.hash),
        });
      } else if (c.op === 'activate') {
        const v = plan.candidate.find(c.name, c.version);
        out.push({ op: 'activate', name: c.name, version: c.version, hash: v?.hash ?? null, previous: before.current(c.name)?.version ?? null, activated: true });
      } else {
        out.push({ op: 'remove', name: c.name, version: null, hash: null, previous: before.current(c.name)?.version ?? null, activated: false });
      }
    }
    return out;
  }

  /** Runs `migrate` of every version that becomes current, on live state, against the candidate
   *  graph. Their writes are applied inside the commit transaction, validated like any other. */
  private async runMigrations(before: Graph, plan: Plan, principal: Principal, onProgress?: ProgressFn): Promise<TxnRecord | undefined> {
    const becoming = plan.setCurrent.filter((s) => s.hash !== null && before.current(s.name)?.hash !== s.hash);
    const withMigrate = becoming.filter((s) => this.recordOf(s.hash as string).hasMigrate);
    if (withMigrate.length === 0) return undefined;
    const merged: TxnRecord = { reads: [], nsReads: [], writes: [] };
    let done = 0;
    for (const s of withMigrate) {
      const hash = s.hash as string;
      const rec = this.recordOf(hash);
      onProgress?.({ phase: 'migrate', capability: rec.name, version: rec.version, done, total: withMigrate.length });
      const links = plan.candidate.links(hash);
      const access = this.grants.runAccess(links, principal);
      const result = await this.pool.run({
        root: hash,
        entry: 'migrate',
        input: { from: before.current(s.name)?.version ?? null },
        invocationId: `migrate-${nanoid(8)}`,
        generation: this.generation + 1,
        links,
        state: { mode: 'live' },
        shared: access.shared,
      });
      if (!result.ok) {
        throw fail('MIGRATION_FAILED', `migrate of ${rec.name} ${rec.version} failed: ${result.error.message}`, {
          capability: rec.name,
          version: rec.version,
          error: result.error as unknown as Json,
        });
      }
      this.grants.checkTxn(access, result.txn);
      merged.reads.push(...result.txn.reads);
      merged.nsReads.push(...result.txn.nsReads);
      merged.writes.push(...result.txn.writes);
      done++;
    }
    return merged;
  }

  private install(before: Graph, plan: Plan, generation: number): void {
    this.graph = plan.candidate;
    this.generation = generation;
    this.links = new Map();
    // Superseded versions: disposed by the workers once the calls pinned to them drain.
    const live = new Set(this.graph.nodes().map((n) => n.hash));
    const retired = before.nodes().map((n) => n.hash).filter((h) => !live.has(h));
    if (retired.length) this.pool.retire(retired);
  }

  /** One event per change: a register is `registered` (and also `activated` when it became
   *  current), an activate `activated` (or `rolledBack` when the changeset is a rollback). */
  private announce(principal: Principal, changes: ChangeSummary[], generation: number, rolledBack: boolean): void {
    const at = new Date().toISOString();
    for (const c of changes) {
      const base = { generation, name: c.name, version: c.version, previous: c.previous, principal: principal.name, at };
      const types: Array<Exclude<KernelEvent['type'], 'log'>> =
        c.op === 'remove' ? ['capability.removed']
        : rolledBack ? ['capability.rolledBack']
        : c.op === 'register' ? (c.activated ? ['capability.registered', 'capability.activated'] : ['capability.registered'])
        : ['capability.activated'];
      for (const type of types) this.events.emit('event', { type, ...base } satisfies KernelEvent);
    }
    this.events.emit('commit', { generation });
  }

  // ---------------------------------------------------------------- versions for the sandbox

  /** Compiled code of a version, for a worker that has not seen it (pending candidates first). */
  payload(hash: string): VersionPayload | undefined {
    const cached = this.payloads.get(hash);
    if (cached) return cached;
    const rec = this.pending.get(hash) ?? this.store.getVersion(hash);
    if (!rec) return undefined;
    const p: VersionPayload = { hash, name: rec.name, version: rec.version, manifest: rec.manifest, compiled: rec.compiled };
    if (!this.pending.has(hash)) {
      if (this.payloads.size > 2000) this.payloads.clear();
      this.payloads.set(hash, p);
    }
    return p;
  }

  private recordOf(hash: string): VersionRecord {
    const rec = this.pending.get(hash) ?? this.store.getVersion(hash);
    if (!rec) throw fail('NOT_FOUND', `no version with hash ${hash}`, { hash });
    return rec;
  }

  private manifestOf(hash: string) {
    return (this.payload(hash) ?? this.recordOf(hash)).manifest;
  }

  /** A version by number, else the current one, else (removed or never activated) the newest. */
  private lookup(name: string, version: string | undefined): GraphVersion {
    assertName(name);
    if (version !== undefined) {
      const v = this.graph.find(name, version);
      if (!v) throw fail('NOT_FOUND', `no version ${version} of '${name}'`, { name, version });
      return v;
    }
    const cur = this.graph.current(name) ?? this.graph.versionsOf(name).at(-1);
    if (!cur) throw fail('NOT_FOUND', `no capability '${name}'`, { name });
    return cur;
  }

  private recordLogs(entries: LogEntry[]): void {
    this.logs.record(entries, this.generation, (ev) => this.events.emit('event', ev));
  }
}

function buildGraph(store: StoreApi): Graph {
  const current = new Map<string, string>();
  for (const c of store.capabilities()) if (c.current) current.set(c.name, c.current);
  return new Graph(store.allVersionMeta(), current);
}

function toGraphVersion(r: VersionRecord): GraphVersion {
  return { name: r.name, version: r.version, hash: r.hash, dependencies: r.manifest.dependencies };
}

/** Every state key a transaction read or wrote, as lock keys. */
function footprint(txn: TxnRecord): string[] {
  const keys = txn.reads.map(([ns, key]) => lockKey(ns, key));
  for (const [ns, key] of txn.writes) keys.push(lockKey(ns, key));
  return keys;
}

function clampLimit(limit: number | undefined, dflt: number, max: number): number {
  if (limit === undefined) return dflt;
  return Math.max(1, Math.min(max, Math.floor(limit)));
}

/** A stored value for an operator: one nested deeper than MAX_JSON_DEPTH (written before the limit
 *  existed) is refused by key, since its reply could not be serialized; `state/list` can step
 *  past it with `cursor` set to that key. */
function storedValue(namespace: string, key: string, text: string): Json {
  checkTextDepth(text, `the state value at '${key}' in '${namespace}'`, { what: 'value', namespace, key });
  return JSON.parse(text) as Json;
}
