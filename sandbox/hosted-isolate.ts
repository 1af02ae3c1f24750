// Over 500 lines because it is one class whose parts share the isolate's private state (calls,
// timers, probes); the pieces that share none are in isolate-calls.ts.
// The life of one isolate: built with the runtime and the bridge installed (or blank, ahead of
// need), bound to a version or inspected and later adopted, serving the bridge's messages, running
// calls within their memory limit and a wall-clock deadline that also covers awaiting, host timers
// clamped to the deadlines of the calls in flight, probes that find an isolate stuck in a loop no
// `timeout` covers, and its death (timeout, memory, disposal) failing what it held.

import fs from 'node:fs';
import ivm from 'isolated-vm';
import { fail, isErrorType, SubstrateError } from '../capabilities/errors.ts';
import { checkTextDepth, MAX_MESSAGE_DEPTH } from '../capabilities/json-limits.ts';
import { firstPosition, mapPositions, sourceMapOf } from '../capabilities/source-map.ts';
import { BOOTSTRAP_SOURCE } from './bridge.ts';
import { answer, MAX_PENDING_TIMERS, parseExportFlags, parseInspectAnswer, parseRunAnswer, TAG } from './wire.ts';
import { type Inspection, type VersionPayload } from './protocol.ts';
import { type WatchedIsolate } from './memory-watchdog.ts';
import { installRuntime, installRuntimeSync } from './runtime.ts';
import { type LogLevel, LEVELS, type CallRequest, type CallOutcome, type Settlement, PROBE_GRACE_MS, IDLE_SPIN_MS, KEEP_INSPECTED_MS, INSPECT_FILENAME, INSPECT_EVAL_MS, SETUP_TIMEOUT_MS, placeholder, errorMessage, isMemoryError, isTimeoutError, isolateStack, compileModule, applyWrites, toWire } from './isolate-calls.ts';

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

export interface ActiveCall {
  req: CallRequest;
  resolve: (o: Settlement) => void;
  timer: NodeJS.Timeout;
  /** The tagged error of a buffered write the host refused (see bridge.ts): the call fails with it. */
  refused?: string;
}

export type Dispatch = (...args: Array<string | number | ivm.Dereference<unknown>>) => unknown;

export interface HostedOwner {
  onIdle(h: HostedIsolate): void;
  onDead(h: HostedIsolate): void;
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
    const wanted = typeof delay === 'number' && delay > 0 ? delay : 0;
    // A timer due at or after every call's deadline can never fire in time: not scheduling it
    // keeps it from racing the deadline (it fired first now and then, and the call succeeded).
    if (left <= 0 || wanted >= left) return;
    const ms = wanted;
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
