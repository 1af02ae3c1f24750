// The isolates of one sandbox worker: one warm isolated-vm isolate per version hash (LRU beyond a
// bound; never evicted with calls in flight; retired ones disposed once drained), and everything
// that keeps a call inside its limits: the memory limit, a wall-clock deadline that also covers
// awaiting, detection and disposal of an isolate stuck in a loop no `timeout` covers, and the
// isolate's setTimeout on host timers clamped to the deadlines of the calls in flight. Inspections
// run in full run isolates (started from a blank one built ahead) that are kept a short while, so
// the first run of the same code with the same memory limit adopts one instead of building another.
// Over 500 lines for now: its wire encoding is in sandbox/wire.ts; what stays is one concept, the
// life of one isolate, which #11's remaining split (setup, dispatch, LRU) would cut in three.

import fs from 'node:fs';
import ivm from 'isolated-vm';
import { fail, isErrorType, SubstrateError } from '../capabilities/errors.ts';
import { checkTextDepth, MAX_MESSAGE_DEPTH } from '../capabilities/json-limits.ts';
import type { WireError } from '../capabilities/errors.ts';
import { firstPosition, mapPositions, sourceMapOf } from '../capabilities/source-map.ts';
import { BOOTSTRAP_SOURCE } from './bridge.ts';
import { answer, MAX_PENDING_TIMERS, nextWrite, parseExportFlags, parseInspectAnswer, parseRunAnswer, TAG } from './wire.ts';
import type { Inspection, LogEntry, VersionPayload } from './protocol.ts';
import { MemoryWatchdog, WATCHDOG_INTERVAL_MS } from './memory-watchdog.ts';
import type { WatchedIsolate } from './memory-watchdog.ts';
import { installRuntime, installRuntimeSync } from './runtime.ts';

export type LogLevel = LogEntry['level'];
const LEVELS: ReadonlySet<string> = new Set(['log', 'info', 'warn', 'error', 'debug']);

/** What one call asks of the host: its ctx operations and its logs. */
export interface CallBinding {
  /** A ctx operation (get/set/delete/list/call). Answers a tagged string (bridge.answer); never throws. */
  request(op: string, ns: unknown, a: unknown, b: unknown): string | Promise<string>;
  log(level: LogLevel, message: string): void;
}

export interface Invocation {
  id: string;
  name: string;
  version: string;
  generation: number;
  depth: number;
  deadline: number;
  /** In a job's root call: ctx.invocation.job (capabilities/jobs.ts JobInfo). */
  job?: { id: string; attempt: number; scheduledAt: string };
}

export interface CallRequest {
  entry: 'default' | 'migrate';
  /** JSON text of the input (for `migrate`: of `from`). */
  inputJson: string;
  invocation: Invocation;
  /** Absolute, epoch ms. */
  deadline: number;
  binding: CallBinding;
}

export type CallOutcome = { ok: true; json: string } | { ok: false; error: WireError };
/** A call that provably never started in an isolate found stuck: run it again elsewhere. */
type Settlement = CallOutcome | 'retry';

/** How long a probe may wait for an isolate before it is declared stuck. */
export const PROBE_GRACE_MS = 250;
/** Every this often, an isolate with no call in flight whose CPU time grew by more than
 *  IDLE_SPIN_MS is disposed: something (a FinalizationRegistry callback, say) runs outside any call. */
export const IDLE_SWEEP_MS = 2000;
const IDLE_SPIN_MS = 500;
const INSPECT_MEMORY_MB = 128;
/** The memory limit an inspection isolate gets when the kernel names none: the manifest default. */
const DEFAULT_MEMORY_MB = 64;
/** Inspected isolates kept for the first run of their code (one isolate fewer per cold start). */
const KEEP_INSPECTED = 16;
const KEEP_INSPECTED_MS = 30_000;
/** The module name of an inspected isolate: stacks of an adopted one are renamed on the host. */
const INSPECT_FILENAME = 'capability:inspect';
const INSPECT_EVAL_MS = 2000;
const SETUP_TIMEOUT_MS = 2000;

/** The pool's nonce for the line that names the calls of an isolate V8 lost control of (sandbox/pool.ts
 *  reads it from stderr; capability code can print nothing there, and cannot know the nonce). */
const CATASTROPHE_NONCE = process.env.SUBSTRATE_SANDBOX_NONCE ?? '';

/** V8 lost control of an isolate (a heap allocation past its limit in one step): the process is no
 *  longer trustworthy. Say so on stderr with the isolate's calls, which the pool fails with
 *  MEMORY_LIMIT (every other call of the worker: SANDBOX_CRASHED), and die at once; process.exit()
 *  from this callback hangs, SIGKILL does not. */
function onCatastrophicError(message: string, culprit?: HostedIsolate): void {
  try {
    fs.writeSync(2, `substrate sandbox worker ${process.pid}: catastrophic isolate error: ${message}\n`);
    if (culprit && CATASTROPHE_NONCE) fs.writeSync(2, `\n${CATASTROPHE_NONCE} ${JSON.stringify(culprit.culprit())}\n`);
  } finally {
    process.kill(process.pid, 'SIGKILL');
  }
}

/** The payload of an isolate not bound to a version yet (blank or inspected). */
function placeholder(code: string, memoryMb: number): VersionPayload {
  return { hash: '', name: 'inspect', version: '', compiled: code, manifest: { limits: { timeoutMs: INSPECT_EVAL_MS, memoryMb } } as VersionPayload['manifest'] };
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const isMemoryError = (msg: string) => /memory limit|out of memory/i.test(msg);
const isTimeoutError = (msg: string) => /execution timed out/i.test(msg);

/** The isolate's part of a stack isolated-vm copied out (the host frames after its boundary name
 *  this process's files), with positions mapped to the agent's source. */
function isolateStack(e: unknown, code: string): string | undefined {
  if (!(e instanceof Error) || typeof e.stack !== 'string') return undefined;
  const lines = e.stack.split('\n');
  const boundary = lines.findIndex((l) => l.includes('<isolated-vm boundary>'));
  return mapPositions((boundary === -1 ? lines : lines.slice(0, boundary)).join('\n'), sourceMapOf(code));
}

interface ActiveCall {
  req: CallRequest;
  resolve: (o: Settlement) => void;
  timer: NodeJS.Timeout;
  /** The tagged error of a buffered write the host refused (see bridge.ts): the call fails with it. */
  refused?: string;
}

type Dispatch = (...args: Array<string | number | ivm.Dereference<unknown>>) => unknown;

interface HostedOwner {
  onIdle(h: HostedIsolate): void;
  onDead(h: HostedIsolate): void;
}

/** Compiles a capability module in `isolate`: imports are refused. */
function compileModule(isolate: ivm.Isolate, context: ivm.Context, code: string, filename: string): ivm.Module {
  let module: ivm.Module;
  try {
    module = isolate.compileModuleSync(code, { filename });
  } catch (e) {
    // V8 finds some errors transpiling does not (a redeclared `let`): its message names the
    // position in the compiled code, reported as the position in the agent's source.
    const map = sourceMapOf(code);
    const message = mapPositions(errorMessage(e), map);
    const pos = firstPosition(errorMessage(e), map);
    if (pos === null) throw fail('COMPILE_ERROR', `the module does not compile: ${message}`, { message });
    throw fail('COMPILE_ERROR', `line ${pos.line}, column ${pos.column}: the module does not compile: ${message}`, { message, line: pos.line, column: pos.column });
  }
  const imports = module.dependencySpecifiers;
  if (imports.length > 0) {
    // (Reading a Module after release() crashes the process: let the handle be collected.)
    throw fail('COMPILE_ERROR', 'imports are not available', { message: 'imports are not available', imports: imports.slice(0, 20) });
  }
  try {
    module.instantiateSync(context, () => {
      throw new Error('imports are not available');
    });
  } catch (e) {
    throw fail('COMPILE_ERROR', `the module does not link: ${errorMessage(e)}`, { message: errorMessage(e) });
  }
  return module;
}

/** A fresh isolate and context with the runtime and the bridge installed. `host` serves the bridge. */
function freshContext(memoryMb: number, host: ivm.Reference, owner: HostedIsolate): { isolate: ivm.Isolate; context: ivm.Context; dispatch: ivm.Reference<Dispatch> } {
  const isolate = new ivm.Isolate({ memoryLimit: memoryMb, onCatastrophicError: (m: string) => onCatastrophicError(m, owner) });
  try {
    // Synchronous calls are safe (and several times faster) on an isolate nothing runs in yet.
    const context = isolate.createContextSync();
    installRuntimeSync(context, isolate);
    const dispatch = context.evalClosureSync(BOOTSTRAP_SOURCE, [host], {
      result: { reference: true },
      timeout: SETUP_TIMEOUT_MS,
      filename: 'substrate:bridge',
    }) as ivm.Reference<Dispatch>;
    return { isolate, context, dispatch };
  } catch (e) {
    isolate.dispose();
    throw e;
  }
}

export class HostedIsolate implements WatchedIsolate {
  dead: null | 'timeout' | 'memory' | 'disposed' = null;
  /** What it held when last measured idle (sandbox/memory-watchdog.ts); its limit until then. */
  idleBytes: number;
  private measuredAt = 0;
  /** Waiters of the creation that have not started their call yet: not evictable. */
  pins = 0;
  retired = false;
  private isolate!: ivm.Isolate;
  private context!: ivm.Context;
  private dispatch!: ivm.Reference<Dispatch>;
  /** The memory limit of a blank isolate (built ahead, nothing evaluated yet); 0 otherwise. */
  blankMemoryMb = 0;
  private readonly calls = new Map<number, ActiveCall>();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  /** Characters of answers sent to the isolate that it has not taken yet. */
  private queuedReplyChars = 0;
  private seq = 0;
  private probing = false;
  /** The last call id sent before the pending probe: later ones are queued behind it. */
  private probeMark = 0;
  /** isolate.cpuTime at the last idle sweep, while no call was in flight. */
  private idleCpu: bigint | null = null;
  hasDefault = false;
  hasMigrate = false;
  /** Set while an inspected isolate waits to be adopted by the first run of its code. */
  private inspected: { module: ivm.Module; memoryMb: number; timer: NodeJS.Timeout } | null = null;
  /** Its module was compiled for an inspection: its stacks name `capability:inspect`. */
  private adopted = false;
  /** The compiled code's source map (source-map.ts), once an error needed it; null: none. */
  private sourceMap: ReturnType<typeof sourceMapOf> | undefined;

  private constructor(
    public payload: VersionPayload,
    private readonly owner: HostedOwner,
  ) {
    this.idleBytes = payload.manifest.limits.memoryMb * 1024 * 1024;
  }

  get memoryMb(): number {
    return this.payload.manifest.limits.memoryMb;
  }

  cpuNs(): bigint {
    return this.isolate.cpuTime;
  }

  killForMemory(): void {
    this.die('memory');
  }

  /** Measures what the isolate holds (heap and counted external memory), at most once a second. */
  private measure(): void {
    const now = Date.now();
    if (this.dead || !this.isolate || this.isolate.isDisposed || now - this.measuredAt < 1000) return;
    this.measuredAt = now;
    try {
      this.isolate.getHeapStatistics().then(
        (s) => {
          this.idleBytes = s.total_physical_size + s.externally_allocated_size;
        },
        () => undefined,
      );
    } catch {
      // Disposed meanwhile: nothing to measure.
    }
  }

  get hash(): string {
    return this.payload.hash;
  }

  get inFlight(): number {
    return this.calls.size;
  }

  /** What the pool tells the calls of this isolate when it takes the worker down with it. */
  culprit(): { invocationIds: string[]; name: string; version: string; memoryMb: number } {
    const invocationIds: string[] = [];
    for (const c of this.calls.values()) invocationIds.push(c.req.invocation.id);
    const { name, version, manifest } = this.payload;
    return { invocationIds, name, version, memoryMb: manifest.limits.memoryMb };
  }

  /** Builds the isolate of a version and evaluates its module within `deadline`. */
  static async create(payload: VersionPayload, deadline: number, owner: HostedOwner): Promise<HostedIsolate> {
    const h = new HostedIsolate(payload, owner);
    const { name, version, manifest } = payload;
    const hostRef = new ivm.Reference(h.serve);
    let isolate: ivm.Isolate | undefined;
    try {
      const fresh = freshContext(manifest.limits.memoryMb, hostRef, h);
      isolate = fresh.isolate;
      h.isolate = isolate;
      h.dispatch = fresh.dispatch;
      const module = compileModule(isolate, fresh.context, payload.compiled, `capability:${name}@${version}`);
      const remaining = Math.ceil(deadline - Date.now());
      if (remaining <= 0) throw h.timeoutError();
      try {
        await module.evaluate({ timeout: remaining });
      } catch (e) {
        const msg = errorMessage(e);
        if (isMemoryError(msg) || isolate.isDisposed) throw h.memoryError();
        if (isTimeoutError(msg)) throw h.timeoutError();
        throw fail('CAPABILITY_ERROR', `the module threw while loading: ${msg}`, {
          name,
          version,
          message: msg,
          stack: isolateStack(e, payload.compiled),
        });
      }
      const flags = (await h.dispatch.apply(undefined, ['bind', module.namespace.derefInto(), JSON.stringify(manifest.state.shared)], {
        timeout: SETUP_TIMEOUT_MS,
      })) as string;
      ({ hasDefault: h.hasDefault, hasMigrate: h.hasMigrate } = parseExportFlags(flags));
      h.measure();
      return h;
    } catch (e) {
      if (isolate && !isolate.isDisposed) isolate.dispose();
      if (e instanceof SubstrateError) throw e;
      const msg = errorMessage(e);
      if (isMemoryError(msg)) throw h.memoryError();
      throw fail('CAPABILITY_ERROR', `the isolate could not be set up: ${msg}`, { name, version, message: msg });
    }
  }

  /** Builds a full run isolate (runtime, bridge) for `code`, evaluates the module once and reports
   *  its exports. The isolate stays unbound (no call can run in it) until `adopt`. */
  static async inspect(code: string, memoryMb: number, owner: HostedOwner, blank?: HostedIsolate): Promise<{ hosted: HostedIsolate; inspection: Inspection }> {
    const h = blank ?? new HostedIsolate(placeholder(code, memoryMb), owner);
    h.payload = placeholder(code, memoryMb);
    let isolate: ivm.Isolate | undefined = blank?.isolate;
    let timedOut = false;
    // A wall-clock guard: top-level code after an await is not covered by `timeout`.
    const guard = setTimeout(() => {
      timedOut = true;
      if (isolate && !isolate.isDisposed) isolate.dispose();
    }, INSPECT_EVAL_MS + 1000);
    try {
      if (!blank) {
        const fresh = freshContext(memoryMb, new ivm.Reference(h.serve), h);
        h.isolate = fresh.isolate;
        h.context = fresh.context;
        h.dispatch = fresh.dispatch;
      }
      isolate = h.isolate;
      const module = compileModule(isolate, h.context, code, INSPECT_FILENAME);
      try {
        await module.evaluate({ timeout: INSPECT_EVAL_MS });
      } catch (e) {
        const msg = errorMessage(e);
        const why = isTimeoutError(msg) ? 'did not finish loading in time' : isMemoryError(msg) || isolate.isDisposed && !timedOut ? 'exceeded its memory limit while loading' : `threw while loading: ${msg}`;
        const stack = why.startsWith('threw') ? isolateStack(e, code) : undefined;
        const pos = stack === undefined ? null : firstPosition(stack, null);
        if (pos === null) throw fail('COMPILE_ERROR', `the module ${why}`, { message: msg });
        throw fail('COMPILE_ERROR', `line ${pos.line}, column ${pos.column}: the module ${why}`, { message: msg, line: pos.line, column: pos.column, stack });
      }
      const r = (await h.dispatch.apply(undefined, ['inspect', module.namespace.derefInto()], { timeout: INSPECT_EVAL_MS })) as string;
      const answered = parseInspectAnswer(r);
      if (!answered.ok) throw fail('COMPILE_ERROR', answered.why, { message: answered.why });
      const text = answered.manifestText;
      // The manifest goes on to the kernel's recursive walkers (validation, canonical JSON, ajv).
      checkTextDepth(text, 'the manifest export', { what: 'manifest' }, MAX_MESSAGE_DEPTH);
      const inspection: Inspection = { manifest: text === '' ? undefined : JSON.parse(text), hasDefault: answered.hasDefault, hasMigrate: answered.hasMigrate };
      if (timedOut || isolate.isDisposed) throw fail('COMPILE_ERROR', 'the module did not finish loading in time', { message: 'the module did not finish loading in time' });
      h.inspected = { module, memoryMb, timer: setTimeout(() => h.die('disposed'), KEEP_INSPECTED_MS) };
      h.inspected.timer.unref();
      h.measure();
      return { hosted: h, inspection };
    } catch (e) {
      if (isolate && !isolate.isDisposed) isolate.dispose();
      h.dead = 'disposed';
      if (e instanceof SubstrateError) throw e;
      const msg = timedOut ? 'the module did not finish loading in time' : errorMessage(e);
      throw fail('COMPILE_ERROR', msg, { message: msg });
    } finally {
      clearTimeout(guard);
    }
  }

  /** A fresh isolate with the runtime and the bridge, built ahead off this thread (async isolate
   *  calls) so that an inspection starts from it: no capability code has run in it. */
  static async blank(memoryMb: number, owner: HostedOwner): Promise<HostedIsolate> {
    const h = new HostedIsolate(placeholder('', memoryMb), owner);
    const isolate = new ivm.Isolate({ memoryLimit: memoryMb, onCatastrophicError: (m: string) => onCatastrophicError(m, h) });
    try {
      const context = await isolate.createContext();
      await installRuntime(context, isolate);
      h.dispatch = (await context.evalClosure(BOOTSTRAP_SOURCE, [new ivm.Reference(h.serve)], {
        result: { reference: true },
        timeout: SETUP_TIMEOUT_MS,
        filename: 'substrate:bridge',
      })) as ivm.Reference<Dispatch>;
      h.isolate = isolate;
      h.context = context;
      h.blankMemoryMb = memoryMb;
      return h;
    } catch (e) {
      if (!isolate.isDisposed) isolate.dispose();
      throw e;
    }
  }

  /** Whether the first run of `payload` may take over this inspected isolate: same code, same
   *  memory limit (an isolate's limit is fixed when it is built). */
  fits(payload: VersionPayload): boolean {
    return this.inspected !== null && !this.dead && this.payload.compiled === payload.compiled && this.inspected.memoryMb === payload.manifest.limits.memoryMb;
  }

  /** Binds an inspected isolate to its version: the module, evaluated once by the inspection, is
   *  not evaluated again. */
  async adopt(payload: VersionPayload): Promise<HostedIsolate> {
    const kept = this.inspected;
    if (!kept || this.dead) throw fail('CAPABILITY_ERROR', 'the inspected isolate is gone', { name: payload.name, version: payload.version });
    clearTimeout(kept.timer);
    this.inspected = null;
    this.payload = payload;
    this.adopted = true;
    try {
      const flags = (await this.dispatch.apply(undefined, ['bind', kept.module.namespace.derefInto(), JSON.stringify(payload.manifest.state.shared)], {
        timeout: SETUP_TIMEOUT_MS,
      })) as string;
      ({ hasDefault: this.hasDefault, hasMigrate: this.hasMigrate } = parseExportFlags(flags));
      return this;
    } catch (e) {
      this.die('disposed');
      throw fail('CAPABILITY_ERROR', `the isolate could not be set up: ${errorMessage(e)}`, { name: payload.name, version: payload.version, message: errorMessage(e) });
    }
  }

  /** Runs one call: resolves with its output JSON or its typed error, at the latest at its deadline. */
  call(req: CallRequest): Promise<Settlement> {
    // Handed an isolate that died meanwhile: the call never ran in it, so it may run elsewhere.
    if (this.dead) return Promise.resolve('retry');
    const remaining = Math.ceil(req.deadline - Date.now());
    if (remaining <= 0) return Promise.resolve({ ok: false, error: this.timeoutError().toWire() });
    const id = ++this.seq;
    return new Promise<Settlement>((resolve) => {
      const timer = setTimeout(() => this.expire(id), remaining);
      this.calls.set(id, { req, resolve, timer });
      // `timeout` bounds the synchronous part (and its microtasks); the result comes as `done`.
      this.send(['run', id, req.entry, req.inputJson, JSON.stringify(req.invocation)], remaining, id);
    });
  }

  /** A message into the isolate. A failure of the task it starts is classified here: a timeout
   *  or a memory death ends calls; anything else is an unhandled rejection of capability code. */
  private send(args: [string, ...Array<string | number>], timeout: number, callId: number): Promise<unknown> {
    let p: Promise<unknown>;
    try {
      p = this.dispatch.apply(undefined, args, { timeout: Math.max(1, timeout) });
    } catch (e) {
      p = Promise.reject(e);
    }
    return p.catch((e: unknown) => this.onTaskError(e, callId));
  }

  dispose(): void {
    this.die('disposed');
  }

  /** Called by the idle sweep: code running with no call in flight is disposed with its isolate. */
  sweepIdle(): void {
    if (this.dead || this.calls.size > 0) {
      this.idleCpu = null;
      return;
    }
    const cpu = this.isolate.cpuTime;
    if (this.idleCpu !== null && cpu - this.idleCpu > BigInt(IDLE_SPIN_MS) * 1_000_000n) {
      this.die('timeout');
      return;
    }
    this.idleCpu = cpu;
  }

  // ---- the bridge's host function: callId, op, ns, a, b, requestId, writes; primitives only ----
  private readonly serve = (callId: unknown, op: unknown, ns: unknown, a: unknown, b: unknown, requestId: unknown, w: unknown): string | undefined => {
    if (typeof w === 'string' && w.length > 0) {
      // The call's buffered writes, applied before what the call does next; a call that is over
      // has its writes dropped (they would land in a closed savepoint anyway).
      const c = typeof callId === 'number' ? this.calls.get(callId) : undefined;
      if (c && !c.refused) {
        let refused: string | null;
        try {
          refused = applyWrites(c.req.binding, w);
        } catch (e) {
          refused = answer.error(toWire(e));
        }
        if (refused !== null) {
          c.refused = refused;
          // Tell the isolate, so that the call's next writes fail there instead of being sent.
          if (refused[0] === TAG.typed) this.send(['refuse', callId as number, refused.slice(1)], Math.ceil(c.req.deadline - Date.now()), callId as number);
        }
      }
    }
    switch (op) {
      case 'done':
        if (typeof callId === 'number' && this.calls.has(callId)) {
          const refused = this.calls.get(callId)?.refused;
          const outcome = this.fromAnswer(a);
          this.settle(callId, refused && outcome.ok ? this.fromAnswer(refused) : outcome);
        }
        return undefined;
      case 'flush':
        return undefined;
      case 'barrier': {
        const refused = typeof callId === 'number' ? this.calls.get(callId)?.refused : undefined;
        return refused !== undefined && refused[0] === TAG.typed ? refused.slice(1) : undefined;
      }
      case 'log': {
        const call = callId === 0 ? this.latestCall() : this.calls.get(callId as number);
        if (call && typeof ns === 'string' && LEVELS.has(ns) && typeof a === 'string') call.req.binding.log(ns as LogLevel, a);
        return undefined;
      }
      case 'setTimeout':
        this.setTimer(a, b);
        return undefined;
      case 'clearTimeout': {
        const t = this.timers.get(a as number);
        if (t) {
          clearTimeout(t);
          this.timers.delete(a as number);
        }
        return undefined;
      }
    }
    // A ctx operation of a call that is over gets no answer: its continuation never runs, and
    // the isolate drops the pending request when it goes idle.
    const call = typeof callId === 'number' ? this.calls.get(callId) : undefined;
    if (!call || typeof requestId !== 'number') return undefined;
    let r: string | Promise<string>;
    try {
      // A refused buffered write fails the call's next request (the write itself had resolved).
      r = call.refused ?? call.req.binding.request(String(op), ns, a, b);
    } catch (e) {
      r = answer.error(toWire(e));
    }
    if (typeof r === 'string') this.reply(callId as number, requestId, r);
    else
      r.then(
        (s) => this.reply(callId as number, requestId, s),
        (e: unknown) => this.reply(callId as number, requestId, answer.error(toWire(e))),
      );
    return undefined;
  };

  private reply(callId: number, requestId: number, r: string): void {
    const call = this.calls.get(callId);
    if (!call || this.dead) return;
    // Answers wait in isolated-vm's queue until the isolate takes them: an isolate that asks in a
    // loop and never yields would make the host hold them all. Beyond its own memory limit's worth
    // an answer becomes MEMORY_LIMIT (the isolate could not have held them all anyway).
    const budget = this.payload.manifest.limits.memoryMb * 1024 * 1024;
    if (this.queuedReplyChars + r.length > budget && r.length > 64) r = answer.error(this.memoryError({ what: 'unconsumed ctx answers' }).toWire());
    const size = r.length;
    this.queuedReplyChars += size;
    this.send(['reply', requestId, r], Math.ceil(call.req.deadline - Date.now()), callId).finally(() => {
      this.queuedReplyChars -= size;
    });
  }

  private latestCall(): ActiveCall | undefined {
    let last: ActiveCall | undefined;
    for (const c of this.calls.values()) last = c;
    return last;
  }

  private latestDeadline(): number {
    let latest = 0;
    for (const c of this.calls.values()) if (c.req.deadline > latest) latest = c.req.deadline;
    return latest;
  }

  private setTimer(id: unknown, delay: unknown): void {
    if (typeof id !== 'number' || this.dead || this.calls.size === 0 || this.timers.size >= MAX_PENDING_TIMERS) return;
    const left = this.latestDeadline() - Date.now();
    if (left <= 0) return;
    const ms = Math.max(0, Math.min(typeof delay === 'number' && delay > 0 ? delay : 0, left));
    this.timers.set(
      id,
      setTimeout(() => {
        this.timers.delete(id);
        this.fire(id);
      }, ms),
    );
  }

  private fire(id: number): void {
    if (this.dead || this.calls.size === 0) return;
    const left = Math.ceil(this.latestDeadline() - Date.now());
    if (left <= 0) return;
    this.send(['fire', id], left, 0);
  }

  private onTaskError(e: unknown, callId: number): void {
    if (this.dead) return;
    const msg = errorMessage(e);
    if (isMemoryError(msg) || this.isolate.isDisposed) {
      this.die('memory');
    } else if (isTimeoutError(msg)) {
      // A task ran out of time: the call it served (if any) is over; the isolate is probed.
      if (this.calls.has(callId)) {
        this.settle(callId, { ok: false, error: this.timeoutError().toWire() });
        if (!this.dead && this.calls.size > 0) this.send(['end', callId], PROBE_GRACE_MS, 0);
      }
      this.probe();
    } else {
      // isolated-vm throws a promise rejection nobody handled into the task that left it.
      // A timer task (callId 0) is attributed like console output; a call's own task to it alone.
      const call = callId === 0 ? this.latestCall() : this.calls.get(callId);
      call?.req.binding.log('error', `Unhandled promise rejection: ${msg}`);
    }
  }

  private expire(id: number): void {
    if (!this.calls.has(id)) return;
    this.settle(id, { ok: false, error: this.timeoutError().toWire() });
    // Its requests will never be answered: the isolate stops counting them.
    if (!this.dead && this.calls.size > 0) this.send(['end', id], PROBE_GRACE_MS, 0);
    // The call is over for its caller; whatever it left running must not hold the isolate.
    this.probe();
  }

  /** Asks the isolate to answer; one that does not within the grace is stuck (a loop after an
   *  await, which no `timeout` covers) and is disposed. */
  private probe(): void {
    if (this.probing || this.dead) return;
    this.probing = true;
    this.probeMark = this.seq;
    const timer = setTimeout(() => {
      this.probing = false;
      this.die('timeout');
    }, PROBE_GRACE_MS);
    this.dispatch.apply(undefined, ['probe'], { timeout: PROBE_GRACE_MS }).then(
      () => {
        clearTimeout(timer);
        this.probing = false;
      },
      (e: unknown) => {
        clearTimeout(timer);
        this.probing = false;
        if (isMemoryError(errorMessage(e)) || this.isolate.isDisposed) this.die('memory');
      },
    );
  }

  private settle(id: number, outcome: Settlement): void {
    const c = this.calls.get(id);
    if (!c) return;
    this.calls.delete(id);
    clearTimeout(c.timer);
    c.resolve(outcome);
    if (this.calls.size === 0 && !this.dead) {
      // No call in flight: no timer may outlive them (a 1e9 ms setTimeout keeps nothing alive).
      for (const t of this.timers.values()) clearTimeout(t);
      this.timers.clear();
      this.dispatch.applyIgnored(undefined, ['clear']);
      this.measure();
      this.owner.onIdle(this);
    }
  }

  private die(reason: 'timeout' | 'memory' | 'disposed'): void {
    if (this.dead) return;
    this.dead = reason;
    if (this.inspected) {
      clearTimeout(this.inspected.timer);
      this.inspected = null;
    }
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    try {
      if (this.isolate && !this.isolate.isDisposed) this.isolate.dispose();
    } catch {
      // Already gone.
    }
    const err = this.deathError().toWire();
    // Tasks run in order: a call sent after the unanswered probe never ran a line.
    for (const id of [...this.calls.keys()]) this.settle(id, reason === 'timeout' && id > this.probeMark ? 'retry' : { ok: false, error: err });
    this.owner.onDead(this);
  }

  private fromAnswer(r: unknown): CallOutcome {
    const a = parseRunAnswer(r);
    if (a.kind === 'output') return { ok: true, json: a.json };
    if (a.kind === 'typed') {
      // The bridge's own caps (pending timers, requests) say which; the isolate's limit goes with it.
      if (a.error.type === 'MEMORY_LIMIT') return { ok: false, error: { ...a.error, data: { ...this.memoryError().data, ...a.error.data } } };
      if (isErrorType(a.error.type)) return { ok: false, error: a.error };
      return { ok: false, error: this.capabilityError(a.error.message).toWire() };
    }
    // What isolated-vm's allocator says when a buffer would pass the memory limit (memory-guards.ts
    // makes resizable buffers and Intl objects allocate through it too).
    if (a.message === 'Array buffer allocation failed') return { ok: false, error: this.memoryError({ what: 'ArrayBuffer' }).toWire() };
    return { ok: false, error: this.capabilityError(a.message, a.stack).toWire() };
  }

  private capabilityError(message: string, stack?: string): SubstrateError {
    const { name, version } = this.payload;
    if (this.adopted && stack !== undefined) stack = stack.split(INSPECT_FILENAME).join(`capability:${name}@${version}`);
    // Decoded on the first error only: most versions never throw.
    if (this.sourceMap === undefined) this.sourceMap = sourceMapOf(this.payload.compiled);
    message = mapPositions(message, this.sourceMap);
    if (stack !== undefined) stack = mapPositions(stack, this.sourceMap);
    return fail('CAPABILITY_ERROR', message, { name, version, message, stack });
  }

  private timeoutError(): SubstrateError {
    const { name, version, manifest } = this.payload;
    const timeoutMs = manifest.limits.timeoutMs;
    return fail('TIMEOUT', `${name}@${version} did not finish within its deadline (timeoutMs ${timeoutMs})`, { timeoutMs, name, version });
  }

  private memoryError(extra: { what?: string } = {}): SubstrateError {
    const { name, version, manifest } = this.payload;
    const memoryMb = manifest.limits.memoryMb;
    return fail('MEMORY_LIMIT', `${name}@${version} exceeded its memory limit of ${memoryMb} MB`, { memoryMb, name, version, ...extra });
  }

  private deathError(): SubstrateError {
    if (this.dead === 'memory') return this.memoryError();
    return this.timeoutError();
  }
}

/** Applies the buffered writes of a call (bridge.ts `bufferWrite` records) through its binding,
 *  which checks them again; the first refused one is answered (the rest are dropped). */
function applyWrites(binding: CallBinding, w: string): string | null {
  let i = 0;
  while (i < w.length) {
    const rec = nextWrite(w, i);
    if (rec === null) return answer.error(fail('CAPABILITY_ERROR', 'malformed buffered writes', {}).toWire());
    i = rec.next;
    const { kind, ns, key, value } = rec.write;
    const r = binding.request(kind, ns, key, value);
    if (typeof r !== 'string') {
      r.catch(() => undefined);
      return answer.error(fail('CAPABILITY_ERROR', 'a write did not answer synchronously', {}).toWire());
    }
    if (r[0] === TAG.typed) return r;
  }
  return null;
}

function toWire(e: unknown): WireError {
  if (e instanceof SubstrateError) return e.toWire();
  return { type: 'CAPABILITY_ERROR', message: errorMessage(e), data: { message: errorMessage(e) } };
}

export interface IsolateHostStats {
  isolates: number;
  created: number;
  evicted: number;
  died: number;
  /** Runs that took over the isolate of their code's inspection. */
  adopted: number;
}

/** The warm isolates of one worker, by version hash, least recently used first. */
export class IsolateHost implements HostedOwner {
  private readonly live = new Map<string, HostedIsolate>();
  private readonly creating = new Map<string, { promise: Promise<HostedIsolate>; waiters: number }>();
  private readonly draining = new Set<HostedIsolate>();
  /** Inspected isolates by code, oldest first, waiting for the first run of their code. */
  private readonly inspected = new Map<string, HostedIsolate>();
  private created = 0;
  private adopted = 0;
  /** A blank isolate with the default memory limit for the next inspection, refilled after use. */
  private spare: HostedIsolate | null = null;
  private spareBuilding = false;
  private closed = false;
  private evicted = 0;
  private died = 0;

  private readonly sweeper: NodeJS.Timeout;
  private readonly watchdog: MemoryWatchdog;
  private readonly watchTimer: NodeJS.Timeout;

  constructor(private readonly opts: { maxIsolates: number; rssHeadroomMb?: number }) {
    this.watchdog = new MemoryWatchdog(() => this.everyIsolate(), undefined, opts.rssHeadroomMb);
    this.sweeper = setInterval(() => {
      for (const h of [...this.live.values(), ...this.draining, ...this.inspected.values()]) h.sweepIdle();
    }, IDLE_SWEEP_MS);
    this.sweeper.unref();
    this.watchTimer = setInterval(() => this.watchdog.tick(), WATCHDOG_INTERVAL_MS);
    this.watchTimer.unref();
    this.refill();
  }

  private refill(): void {
    if (this.spare || this.spareBuilding || this.closed) return;
    this.spareBuilding = true;
    HostedIsolate.blank(DEFAULT_MEMORY_MB, this).then(
      (h) => {
        this.spareBuilding = false;
        if (this.closed) h.dispose();
        else this.spare = h;
      },
      () => {
        this.spareBuilding = false;
      },
    );
  }

  private takeSpare(memoryMb: number): HostedIsolate | undefined {
    const s = this.spare;
    if (!s || s.dead || s.blankMemoryMb !== memoryMb) return undefined;
    this.spare = null;
    s.blankMemoryMb = 0;
    // After this tick: the inspection's own synchronous work goes first.
    setImmediate(() => this.refill());
    return s;
  }

  /** Runs one call in the isolate of `payload`, creating it if needed. Never rejects. */
  async call(payload: VersionPayload, req: CallRequest): Promise<CallOutcome> {
    for (let attempt = 0; ; attempt++) {
      const s = await this.callOnce(payload, req);
      if (s !== 'retry') return s;
      if (attempt >= 2) return { ok: false, error: fail('TIMEOUT', `${payload.name}@${payload.version} found no responsive isolate`, { timeoutMs: payload.manifest.limits.timeoutMs, name: payload.name, version: payload.version }).toWire() };
    }
  }

  private callOnce(payload: VersionPayload, req: CallRequest): Promise<Settlement> {
    const h = this.live.get(payload.hash);
    if (h && !h.dead) {
      this.live.delete(payload.hash);
      this.live.set(payload.hash, h);
      return h.call(req);
    }
    return this.callCold(payload, req);
  }

  private async callCold(payload: VersionPayload, req: CallRequest): Promise<Settlement> {
    let h: HostedIsolate;
    try {
      h = await this.acquire(payload, req.deadline);
    } catch (e) {
      return { ok: false, error: toWire(e) };
    }
    h.pins--;
    return h.call(req);
  }

  private acquire(payload: VersionPayload, deadline: number): Promise<HostedIsolate> {
    let rec = this.creating.get(payload.hash);
    if (!rec) {
      const r: { promise: Promise<HostedIsolate>; waiters: number } = { promise: Promise.resolve(null as never), waiters: 0 };
      const kept = this.inspected.get(payload.compiled);
      let creation: Promise<HostedIsolate>;
      if (kept && kept.fits(payload)) {
        this.inspected.delete(payload.compiled);
        this.adopted++;
        creation = kept.adopt(payload).catch(() => HostedIsolate.create(payload, deadline, this));
      } else {
        creation = HostedIsolate.create(payload, deadline, this);
      }
      r.promise = creation.then(
        (h) => {
          this.creating.delete(payload.hash);
          this.created++;
          h.pins += r.waiters;
          this.live.set(payload.hash, h);
          this.evict();
          return h;
        },
        (e: unknown) => {
          this.creating.delete(payload.hash);
          throw e;
        },
      );
      this.creating.set(payload.hash, r);
      rec = r;
    }
    rec.waiters++;
    return rec.promise;
  }

  /** Disposes the isolates of superseded versions once their calls have drained. */
  retire(hashes: string[]): void {
    for (const hash of hashes) {
      const h = this.live.get(hash);
      if (!h) continue;
      this.live.delete(hash);
      h.retired = true;
      if (h.inFlight === 0 && h.pins === 0) h.dispose();
      else this.draining.add(h);
    }
  }

  onIdle(h: HostedIsolate): void {
    if (h.retired) {
      this.draining.delete(h);
      h.dispose();
      return;
    }
    if (this.live.size > this.opts.maxIsolates) this.evict();
  }

  onDead(h: HostedIsolate): void {
    if (h.dead !== 'disposed') this.died++;
    if (this.inspected.get(h.payload.compiled) === h) this.inspected.delete(h.payload.compiled);
    this.draining.delete(h);
    if (this.live.get(h.hash) === h) this.live.delete(h.hash);
  }

  private evict(): void {
    if (this.live.size <= this.opts.maxIsolates) return;
    for (const h of [...this.live.values()]) {
      if (this.live.size <= this.opts.maxIsolates) break;
      if (h.inFlight > 0 || h.pins > 0) continue;
      this.live.delete(h.hash);
      this.evicted++;
      h.dispose();
    }
  }

  /** Evaluates a module in a sandbox and reports its exports. Rejects with COMPILE_ERROR. The
   *  isolate is built with `memoryMb` (the limit the kernel expects the version to have) and kept a
   *  short while: the first run of the same code with that limit adopts it instead of building
   *  another. A module that needs more memory to load is inspected again in a throwaway isolate. */
  async inspect(code: string, memoryMb?: number): Promise<Inspection> {
    const limit = typeof memoryMb === 'number' && Number.isInteger(memoryMb) && memoryMb >= 8 && memoryMb <= 512 ? memoryMb : DEFAULT_MEMORY_MB;
    let result: { hosted: HostedIsolate; inspection: Inspection };
    try {
      result = await HostedIsolate.inspect(code, limit, this, this.takeSpare(limit));
    } catch (e) {
      if (limit >= INSPECT_MEMORY_MB || !(e instanceof SubstrateError) || !/memory limit/.test(e.message)) throw e;
      const retry = await HostedIsolate.inspect(code, INSPECT_MEMORY_MB, this);
      retry.hosted.dispose();
      return retry.inspection;
    }
    const old = this.inspected.get(code);
    if (old) {
      this.inspected.delete(code);
      old.dispose();
    }
    this.inspected.set(code, result.hosted);
    while (this.inspected.size > KEEP_INSPECTED) {
      const [oldest, h] = this.inspected.entries().next().value as [string, HostedIsolate];
      this.inspected.delete(oldest);
      h.dispose();
    }
    return result.inspection;
  }

  private *everyIsolate(): Iterable<HostedIsolate> {
    for (const h of this.live.values()) if (!h.dead) yield h;
    for (const h of this.draining) if (!h.dead) yield h;
    for (const h of this.inspected.values()) if (!h.dead) yield h;
    if (this.spare && !this.spare.dead) yield this.spare;
  }

  stats(): IsolateHostStats {
    return { isolates: this.live.size + this.draining.size + this.inspected.size, created: this.created, evicted: this.evicted, died: this.died, adopted: this.adopted };
  }

  /** Disposes every isolate (worker shutdown). */
  close(): void {
    this.closed = true;
    this.spare?.dispose();
    this.spare = null;
    clearInterval(this.sweeper);
    clearInterval(this.watchTimer);
    for (const h of [...this.live.values(), ...this.draining, ...this.inspected.values()]) h.dispose();
    this.inspected.clear();
    this.live.clear();
    this.draining.clear();
  }
}
