// The calls of a worker's isolates, as both halves of the host see them (isolate-host.ts keeps
// the isolates, hosted-isolate.ts runs one): what one call asks of the host (CallBinding,
// CallRequest, Invocation) and how it ends (CallOutcome), the limits and timings of the isolate
// life cycle, and the pure pieces: compiling a capability module (imports refused, positions mapped
// to the agent's source), applying a call's buffered writes, and error and stack helpers.

import ivm from 'isolated-vm';
import { fail, SubstrateError, type WireError } from '../capabilities/errors.ts';
import { firstPosition, mapPositions, sourceMapOf } from '../capabilities/source-map.ts';
import { answer, nextWrite, TAG } from './wire.ts';
import { type LogEntry, type VersionPayload } from './protocol.ts';

export type LogLevel = LogEntry['level'];
export const LEVELS: ReadonlySet<string> = new Set(['log', 'info', 'warn', 'error', 'debug']);

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
export type Settlement = CallOutcome | 'retry';

/** How long a probe may wait for an isolate before it is declared stuck. */
export const PROBE_GRACE_MS = 250;
/** Every this often, an isolate with no call in flight whose CPU time grew by more than
 *  IDLE_SPIN_MS is disposed: something (a FinalizationRegistry callback, say) runs outside any call. */
export const IDLE_SWEEP_MS = 2000;
export const IDLE_SPIN_MS = 500;
export const INSPECT_MEMORY_MB = 128;
/** The memory limit an inspection isolate gets when the kernel names none: the manifest default. */
export const DEFAULT_MEMORY_MB = 64;
/** Inspected isolates kept for the first run of their code (one isolate fewer per cold start). */
export const KEEP_INSPECTED = 16;
export const KEEP_INSPECTED_MS = 30_000;
/** The module name of an inspected isolate: stacks of an adopted one are renamed on the host. */
export const INSPECT_FILENAME = 'capability:inspect';
export const INSPECT_EVAL_MS = 2000;
export const SETUP_TIMEOUT_MS = 2000;


/** The payload of an isolate not bound to a version yet (blank or inspected). */
export function placeholder(code: string, memoryMb: number): VersionPayload {
  return { hash: '', name: 'inspect', version: '', compiled: code, manifest: { limits: { timeoutMs: INSPECT_EVAL_MS, memoryMb } } as VersionPayload['manifest'] };
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export const isMemoryError = (msg: string) => /memory limit|out of memory/i.test(msg);
export const isTimeoutError = (msg: string) => /execution timed out/i.test(msg);

/** The isolate's part of a stack isolated-vm copied out (the host frames after its boundary name
 *  this process's files), with positions mapped to the agent's source. */
export function isolateStack(e: unknown, code: string): string | undefined {
  if (!(e instanceof Error) || typeof e.stack !== 'string') return undefined;
  const lines = e.stack.split('\n');
  const boundary = lines.findIndex((l) => l.includes('<isolated-vm boundary>'));
  return mapPositions((boundary === -1 ? lines : lines.slice(0, boundary)).join('\n'), sourceMapOf(code));
}

/** Compiles a capability module in `isolate`: imports are refused. */
export function compileModule(isolate: ivm.Isolate, context: ivm.Context, code: string, filename: string): ivm.Module {
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

/** Applies the buffered writes of a call (bridge.ts `bufferWrite` records) through its binding,
 *  which checks them again; the first refused one is answered (the rest are dropped). */
export function applyWrites(binding: CallBinding, w: string): string | null {
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

export function toWire(e: unknown): WireError {
  if (e instanceof SubstrateError) return e.toWire();
  return { type: 'CAPABILITY_ERROR', message: errorMessage(e), data: { message: errorMessage(e) } };
}
