// One sandbox worker process as the pool sees it: its IPC outbox (messages wait in a backlog
// until the worker says it is ready), the runs and inspections it holds, the version payloads it
// was sent, the tail of its stderr for the operator; and how a worker process is started (its
// file, the tsx loader, an environment with nothing of the kernel's secrets). Routing, recycling
// and crash handling are the pool's (pool.ts).

import type { ChildProcess, Serializable } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { exceeded, type SubstrateError } from '../capabilities/errors.ts';
import { jsonValueDepth, MAX_JSON_DEPTH, tooDeep } from '../capabilities/json-limits.ts';
import { Outbox } from './ipc.ts';
import type { Inspection, RunResult, ToWorker } from './protocol.ts';
import type { RunHooks } from './run-hooks.ts';

const STDERR_TAIL_BYTES = 8192;

/** What of the pool's options reaches a worker's environment. */
export interface WorkerEnvOptions {
  dbPath: string | null;
  maxIsolatesPerWorker?: number;
  workerRssHeadroomMb?: number;
}

export const WORKER_FILE = fileURLToPath(new URL('./worker.ts', import.meta.url));

export function tsxLoaderUrl(): string {
  try {
    return import.meta.resolve('tsx');
  } catch {
    const require = createRequire(import.meta.url);
    return pathToFileURL(path.join(path.dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs')).href;
  }
}

/** Only what a worker needs: the kernel's secrets (tokens, keys) stay out of its environment. */
export function workerEnv(opts: WorkerEnvOptions, nonce: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'TMP', 'TEMP', 'LANG', 'LC_ALL', 'TZ', 'NODE_ENV', 'SYSTEMROOT']) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  env.SUBSTRATE_SANDBOX_DB = opts.dbPath ?? '';
  env.SUBSTRATE_SANDBOX_MAX_ISOLATES = String(opts.maxIsolatesPerWorker ?? 200);
  env.SUBSTRATE_SANDBOX_NONCE = nonce;
  if (opts.workerRssHeadroomMb !== undefined) env.SUBSTRATE_SANDBOX_RSS_HEADROOM_MB = String(opts.workerRssHeadroomMb);
  return env;
}

export type Pending =
  | { kind: 'run'; resolve: (r: RunResult) => void; watchdog: NodeJS.Timeout; started: number; invocationId: string; root: string; hooks?: RunHooks }
  | { kind: 'inspect'; resolve: (i: Inspection) => void; reject: (e: SubstrateError) => void; watchdog: NodeJS.Timeout };

export interface Slot {
  index: number;
  current: WorkerHandle;
  /** The replacement of a worker being recycled, while it starts: `current` serves until it is ready. */
  next: WorkerHandle | null;
  /** Consecutive workers of this slot that died before they were ready. */
  failures: number;
}

export class WorkerHandle {
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
  /** Why the pool killed this worker, if it did. */
  killedFor: string | null = null;
  readonly outbox: Outbox<ToWorker>;
  /** Resolves true when ready, false when the process exits first. */
  readonly settled: Promise<boolean>;
  private settle!: (ready: boolean) => void;

  constructor(readonly slot: Slot) {
    this.outbox = new Outbox<ToWorker>((batch) => {
      if (!this.child?.connected) return;
      try {
        this.child.send(batch as Serializable, () => undefined);
      } catch {
        // Serializing threw (JSON.stringify recurses: an input nested thousands of levels deep,
        // from a caller in this process). Send the batch one by one; only what cannot go fails,
        // and this throw never reaches the setImmediate that flushed the outbox.
        for (const m of Array.isArray(batch) ? batch : [batch]) {
          try {
            this.child.send(m as Serializable, () => undefined);
          } catch (e) {
            this.unsendable(m, e);
          }
        }
      }
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

  /** A message that could not be serialized: the run or inspection it carried fails alone. */
  private unsendable(m: ToWorker, e: unknown): void {
    if (m.t !== 'run' && m.t !== 'inspect') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    clearTimeout(p.watchdog);
    const input = m.t === 'run' ? m.spec.input : null;
    const depth = jsonValueDepth(input, MAX_JSON_DEPTH);
    const err =
      depth > MAX_JSON_DEPTH
        ? tooDeep('the input', jsonValueDepth(input), MAX_JSON_DEPTH, { what: 'input' })
        : exceeded('size', `the call could not be sent to the sandbox: ${e instanceof Error ? e.message : String(e)}`, { what: 'input' });
    if (p.kind === 'run') p.resolve({ ok: false, error: err.toWire(), durationMs: performance.now() - p.started });
    else p.reject(err);
  }

  appendStderr(chunk: string): void {
    this.stderr += chunk;
    if (this.stderr.length > STDERR_TAIL_BYTES * 2) this.stderr = this.stderr.slice(-STDERR_TAIL_BYTES);
  }

  stderrTail(): string {
    return this.stderr.slice(-STDERR_TAIL_BYTES);
  }
}
