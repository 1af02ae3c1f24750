// The kernel: its lifecycle (open the store and the sandbox pool, close both) and the one facade
// the server, MCP, the CLI and tests use. The parts behind it each own one concern:
//   generation.ts       the current generation (immutable Graph) and version lookups;
//   queries.ts          list, describe, history, graph, impact, state reads;
//   invocation.ts       calls pinned to a generation, state commits, conflict re-runs;
//   prepare.ts, commit-pipeline.ts, gates.ts
//                       register/apply/rollback/remove: prepare → gates → migrate → commit → announce;
//   job-runner.ts, schedules.ts, jobs.ts
//                       durable work: due jobs run, schedule occurrences become jobs, the methods;
//   log-buffer.ts       recent capability logs;
//   grants.ts           shared namespaces: owners, grants, what a call may open; http grants;
//   secrets.ts, effects-api.ts
//                       secrets (encrypted, resolved for requests) and the effect journal;
//   rollouts.ts, rollout-samples.ts
//                       canary rollouts: steps as generations, verdicts, promote or abort.
// All writes to the store happen in this process; all capability code runs in the sandbox pool.

import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Principal } from '../capabilities/types.ts';
import type { Graph } from '../capabilities/graph.ts';
import { Store } from '../store/store.ts';
import type { StoreApi } from '../store/types.ts';
import { SandboxPool } from '../sandbox/pool.ts';
import { warmSchemaCompiler } from '../sandbox/schema-compiler.ts';
import type { LogEntry, VersionPayload } from '../sandbox/protocol.ts';
import type {
  ApplyParams,
  ApplyResult,
  DescribeParams,
  DescribeResult,
  GraphParams,
  GraphResult,
  HistoryParams,
  HistoryResult,
  ImpactResult,
  InvokeParams,
  InvokeResult,
  KernelInfo,
  ListParams,
  ListResult,
  LogsParams,
  LogsResult,
  ProgressFn,
  RegisterParams,
  RegisterResult,
  RollbackParams,
  RollbackResult,
  StateGetResult,
  StateListParams,
  StateListResult,
} from './api.ts';
import { CommitPipeline } from './commit-pipeline.ts';
import { STORE_FILE } from './data-dir.ts';
import { MAX_GATE_MS_PER_CHANGESET } from './gates.ts';
import { MAX_REPLAY_MS_PER_CHANGESET } from './replay.ts';
import type { CallRecord } from '../capabilities/evaluation.ts';
import { Generation } from './generation.ts';
import { GrantRules } from './grants.ts';
import { Invocations } from './invocation.ts';
import { JobRunner } from './job-runner.ts';
import { JobsApi } from './jobs.ts';
import { Scheduler } from './schedules.ts';
import { Secrets, secretsKeyFile } from './secrets.ts';
import { EffectsApi } from './effects-api.ts';
import { kernelEgress } from './egress-policy.ts';
import type { Lookup } from './egress.ts';
import { LogBuffer } from './log-buffer.ts';
import { Preparation } from './prepare.ts';
import { Queries } from './queries.ts';
import { Evaluation } from './call-trace.ts';
import { Metrics } from './metrics.ts';
import { Records } from './records.ts';
import { Rollouts } from './rollouts.ts';
import { RolloutSamples } from './rollout-samples.ts';
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
  /** Time all replays of one changeset may take; default MAX_REPLAY_MS_PER_CHANGESET (replay.ts). */
  replayBudgetMs?: number;
  logBuffer?: number;
  /** Jobs running at once (job-runner.ts). Default 2: jobs never take more of the sandbox. */
  jobConcurrency?: number;
  /** The clock of jobs and schedules (tests move it; everything else uses real time). */
  now?: () => number;
  /** The secrets key file (default: env SUBSTRATE_SECRETS_KEY_FILE, else <data>/secrets.key). */
  secretsKeyFile?: string;
  /** How the request performer resolves host names (default: the system resolver). Tests point
   *  names at 127.0.0.1 with it; the address checks apply to what it returns. */
  egressLookup?: Lookup;
  /** CAs the request performer trusts instead of Node's defaults (a private CA, tests). */
  egressCa?: string | Buffer | Array<string | Buffer>;
  /** Per-version metrics of root calls (kernel/metrics.ts); default on. Off: metrics/get and
   *  /metrics report nothing (bench/invoke's baseline). */
  metrics?: boolean;
  /** Call records (kernel/records.ts); default on. Off: nothing is recorded. */
  records?: boolean;
}

// Defined beside ProgressEvent in api.ts so gates.ts needs nothing from this file (no cycle).
export type { ProgressFn } from './api.ts';

export class Kernel {
  readonly events = new EventEmitter();
  readonly store: StoreApi;
  readonly pool: SandboxPool;
  readonly dataDir: string;
  /** Shared namespaces: owners, grants, and what a call may open (kernel/grants.ts). */
  readonly grants: GrantRules;
  private readonly gen: Generation;
  private readonly queries: Queries;
  private readonly invocations: Invocations;
  private readonly pipeline: CommitPipeline;
  /** jobs/*, schedules/* (kernel/jobs.ts). */
  readonly jobs: JobsApi;
  /** secrets/* and resolve() for the request performer (kernel/secrets.ts). */
  readonly secrets: Secrets;
  /** The effect journal: record() per request, effects/list (kernel/effects-api.ts). */
  readonly effects: EffectsApi;
  /** Per-version counts of root calls (metrics/get, GET /metrics, rollouts' windows); null when off. */
  readonly metrics: Metrics | null;
  /** Recorded root invocations (records/list, replay); null when off. */
  readonly records: Records | null;
  /** capabilities/rollout, rollouts/* (kernel/rollouts.ts). */
  readonly rollouts: Rollouts;
  private readonly runner: JobRunner;
  private readonly scheduler: Scheduler;
  private readonly startedAt = Date.now();
  private readonly logs: LogBuffer;
  private closed = false;
  /** The records replay reads, newest first (kernel/replay.ts): kernel.records (tests may set others). */
  replayRecords: (hash: string, limit: number) => CallRecord[] = (hash, limit) => this.records?.list(hash, limit) ?? [];

  private constructor(store: StoreApi, pool: SandboxPool, dataDir: string, opts: KernelOptions) {
    this.store = store;
    this.pool = pool;
    this.dataDir = dataDir;
    this.gen = new Generation(store);
    this.grants = new GrantRules(store, (hash) => this.gen.payload(hash));
    this.secrets = new Secrets(store.secrets, { file: secretsKeyFile(dataDir, opts.secretsKeyFile) });
    this.effects = new EffectsApi(store.effects, (name) => store.capability(name)?.ownerId);
    this.logs = new LogBuffer(opts.logBuffer ?? 10_000);
    this.queries = new Queries(store, this.gen);
    const egress = kernelEgress({ gen: this.gen, grants: this.grants, secrets: this.secrets, effects: this.effects, lookup: opts.egressLookup, ca: opts.egressCa });
    this.invocations = new Invocations(store, pool, this.gen, this.grants, egress);
    this.metrics = opts.metrics === false ? null : new Metrics();
    this.records = opts.records === false ? null : new Records(store.records, { graph: () => this.gen.graph, ownerIdOf: (name) => store.capability(name)?.ownerId });
    this.invocations.evaluation = new Evaluation(this.metrics, this.records, (hash) => this.gen.manifestOf(hash).record !== false);
    const prep = new Preparation(store, pool, this.gen, this.grants);
    this.pipeline = new CommitPipeline(store, pool, this.gen, this.grants, prep, this.events, {
      gateConcurrency: opts.gateConcurrency ?? 4,
      gateBudgetMs: opts.gateBudgetMs ?? MAX_GATE_MS_PER_CHANGESET,
      replayBudgetMs: opts.replayBudgetMs ?? MAX_REPLAY_MS_PER_CHANGESET,
      records: (hash, limit) => this.replayRecords(hash, limit),
    });
    const now = opts.now ?? Date.now;
    // The verdicts' windows: kernel.metrics (the counts metrics/get shows); with metrics off, the
    // rollout's own samples of the two versions it watches (rollout-samples.ts).
    const samples = new RolloutSamples();
    if (!this.metrics) this.invocations.observe = (hash, ok, ms, type) => samples.observe(hash, ok, ms, type);
    this.rollouts = new Rollouts({ store, gen: this.gen, pipeline: this.pipeline, prep, events: this.events, samples, windows: this.metrics ?? samples });
    this.runner = new JobRunner(store, this.invocations, this.gen, this.events, { concurrency: Math.max(1, opts.jobConcurrency ?? 2), now });
    this.invocations.onJobs = () => this.runner.poke();
    this.scheduler = new Scheduler(store, this.gen, now, () => this.runner.poke());
    this.jobs = new JobsApi(store, this.runner, this.scheduler, now);
    this.events.setMaxListeners(0);
    // A commit may change which versions are current, and so which schedules are active.
    this.events.on('commit', () => this.scheduler.sync());
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
    try {
      kernel.secrets.verifyKey();
    } catch (e) {
      store.close();
      throw e;
    }
    warmSchemaCompiler();
    try {
      await pool.start();
    } catch (e) {
      store.close();
      throw e;
    }
    kernel.runner.start();
    kernel.scheduler.start();
    // The split of the stored generation is live already (generation.ts): its controller too.
    kernel.rollouts.resume();
    return kernel;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.rollouts.stop();
    this.scheduler.stop();
    this.runner.stop();
    await this.pool.close();
    this.effects.close();
    this.records?.close();
    this.store.close();
  }

  // ---------------------------------------------------------------- reading (queries.ts)

  info(): KernelInfo {
    return {
      version: KERNEL_VERSION,
      generation: this.gen.generation,
      uptimeMs: Date.now() - this.startedAt,
      capabilities: this.gen.graph.currentHashes().size,
    };
  }

  currentGeneration(): number {
    return this.gen.generation;
  }

  /** The current graph (immutable): MCP and the server read it without copying. */
  currentGraph(): Graph {
    return this.gen.graph;
  }

  list(params: ListParams = {}): ListResult {
    return this.queries.list(params);
  }

  describe(params: DescribeParams): DescribeResult {
    return this.queries.describe(params);
  }

  history(params: HistoryParams = {}): HistoryResult {
    return this.queries.history(params);
  }

  graphView(params: GraphParams = {}): GraphResult {
    return this.queries.graphView(params);
  }

  impact(name: string): ImpactResult {
    return this.queries.impact(name);
  }

  stateGet(namespace: string, key: string): StateGetResult {
    return this.queries.stateGet(namespace, key);
  }

  stateList(params: StateListParams): StateListResult {
    return this.queries.stateList(params);
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

  // ---------------------------------------------------------------- invoking (invocation.ts)

  invoke(params: InvokeParams): Promise<InvokeResult> {
    return this.invocations.invoke(params);
  }

  /** Re-runs caused by state conflicts since start (benchmarks and docs/state.md read it). */
  rerunCount(): number {
    return this.invocations.rerunCount();
  }

  // ---------------------------------------------------------------- changing (commit-pipeline.ts)

  register(principal: Principal, params: RegisterParams, onProgress?: ProgressFn): Promise<RegisterResult> {
    return this.pipeline.register(principal, params, onProgress);
  }

  apply(principal: Principal, params: ApplyParams, onProgress?: ProgressFn): Promise<ApplyResult> {
    return this.pipeline.apply(principal, params, onProgress);
  }

  rollback(principal: Principal, params: RollbackParams, onProgress?: ProgressFn): Promise<RollbackResult> {
    return this.pipeline.rollback(principal, params, onProgress);
  }

  remove(principal: Principal, name: string): Promise<{ name: string; generation: number }> {
    return this.pipeline.remove(principal, name);
  }

  /** Evaluates every schedule now, on the jobs clock (tests with a fake clock, after moving it). */
  evaluateSchedules(): void {
    this.scheduler.evaluateAll();
  }

  /** Jobs this kernel is running now. */
  jobsInFlight(): number {
    return this.runner.inFlight();
  }

  // ---------------------------------------------------------------- versions for the sandbox

  /** Compiled code of a version, for a worker that has not seen it (pending candidates first). */
  payload(hash: string): VersionPayload | undefined {
    return this.gen.payload(hash);
  }

  private recordLogs(entries: LogEntry[]): void {
    this.logs.record(entries, this.gen.generation, (ev) => this.events.emit('event', ev));
  }
}
