// The kernel's side of the sandbox: a fixed number of worker slots, each holding one sandbox worker
// process (sandbox/worker.ts). Runs are routed by their root hash (stable affinity: one warm isolate
// per version serves its calls); a worker that dies fails what it held with SANDBOX_CRASHED and is
// replaced at once (with backoff when it dies before it is ready); a worker that has served enough
// calls or grown too large is recycled without dropping a run. Capability code never runs here.

import { fork } from 'node:child_process';
import type { ChildProcess, Serializable } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fail, SubstrateError } from '../capabilities/errors.ts';
import { KERNEL_LIMITS } from '../capabilities/types.ts';
import { Outbox, unbatch } from './ipc.ts';
import type { FromWorker, Inspection, LogEntry, RunResult, RunSpec, ToWorker, VersionPayload } from './protocol.ts';

export interface SandboxPoolOptions {
  /** Worker processes. Default: os.availableParallelism(). */
  size?: number;
  /** The SQLite file the workers read state from (read-only); null for none (scratch runs only). */
  dbPath: string | null;
  versions: { getVersion(hash: string): VersionPayload | undefined };
  /** A worker is recycled after this many runs. Default 100_000. */
  maxCallsPerWorker?: number;
  /** A worker is recycled when its reported RSS exceeds this. Default 1024. */
  maxRssMb?: number;
  /** Warm isolates per worker (LRU). Default 200. */
  maxIsolatesPerWorker?: number;
  onLog?: (entries: LogEntry[]) => void;
  onCrash?: (info: { pid: number; signal: string | null; code: number | null; calls: number }) => void;
  /** IPC serialization. Default 'json' (measured faster for these small messages). */
  serialization?: 'json' | 'advanced';
}

export interface WorkerStats {
  slot: number;
  pid: number;
  ready: boolean;
  retiring: boolean;
  calls: number;
  rssMb: number;
  /** Isolates the worker held at its last answer. */
  isolates: number;
  pending: number;
}

export interface PoolStats {
  size: number;
  workers: WorkerStats[];
  runs: number;
  crashes: number;
  recycles: number;
}

/** How long after a run's deadline the pool stops waiting for its worker and kills it. */
const WATCHDOG_GRACE_MS = 5000;
const INSPECT_WATCHDOG_MS = 15_000;
/** How long a recycled or shut-down worker may take to drain and exit before it is killed. */
const SHUTDOWN_GRACE_MS = 10_000;
const STDERR_TAIL_BYTES = 8192;
const MAX_START_FAILURES = 3;

const WORKER_FILE = fileURLToPath(new URL('./worker.ts', import.meta.url));

function tsxLoaderUrl(): string {
  try {
    return import.meta.resolve('tsx');
  } catch {
    const require = createRequire(import.meta.url);
    return pathToFileURL(path.join(path.dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs')).href;
  }
}

/** FNV-1a: a fast, stable string hash for routing. */
function routeHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Only what a worker needs: the kernel's secrets (tokens, keys) stay out of its environment. */
function workerEnv(opts: SandboxPoolOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'TMP', 'TEMP', 'LANG', 'LC_ALL', 'TZ', 'NODE_ENV', 'SYSTEMROOT']) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  env.SUBSTRATE_SANDBOX_DB = opts.dbPath ?? '';
  env.SUBSTRATE_SANDBOX_MAX_ISOLATES = String(opts.maxIsolatesPerWorker ?? 200);
  return env;
}

type Pending =
  | { kind: 'run'; resolve: (r: RunResult) => void; watchdog: NodeJS.Timeout; started: number }
  | { kind: 'inspect'; resolve: (i: Inspection) => void; reject: (e: SubstrateError) => void; watchdog: NodeJS.Timeout };

interface Slot {
  index: number;
  current: WorkerHandle;
  /** Consecutive workers of this slot that died before they were ready. */
  failures: number;
}

class WorkerHandle {
  child: ChildProcess | null = null;
  pid = 0;
  ready = false;
  exited = false;
  retiring = false;
  shutdownRequested = false;
  calls = 0;
  rss = 0;
  isolates = 0;
  readonly pending = new Map<number, Pending>();
  /** Version hashes this worker was sent (it may still ask again: its cache is bounded). */
  readonly sent = new Set<string>();
  private backlog: ToWorker[] = [];
  private stderr = '';
  readonly outbox: Outbox<ToWorker>;
  /** Resolves true when ready, false when the process exits first. */
  readonly settled: Promise<boolean>;
  private settle!: (ready: boolean) => void;

  constructor(readonly slot: Slot) {
    this.outbox = new Outbox<ToWorker>((batch) => {
      if (this.child?.connected) this.child.send(batch as Serializable, () => undefined);
    });
    this.settled = new Promise((r) => (this.settle = r));
  }

  send(msg: ToWorker): void {
    if (this.exited) return;
    if (this.ready) this.outbox.push(msg);
    else this.backlog.push(msg);
  }

  markReady(pid: number): void {
    this.ready = true;
    this.pid = pid || this.pid;
    for (const m of this.backlog) this.outbox.push(m);
    this.backlog = [];
    this.settle(true);
  }

  markExited(): void {
    this.exited = true;
    this.backlog = [];
    this.outbox.clear();
    this.settle(false);
  }

  appendStderr(chunk: string): void {
    this.stderr += chunk;
    if (this.stderr.length > STDERR_TAIL_BYTES * 2) this.stderr = this.stderr.slice(-STDERR_TAIL_BYTES);
  }

  stderrTail(): string {
    return this.stderr.slice(-STDERR_TAIL_BYTES);
  }
}

export class SandboxPool {
  private readonly slots: Slot[] = [];
  private readonly handles = new Set<WorkerHandle>();
  private readonly size: number;
  private readonly maxCalls: number;
  private readonly maxRssBytes: number;
  private readonly execArgv: string[];
  private readonly env: NodeJS.ProcessEnv;
  private seq = 0;
  private runs = 0;
  private crashes = 0;
  private recycles = 0;
  private closed = false;
  private started: Promise<void> | null = null;

  constructor(private readonly opts: SandboxPoolOptions) {
    this.size = Math.max(1, Math.floor(opts.size ?? os.availableParallelism()));
    this.maxCalls = opts.maxCallsPerWorker ?? 100_000;
    this.maxRssBytes = (opts.maxRssMb ?? 1024) * 1024 * 1024;
    this.execArgv = ['--no-node-snapshot', '--import', tsxLoaderUrl()];
    this.env = workerEnv(opts);
  }

  /** Spawns every worker; resolves when all are ready. */
  start(): Promise<void> {
    this.started ??= this.startAll();
    return this.started;
  }

  private async startAll(): Promise<void> {
    for (let i = 0; i < this.size; i++) {
      const slot = { index: i, failures: 0 } as Slot;
      slot.current = this.spawn(slot, 0);
      this.slots.push(slot);
    }
    await Promise.all(this.slots.map((s) => this.untilReady(s)));
  }

  private async untilReady(slot: Slot): Promise<void> {
    for (;;) {
      const h = slot.current;
      if (await h.settled) return;
      if (this.closed) throw fail('SANDBOX_CRASHED', 'the sandbox pool was closed while starting', {});
      if (slot.failures >= MAX_START_FAILURES) {
        throw fail('SANDBOX_CRASHED', `sandbox worker ${slot.index} failed to start ${slot.failures} times`, {
          pid: h.pid,
          stderrTail: h.stderrTail(),
        });
      }
      // The exit handler has put a replacement into the slot; wait for that one.
      await Promise.resolve();
    }
  }

  /** Runs one call tree in the worker its root maps to. Never rejects: failures are RunResults. */
  run(spec: RunSpec): Promise<RunResult> {
    if (this.closed || this.slots.length === 0) {
      const why = this.closed ? 'the sandbox pool is closed' : 'the sandbox pool is not started';
      return Promise.resolve({ ok: false, error: fail('SANDBOX_CRASHED', why, {}).toWire(), durationMs: 0 });
    }
    this.runs++;
    const h = this.slots[routeHash(spec.root) % this.slots.length].current;
    const id = ++this.seq;
    let timeoutMs: number | undefined;
    if (!h.sent.has(spec.root)) {
      const payload = this.opts.versions.getVersion(spec.root);
      if (payload) {
        // Sent ahead of the run: saves the worker one `need` round trip on a cold version.
        h.send({ t: 'version', hash: spec.root, payload });
        h.sent.add(spec.root);
        timeoutMs = payload.manifest.limits.timeoutMs;
      }
    }
    const deadline =
      spec.deadline ?? Date.now() + (timeoutMs ?? this.opts.versions.getVersion(spec.root)?.manifest.limits.timeoutMs ?? KERNEL_LIMITS.maxTimeoutMs);
    return new Promise<RunResult>((resolve) => {
      const p: Pending = { kind: 'run', resolve, watchdog: this.watchdog(h, id, Math.max(0, deadline - Date.now()) + WATCHDOG_GRACE_MS), started: performance.now() };
      h.pending.set(id, p);
      h.send({ t: 'run', id, spec });
    });
  }

  /** Evaluates a module in a sandbox and reports its exports. Rejects with COMPILE_ERROR. */
  inspect(code: string): Promise<Inspection> {
    if (this.closed || this.slots.length === 0) {
      return Promise.reject(fail('SANDBOX_CRASHED', this.closed ? 'the sandbox pool is closed' : 'the sandbox pool is not started', {}));
    }
    let h = this.slots[0].current;
    for (const s of this.slots) if (s.current.pending.size < h.pending.size) h = s.current;
    const id = ++this.seq;
    return new Promise<Inspection>((resolve, reject) => {
      h.pending.set(id, { kind: 'inspect', resolve, reject, watchdog: this.watchdog(h, id, INSPECT_WATCHDOG_MS) });
      h.send({ t: 'inspect', id, code });
    });
  }

  /** Tells every worker that these versions will not be called again (disposed once drained). */
  retire(hashes: string[]): void {
    if (hashes.length === 0) return;
    for (const h of this.handles) {
      for (const hash of hashes) h.sent.delete(hash);
      h.send({ t: 'retire', hashes });
    }
  }

  stats(): PoolStats {
    const workers: WorkerStats[] = [];
    for (const h of this.handles) {
      workers.push({
        slot: h.slot.index,
        pid: h.pid,
        ready: h.ready,
        retiring: h.retiring,
        calls: h.calls,
        rssMb: Math.round((h.rss / 1024 / 1024) * 10) / 10,
        isolates: h.isolates,
        pending: h.pending.size,
      });
    }
    return { size: this.size, workers, runs: this.runs, crashes: this.crashes, recycles: this.recycles };
  }

  /** Kills every worker; whatever they held fails with SANDBOX_CRASHED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exits: Array<Promise<void>> = [];
    for (const h of [...this.handles]) {
      if (h.exited) continue;
      const child = h.child;
      if (child && child.exitCode === null && child.signalCode === null) {
        exits.push(new Promise<void>((r) => child.once('exit', () => r())));
        child.kill('SIGKILL');
      } else {
        this.onExit(h, child?.exitCode ?? null, child?.signalCode ?? null);
      }
    }
    await Promise.all(exits);
  }

  // ---- workers ----

  private spawn(slot: Slot, delayMs: number): WorkerHandle {
    const h = new WorkerHandle(slot);
    this.handles.add(h);
    const go = () => {
      if (this.closed) {
        this.onExit(h, null, null);
        return;
      }
      let child: ChildProcess;
      try {
        child = fork(WORKER_FILE, [], {
          execArgv: this.execArgv,
          serialization: this.opts.serialization ?? 'json',
          stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
          env: this.env,
        });
      } catch (e) {
        h.appendStderr(String(e));
        this.onExit(h, null, null);
        return;
      }
      h.child = child;
      h.pid = child.pid ?? 0;
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => h.appendStderr(chunk));
      child.on('message', (frame: unknown) => {
        for (const m of unbatch<FromWorker>(frame)) this.onMessage(h, m);
      });
      child.on('error', (e) => {
        h.appendStderr(`\n${String(e)}\n`);
        // A failed spawn emits no 'exit'.
        if (child.pid === undefined) this.onExit(h, null, null);
      });
      child.on('exit', (code, signal) => this.onExit(h, code, signal));
    };
    if (delayMs > 0) setTimeout(go, delayMs);
    else go();
    return h;
  }

  private onMessage(h: WorkerHandle, m: FromWorker): void {
    switch (m.t) {
      case 'ready':
        h.markReady(m.pid);
        h.slot.failures = 0;
        return;
      case 'done': {
        const p = h.pending.get(m.id);
        h.calls++;
        h.rss = m.rss;
        h.isolates = m.isolates ?? h.isolates;
        if (p && p.kind === 'run') {
          h.pending.delete(m.id);
          clearTimeout(p.watchdog);
          p.resolve(m.result);
        }
        this.afterSettle(h);
        return;
      }
      case 'inspected': {
        const p = h.pending.get(m.id);
        if (p && p.kind === 'inspect') {
          h.pending.delete(m.id);
          clearTimeout(p.watchdog);
          if (m.ok) p.resolve(m.inspection);
          else p.reject(SubstrateError.fromWire(m.error));
        }
        this.afterSettle(h);
        return;
      }
      case 'need': {
        const payload = this.opts.versions.getVersion(m.hash) ?? null;
        if (payload) h.sent.add(m.hash);
        h.send({ t: 'version', hash: m.hash, payload });
        return;
      }
      case 'log':
        if (this.opts.onLog && m.entries.length > 0) {
          try {
            this.opts.onLog(m.entries);
          } catch {
            // A failing log sink must not take the pool down.
          }
        }
        return;
    }
  }

  private afterSettle(h: WorkerHandle): void {
    if (!h.retiring && !this.closed && h.slot.current === h && (h.calls >= this.maxCalls || h.rss > this.maxRssBytes)) {
      // Recycle: new runs go to a fresh worker; this one finishes what it holds, then stops.
      h.retiring = true;
      this.recycles++;
      h.slot.current = this.spawn(h.slot, 0);
    }
    if (h.retiring && h.pending.size === 0) this.shutdown(h);
  }

  private shutdown(h: WorkerHandle): void {
    if (h.shutdownRequested || h.exited) return;
    h.shutdownRequested = true;
    h.send({ t: 'shutdown' });
    h.outbox.flush();
    setTimeout(() => {
      if (!h.exited) h.child?.kill('SIGKILL');
    }, SHUTDOWN_GRACE_MS).unref();
  }

  /** A ready worker that still holds a run long after its deadline is wedged: kill it, which fails
   *  what it holds with SANDBOX_CRASHED. One still starting (backoff, slow start) is waited for. */
  private watchdog(h: WorkerHandle, id: number, ms: number): NodeJS.Timeout {
    return setTimeout(() => {
      const p = h.pending.get(id);
      if (!p || h.exited) return;
      if (!h.ready) p.watchdog = this.watchdog(h, id, WATCHDOG_GRACE_MS);
      else this.kill(h, 'unresponsive');
    }, ms);
  }

  private kill(h: WorkerHandle, reason: string): void {
    if (h.exited) return;
    h.appendStderr(`\n[substrate: worker killed by the pool: ${reason}]\n`);
    h.child?.kill('SIGKILL');
  }

  private onExit(h: WorkerHandle, code: number | null, signal: NodeJS.Signals | null): void {
    if (h.exited) return;
    const wasReady = h.ready;
    h.markExited();
    this.handles.delete(h);
    const held = [...h.pending.values()];
    h.pending.clear();
    const expected = h.shutdownRequested && held.length === 0;
    if (held.length > 0 || !expected) {
      const data = { pid: h.pid, signal, exitCode: code, stderrTail: h.stderrTail() };
      const why = this.closed ? 'the sandbox pool was closed' : `sandbox worker ${h.pid} exited (${signal ?? `code ${code}`})`;
      const err = fail('SANDBOX_CRASHED', why, data);
      for (const p of held) {
        clearTimeout(p.watchdog);
        if (p.kind === 'run') p.resolve({ ok: false, error: err.toWire(), durationMs: performance.now() - p.started });
        else p.reject(err);
      }
    }
    if (this.closed) return;
    if (!expected) {
      this.crashes++;
      try {
        this.opts.onCrash?.({ pid: h.pid, signal, code, calls: h.calls });
      } catch {
        // The report is best effort.
      }
    }
    const slot = h.slot;
    if (slot.current !== h) return;
    // Replace at once; a worker that never got ready is retried with backoff, so a broken
    // environment cannot make the kernel spin.
    slot.failures = wasReady ? 0 : slot.failures + 1;
    const delay = slot.failures === 0 ? 0 : Math.min(100 * 2 ** (slot.failures - 1), 5000);
    slot.current = this.spawn(slot, delay);
  }
}
