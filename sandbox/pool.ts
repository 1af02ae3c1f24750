// The kernel's side of the sandbox: a fixed number of worker slots, each holding one sandbox worker
// process (sandbox/worker.ts). Runs are routed by their root hash (stable affinity: one warm isolate
// per version serves its calls), except that a version's first run goes to the worker that just
// inspected its code, which keeps that isolate for it. A worker that dies fails what it held with
// SANDBOX_CRASHED and is replaced at once (with backoff when it dies before it is ready); a worker
// that has served enough calls or grown too large is recycled without a stall: it serves until its
// replacement is ready, then drains. Capability code never runs here.
// The crash report, the memory watchdog and one worker's handle (worker-handle.ts) live apart.

import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import { LRUCache } from 'lru-cache';
import { backoffMs } from '../capabilities/backoff.ts';
import { fail, SubstrateError } from '../capabilities/errors.ts';
import { KERNEL_LIMITS } from '../capabilities/types.ts';
import { randomBytes } from 'node:crypto';
import { crashError, crashReason, findCulprit } from './crash-report.ts';
import { unbatch } from './ipc.ts';
import { answerFetch } from './fetch-answer.ts';
import { SPILL_AT, SpillPolicy } from './spill.ts';
import type { RunHooks } from './run-hooks.ts';
export type { RunHooks };
import { tsxLoaderUrl, workerEnv, WORKER_FILE, WorkerHandle, type Pending, type Slot } from './worker-handle.ts';
import type { FromWorker, Inspection, LogEntry, RunResult, RunSpec, VersionPayload } from './protocol.ts';

export interface SandboxPoolOptions {
  /** Worker processes. Default: os.availableParallelism(). */
  size?: number;
  /** The SQLite file the workers read state from (read-only); null for none (scratch runs only). */
  dbPath: string | null;
  versions: { getVersion(hash: string): VersionPayload | undefined };
  /** A worker is recycled after this many runs. Default 1_000_000 (RSS growth is the main trigger). */
  maxCallsPerWorker?: number;
  /** A worker is recycled when its reported RSS exceeds this. Default 1024. */
  maxRssMb?: number;
  /** Warm isolates per worker (LRU). Default 200. */
  maxIsolatesPerWorker?: number;
  /** What a worker may hold beyond its RSS at start and its isolates' allowance before its memory
   *  watchdog disposes the busy isolate that ran most. Default WORKER_RSS_HEADROOM_MB (256). */
  workerRssHeadroomMb?: number;
  onLog?: (entries: LogEntry[]) => void;
  /** For the operator: `stderrTail` is the worker's raw stderr, which no caller ever sees. */
  onCrash?: (info: { pid: number; signal: string | null; code: number | null; calls: number; reason: string; stderrTail: string }) => void;
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
/** How long a worker keeps an inspected isolate for the first run of its code (sandbox/isolate-host.ts). */
const INSPECTED_KEEP_MS = 30_000;
/** Inspections remembered for routing the first run of their code (the most recent kept). */
const MAX_INSPECTED = 64;
/** Version hashes pinned to the slot that inspected their code (beyond: plain routing). */
const MAX_PINS = 10_000;

/** The wait before respawning a slot whose worker failed to start `failures` times in a row:
 *  0 after a success, then 100 ms doubling to 5 s, so a broken environment cannot make it spin. */
function respawnDelay(failures: number): number {
  return backoffMs(failures, { baseMs: 100, maxMs: 5000 });
}

/** How long a recycled or shut-down worker may take to drain and exit before it is killed. */
const SHUTDOWN_GRACE_MS = 10_000;
const MAX_START_FAILURES = 3;

/** FNV-1a: a fast, stable string hash for routing. */
function routeHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class SandboxPool {
  private readonly slots: Slot[] = [];
  private readonly handles = new Set<WorkerHandle>();
  private readonly size: number;
  private readonly maxCalls: number;
  private readonly maxRssBytes: number;
  private readonly execArgv: string[];
  private readonly env: NodeJS.ProcessEnv;
  /** Marks the line of a worker's stderr that names the calls of an isolate V8 lost control of. */
  private readonly nonce = randomBytes(16).toString('hex');
  private seq = 0;
  private runs = 0;
  private crashes = 0;
  private recycles = 0;
  private closed = false;
  private started: Promise<void> | null = null;
  /** Compiled code -> the slot that inspected it and when: its first run goes there (warm isolate). */
  private readonly inspectedOn = new LRUCache<string, { slot: number; at: number }>({ max: MAX_INSPECTED });
  /** Version hash -> slot, fixed at its first run (routeHash, or the slot that inspected its code):
   *  every later run follows, so one version keeps one warm isolate. */
  private readonly pins = new LRUCache<string, number>({ max: MAX_PINS });
  /** When a hot version's run may go to a worker other than its home (spill.ts). */
  private readonly spill = new SpillPolicy();

  constructor(private readonly opts: SandboxPoolOptions) {
    this.size = Math.max(1, Math.floor(opts.size ?? os.availableParallelism()));
    this.maxCalls = opts.maxCallsPerWorker ?? 1_000_000;
    this.maxRssBytes = (opts.maxRssMb ?? 1024) * 1024 * 1024;
    this.execArgv = ['--no-node-snapshot', '--import', tsxLoaderUrl()];
    this.env = workerEnv(opts, this.nonce);
  }

  /** Spawns every worker; resolves when all are ready. */
  start(): Promise<void> {
    this.started ??= this.startAll();
    return this.started;
  }

  private async startAll(): Promise<void> {
    for (let i = 0; i < this.size; i++) {
      const slot = { index: i, failures: 0, next: null } as Slot;
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

  /** Runs one call tree in the worker its root maps to. Never rejects: failures are RunResults.
   *  `hooks.egress` makes the tree's fetches (run-hooks.ts); without it they are EFFECT_FORBIDDEN. */
  run(spec: RunSpec, hooks?: RunHooks): Promise<RunResult> {
    if (this.closed || this.slots.length === 0) {
      const why = this.closed ? 'the sandbox pool is closed' : 'the sandbox pool is not started';
      return Promise.resolve({ ok: false, error: fail('SANDBOX_CRASHED', why, {}).toWire(), durationMs: 0 });
    }
    this.runs++;
    const home = this.slotOf(spec.root);
    const busy = this.slots.length > 1 && this.slots[home].current.pending.size >= SPILL_AT;
    const slot = busy ? this.spill.choose(spec.root, home, this.slots.map((s) => ({ load: s.current.pending.size, available: s.current.ready && !s.current.retiring }))) : home;
    const h = this.slots[slot].current;
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
      const p: Pending = { kind: 'run', resolve, watchdog: this.watchdog(h, id, Math.max(0, deadline - Date.now()) + WATCHDOG_GRACE_MS), started: performance.now(), invocationId: spec.invocationId, root: spec.root, hooks };
      h.pending.set(id, p);
      h.send(hooks?.egress ? { t: 'run', id, spec, egress: true } : { t: 'run', id, spec });
    });
  }

  /** The slot of a root: decided at its first run (the slot that inspected its code, if recently,
   *  else by hash), then remembered so later runs skip the lookups. */
  private slotOf(root: string): number {
    // peek: a lookup does not refresh a pin, the oldest pinned is dropped first (as before).
    const pinned = this.pins.peek(root);
    if (pinned !== undefined) return pinned;
    let slot = routeHash(root) % this.slots.length;
    if (this.inspectedOn.size > 0) {
      const code = this.opts.versions.getVersion(root)?.compiled;
      const seen = code === undefined ? undefined : this.inspectedOn.get(code);
      if (code !== undefined && seen) {
        this.inspectedOn.delete(code);
        if (Date.now() - seen.at < INSPECTED_KEEP_MS && seen.slot < this.slots.length) slot = seen.slot;
      }
    }
    this.pins.set(root, slot);
    return slot;
  }

  /** Evaluates a module in a sandbox and reports its exports. Rejects with COMPILE_ERROR.
   *  `memoryMb`: the limit the version will run with, when known (default: the manifest default);
   *  the worker keeps the inspection's isolate and the first run of this code adopts it. */
  inspect(code: string, opts: { memoryMb?: number } = {}): Promise<Inspection> {
    if (this.closed || this.slots.length === 0) {
      return Promise.reject(fail('SANDBOX_CRASHED', this.closed ? 'the sandbox pool is closed' : 'the sandbox pool is not started', {}));
    }
    let slot = this.slots[0];
    for (const s of this.slots) if (s.current.pending.size < slot.current.pending.size) slot = s;
    const h = slot.current;
    const id = ++this.seq;
    return new Promise<Inspection>((resolve, reject) => {
      const ok = (i: Inspection) => {
        this.inspectedOn.set(code, { slot: slot.index, at: Date.now() });
        resolve(i);
      };
      h.pending.set(id, { kind: 'inspect', resolve: ok, reject, watchdog: this.watchdog(h, id, INSPECT_WATCHDOG_MS) });
      h.send({ t: 'inspect', id, code, memoryMb: opts.memoryMb });
    });
  }

  /** Tells every worker that these versions will not be called again (disposed once drained). */
  retire(hashes: string[]): void {
    if (hashes.length === 0) return;
    for (const hash of hashes) this.pins.delete(hash);
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
        exits.push(new Promise<void>((r) => child.once('close', () => r())));
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
        try {
          for (const m of unbatch<FromWorker>(frame)) this.onMessage(h, m);
        } catch (e) {
          // A message this code cannot handle means the worker is not the worker it should be
          // (its isolates run hostile code): it goes, its calls fail with SANDBOX_CRASHED, and
          // the exception stays out of the kernel's event loop.
          this.kill(h, `malformed message: ${e instanceof Error ? e.message : String(e)}`);
        }
      });
      child.on('error', (e) => {
        h.appendStderr(`\n${String(e)}\n`);
        // A failed spawn emits no 'exit'.
        if (child.pid === undefined) this.onExit(h, null, null);
      });
      // 'close', not 'exit': stderr has been read to its end (isolate-host.ts's last line names the
      // calls of an isolate V8 lost control of).
      child.on('close', (code, signal) => this.onExit(h, code, signal));
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
          this.spill.done(p.root, m.result.ok);
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
      case 'fetch':
        answerFetch(h, m);
        return;
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
    const slot = h.slot;
    if (!h.retiring && !this.closed && slot.current === h && slot.next === null && (h.calls >= this.maxCalls || h.rss > this.maxRssBytes)) {
      // Recycle without a stall: this worker keeps serving while its replacement starts (~0.4 s);
      // new runs switch over once it is ready, and this one then drains and stops.
      this.recycles++;
      const next = this.spawn(slot, respawnDelay(slot.failures));
      slot.next = next;
      void next.settled.then((ready) => this.promote(h, next, ready));
    }
    if (h.retiring && h.pending.size === 0) this.shutdown(h);
  }

  /** The replacement of `old` is ready (or died first): switch the slot over and drain `old`. */
  private promote(old: WorkerHandle, next: WorkerHandle, ready: boolean): void {
    const slot = old.slot;
    if (slot.next !== next) return; // `old` died meanwhile and `next` took its place already.
    slot.next = null;
    // A replacement that died before it was ready: `old` keeps serving; a later settle retries.
    if (!ready || this.closed || slot.current !== old) return;
    slot.current = next;
    old.retiring = true;
    if (old.pending.size === 0) this.shutdown(old);
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
    h.killedFor ??= reason;
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
    const stderrTail = h.stderrTail();
    const reason = crashReason(h.killedFor, stderrTail, signal);
    if (held.length > 0 || !expected) {
      // Each call learns only about itself (sandbox/crash-report.ts): never the stderr, never others.
      const culprit = findCulprit(stderrTail, this.nonce);
      const report = { pid: h.pid, signal, exitCode: code, reason, culprit, poolClosed: this.closed };
      for (const p of held) {
        clearTimeout(p.watchdog);
        if (p.kind === 'run' && !expected) this.spill.crashed(p.root);
        if (p.kind === 'run') p.resolve({ ok: false, error: crashError({ ...report, invocationId: p.invocationId }).toWire(), durationMs: performance.now() - p.started });
        else p.reject(crashError(report));
      }
    }
    if (this.closed) return;
    if (!expected) {
      this.crashes++;
      try {
        this.opts.onCrash?.({ pid: h.pid, signal, code, calls: h.calls, reason, stderrTail });
      } catch {
        // The report is best effort.
      }
    }
    const slot = h.slot;
    if (slot.next === h) {
      // A replacement that died before it was ready: counted as a start failure (backoff).
      slot.failures++;
      return;
    }
    if (slot.current !== h) return;
    if (slot.next) {
      // Died while its replacement was starting: the replacement takes over at once.
      slot.current = slot.next;
      slot.next = null;
      return;
    }
    // Replace at once; a worker that never got ready is retried with backoff, so a broken
    // environment cannot make the kernel spin.
    slot.failures = wasReady ? 0 : slot.failures + 1;
    const delay = respawnDelay(slot.failures);
    slot.current = this.spawn(slot, delay);
  }
}
