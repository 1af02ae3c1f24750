// Validation of capability inputs and outputs that could take long (capabilities/schema.ts: a
// schema that is not `linear`, or a large value): run in an isolate of its own per version, off the
// worker's thread (async isolate calls run on isolated-vm's threads), under the call's deadline and
// the capability's memory limit. A backtracking `pattern` or an O(n²) `uniqueItems` then costs the
// capability its own time, as a loop in its code would, and never stalls the worker's other calls.
// The isolate holds nothing but ajv's generated validator code and its two runtime helpers: no
// capability code runs in it, so a capability cannot tamper with the validation of its output.

import ivm from 'isolated-vm';
import { STANDALONE_RUNTIME, describeError } from '../capabilities/schema.ts';
import type { ValidationResult } from '../capabilities/schema.ts';
import type { VersionPayload } from './protocol.ts';

/** Validator isolates one worker keeps (least recently used beyond it are disposed when idle). */
export const MAX_SCHEMA_ISOLATES = 64;
const SETUP_TIMEOUT_MS = 2000;

export type SchemaCheck =
  | { kind: 'checked'; result: ValidationResult }
  | { kind: 'timeout' }
  | { kind: 'memory' }
  /** The validator itself failed (a `$ref` cycle that recurses past the stack, say). */
  | { kind: 'error'; message: string };

type Which = 'input' | 'output';
type CheckFn = (json: string) => string;

interface Entry {
  isolate: ivm.Isolate;
  context: Promise<ivm.Context>;
  fns: Map<Which, Promise<ivm.Reference<CheckFn>>>;
  inFlight: number;
}

const RUNTIME_SOURCE = `const __runtime = {${Object.entries(STANDALONE_RUNTIME)
  .map(([name, src]) => `${JSON.stringify(name)}: (function () { const exports = {}; ${src}; return exports; })()`)
  .join(',')}};`;

function closureSource(code: string): string {
  return `${RUNTIME_SOURCE}
const module = { exports: {} };
const require = (name) => { const m = __runtime[name]; if (!m) throw new Error('no runtime module ' + name); return m; };
(function (module, exports, require) { ${code}\n})(module, module.exports, require);
const validate = module.exports;
return function (json) {
  if (validate(JSON.parse(json))) return '';
  const e = validate.errors && validate.errors[0];
  return JSON.stringify(e ? { keyword: e.keyword, instancePath: e.instancePath, params: e.params, message: e.message } : {});
};`;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class SchemaIsolates {
  private readonly entries = new Map<string, Entry>();

  /** Validates `json` against the `which` schema of `payload`, whose standalone code is `code`
   *  (sandbox/schema-compiler.ts), by `deadline`. */
  async check(payload: VersionPayload, which: Which, code: string, json: string, deadline: number): Promise<SchemaCheck> {
    const remaining = Math.ceil(deadline - Date.now());
    if (remaining <= 0) return { kind: 'timeout' };
    const entry = this.entry(payload);
    entry.inFlight++;
    try {
      let fn = entry.fns.get(which);
      if (!fn) {
        const source = closureSource(code);
        fn = entry.context.then((ctx) => ctx.evalClosure(source, [], { result: { reference: true }, timeout: SETUP_TIMEOUT_MS, filename: `substrate:${which}Schema` }) as Promise<ivm.Reference<CheckFn>>);
        entry.fns.set(which, fn);
        fn.catch(() => entry.fns.delete(which));
      }
      const ref = await fn;
      const left = Math.ceil(deadline - Date.now());
      if (left <= 0) return { kind: 'timeout' };
      const r = (await ref.apply(undefined, [json], { timeout: left })) as string;
      if (r === '') return { kind: 'checked', result: { ok: true } };
      return { kind: 'checked', result: describeError(JSON.parse(r)) };
    } catch (e) {
      const msg = message(e);
      if (/memory limit|out of memory|disposed/i.test(msg) || entry.isolate.isDisposed) {
        this.drop(payload.hash, entry);
        return { kind: 'memory' };
      }
      if (/execution timed out/i.test(msg)) return { kind: 'timeout' };
      return { kind: 'error', message: msg };
    } finally {
      entry.inFlight--;
      this.evict();
    }
  }

  /** Versions that will not run here again. */
  forget(hashes: string[]): void {
    for (const h of hashes) {
      const e = this.entries.get(h);
      if (e && e.inFlight === 0) this.drop(h, e);
    }
  }

  close(): void {
    for (const [h, e] of [...this.entries]) this.drop(h, e);
  }

  get size(): number {
    return this.entries.size;
  }

  private entry(payload: VersionPayload): Entry {
    let e = this.entries.get(payload.hash);
    if (e && !e.isolate.isDisposed) {
      this.entries.delete(payload.hash);
      this.entries.set(payload.hash, e);
      return e;
    }
    const isolate = new ivm.Isolate({ memoryLimit: payload.manifest.limits.memoryMb });
    e = { isolate, context: isolate.createContext(), fns: new Map(), inFlight: 0 };
    e.context.catch(() => undefined);
    this.entries.set(payload.hash, e);
    return e;
  }

  private drop(hash: string, e: Entry): void {
    if (this.entries.get(hash) === e) this.entries.delete(hash);
    try {
      if (!e.isolate.isDisposed) e.isolate.dispose();
    } catch {
      // Already gone.
    }
  }

  private evict(): void {
    if (this.entries.size <= MAX_SCHEMA_ISOLATES) return;
    for (const [h, e] of this.entries) {
      if (this.entries.size <= MAX_SCHEMA_ISOLATES) break;
      if (e.inFlight === 0) this.drop(h, e);
    }
  }
}
