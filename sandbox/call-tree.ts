// One RunSpec = one call tree, run inside one worker: the root call and every nested ctx.call,
// each validated against its manifest, each nested call in a savepoint of the tree's transaction,
// typed errors carried up unchanged. The isolates themselves are isolate-host's business; this
// module answers what capability code asks through its ctx.

import { LRUCache } from 'lru-cache';
import { nanoid } from 'nanoid';
import { checkEnqueue } from '../capabilities/jobs.ts';
import { asSubstrateError, exceeded, fail } from '../capabilities/errors.ts';
import type { WireError } from '../capabilities/errors.ts';
import { jsonTextDepth, MAX_JSON_DEPTH, tooDeep } from '../capabilities/json-limits.ts';
import { INLINE_VALIDATION_BUDGET, loadStandalone } from '../capabilities/schema.ts';
import type { SchemaCost, ValidationResult, Validator } from '../capabilities/schema.ts';
import { KERNEL_LIMITS } from '../capabilities/types.ts';
import type { Json } from '../capabilities/types.ts';
import { answer } from './bridge.ts';
import type { CallBinding, CallOutcome, Invocation, IsolateHost, LogLevel } from './isolate-host.ts';
import type { LogEntry, RunResult, RunSpec, VersionPayload } from './protocol.ts';
import { compileSchemaCode, warmSchemaCompiler } from './schema-compiler.ts';
import { SchemaIsolates } from './schema-isolates.ts';
import { checkKey, checkValue, replaySource, seedSource, Transaction } from './transaction.ts';
import { treeFetch, type EgressFn, type TreeEgress } from './tree-egress.ts';
import type { Savepoint, StateSource } from './transaction.ts';

export interface CallTreeDeps {
  isolates: IsolateHost;
  versions: { get(hash: string): VersionPayload | null | Promise<VersionPayload | null> };
  /** The live state source (the worker's read-only connection), opened on first use. */
  liveState(): StateSource;
  log(entry: LogEntry): void;
}

/** Log entries one tree may emit; the rest is dropped behind one marker entry. */
export const MAX_LOG_ENTRIES_PER_RUN = 1000;
/** Calls one tree may make in all: depth is bounded by the contract, breadth by this. */
export const MAX_CALLS_PER_RUN = 10_000;
/** How long after the root deadline the tree gives up on its own, if nothing else ended it. */
const TREE_GRACE_MS = 25;

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
const byteLength = (s: string) => (s.length * 3 <= KERNEL_LIMITS.maxPayloadBytes ? s.length : Buffer.byteLength(s, 'utf8'));

interface Tree {
  spec: RunSpec;
  txn: Transaction;
  logs: number;
  calls: number;
  done: boolean;
  /** fetch of every call of the tree (tree-egress.ts): its hook, deadline and counts. */
  effects: TreeEgress;
}

/** Standalone code at most this long may be evaluated on the worker's thread (V8 compiles it in
 *  well under a millisecond); longer code only ever runs in a validator isolate. */
const INLINE_CODE_MAX_CHARS = 64 * 1024;

interface CompiledSchema {
  code: string;
  cost: SchemaCost;
  /** For a linear schema whose code is short: the validator on this thread. */
  inline?: Validator;
}

interface Validators {
  input?: CompiledSchema;
  output?: CompiledSchema;
}

export class CallTreeRunner {
  private readonly validators = new LRUCache<string, Promise<Validators>>({ max: 2000 });
  private readonly schemaIsolates = new SchemaIsolates();

  constructor(private readonly deps: CallTreeDeps) {
    warmSchemaCompiler();
  }

  /** `egress`: how this run's fetches reach the kernel; absent, every fetch is EFFECT_FORBIDDEN. */
  async run(spec: RunSpec, egress?: EgressFn): Promise<RunResult> {
    const started = performance.now();
    // Replay mode: a read its record cannot answer marks the result (transaction.ts replaySource).
    const replay = spec.state.mode === 'replay' ? replaySource(spec.state.reads) : undefined;
    const marked = () => (replay?.misses.length ? { unreplayable: replay.misses[0] } : {});
    const failed = (error: WireError): RunResult => ({ ok: false, error, durationMs: performance.now() - started, ...marked() });
    let tree: Tree | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const payload = await this.deps.versions.get(spec.root);
      if (!payload) return failed(fail('NOT_FOUND', `no version ${spec.root}`, { hash: spec.root }).toWire());
      const deadline = spec.deadline ?? Date.now() + payload.manifest.limits.timeoutMs;
      const source = replay ?? (spec.state.mode === 'scratch' ? seedSource(spec.state.seed) : this.deps.liveState());
      const effects: TreeEgress = { egress, invocationId: spec.invocationId, deadline, requests: 0, inFlight: 0 };
      // Live runs of recorded versions keep the values they read (the kernel's call records).
      const recordValues = spec.state.mode === 'live' && spec.entry === 'default' && payload.manifest.record !== false;
      tree = { spec, txn: new Transaction(source, { recordValues }), logs: 0, calls: 1, done: false, effects };
      let inputJson: string;
      let input: Json | undefined;
      if (spec.entry === 'migrate') {
        const from = spec.input && typeof spec.input === 'object' && !Array.isArray(spec.input) ? spec.input.from : null;
        inputJson = JSON.stringify(from ?? null);
      } else {
        input = spec.input ?? null;
        inputJson = JSON.stringify(input);
      }
      // Everything below normally ends by itself at the deadline (isolate-host); this is the
      // backstop for the stretches outside any isolate (fetching a version, building an isolate).
      const backstop = new Promise<CallOutcome>((resolve) => {
        timer = setTimeout(
          () => resolve({ ok: false, error: timeoutError(payload).toWire() }),
          Math.max(0, deadline - Date.now()) + TREE_GRACE_MS,
        );
      });
      const outcome = await Promise.race([this.invoke(tree, payload, spec.entry, inputJson, input, 0, deadline, tree.txn.root), backstop]);
      if (!outcome.ok) return failed(outcome.error);
      return { ok: true, output: JSON.parse(outcome.json) as Json, durationMs: performance.now() - started, txn: tree.txn.record(), ...marked() };
    } catch (e) {
      return failed(asSubstrateError(e).toWire());
    } finally {
      clearTimeout(timer);
      if (tree) tree.done = true;
    }
  }

  /** Drops what is cached for versions that will not run again here. */
  forget(hashes: string[]): void {
    for (const h of hashes) this.validators.delete(h);
    this.schemaIsolates.forget(hashes);
  }

  /** Compiled off this thread (schema-compiler.ts); a failure is the call's, not cached. */
  private validatorsOf(payload: VersionPayload): Promise<Validators> {
    // peek: a hit does not refresh; the oldest compiled goes first (as before).
    let v = this.validators.peek(payload.hash);
    if (!v) {
      const m = payload.manifest;
      const one = async (schema: VersionPayload['manifest']['inputSchema']): Promise<CompiledSchema | undefined> => {
        if (!schema) return undefined;
        const { code, cost } = await compileSchemaCode(schema);
        return { code, cost, inline: cost.linear && code.length <= INLINE_CODE_MAX_CHARS ? loadStandalone(code) : undefined };
      };
      const hash = payload.hash;
      v = Promise.all([one(m.inputSchema), one(m.outputSchema)]).then(([input, output]) => ({ input, output }));
      v.catch(() => this.validators.delete(hash));
      this.validators.set(hash, v);
    }
    return v;
  }

  /** One call of the tree (the root or a nested one): checks, runs, checks the output. */
  async invoke(
    tree: Tree,
    payload: VersionPayload,
    entry: 'default' | 'migrate',
    inputJson: string,
    input: Json | undefined,
    depth: number,
    deadline: number,
    savepoint: Savepoint,
  ): Promise<CallOutcome> {
    const { name, version } = payload;
    const size = byteLength(inputJson);
    if (size > KERNEL_LIMITS.maxPayloadBytes) {
      return err('PAYLOAD_TOO_LARGE', `the input of ${name} is ${size} bytes, the limit is ${KERNEL_LIMITS.maxPayloadBytes}`, {
        limit: KERNEL_LIMITS.maxPayloadBytes,
        size,
        what: 'input',
        name,
      });
    }
    // Before ajv (recursive on a recursive schema) and before the isolate: too deep is refused.
    const inDepth = deeperThanLimit(inputJson);
    if (inDepth) return { ok: false, error: tooDeep(`the input of ${name}`, inDepth, MAX_JSON_DEPTH, { what: 'input', name }).toWire() };
    let validators: Validators;
    try {
      validators = await this.validatorsOf(payload);
    } catch (e) {
      return { ok: false, error: asSubstrateError(e).toWire() };
    }
    if (entry === 'default' && validators.input) {
      const bad = await this.check(payload, 'input', validators.input, inputJson, input, deadline);
      if (bad) return bad;
    }
    const invocation: Invocation = { id: tree.spec.invocationId, name, version, generation: tree.spec.generation, depth, deadline };
    if (depth === 0 && tree.spec.job) invocation.job = tree.spec.job;
    const binding = new Binding(this, tree, payload, invocation, savepoint);
    const outcome = await this.deps.isolates.call(payload, { entry, inputJson, invocation, deadline, binding });
    if (!outcome.ok || entry !== 'default') return outcome;
    const outSize = byteLength(outcome.json);
    if (outSize > KERNEL_LIMITS.maxPayloadBytes) {
      return err('PAYLOAD_TOO_LARGE', `the output of ${name} is ${outSize} bytes, the limit is ${KERNEL_LIMITS.maxPayloadBytes}`, {
        limit: KERNEL_LIMITS.maxPayloadBytes,
        size: outSize,
        what: 'output',
        name,
      });
    }
    // Before ajv, and before the output is serialized again to cross to the kernel (IPC JSON,
    // recursive) and on to the client.
    const outDepth = deeperThanLimit(outcome.json);
    if (outDepth) return { ok: false, error: tooDeep(`the output of ${name}`, outDepth, MAX_JSON_DEPTH, { what: 'output', name, version }).toWire() };
    if (validators.output) {
      const bad = await this.check(payload, 'output', validators.output, outcome.json, undefined, deadline);
      if (bad) return bad;
    }
    return outcome;
  }

  /** Validates against a schema: here when its cost is provably small (a linear schema, a small
   *  value), else in the version's validator isolate under the call's deadline (schema-isolates.ts).
   *  Resolves to the call's failure, or null when the value is valid. */
  private async check(
    payload: VersionPayload,
    which: 'input' | 'output',
    schema: CompiledSchema,
    json: string,
    value: Json | undefined,
    deadline: number,
  ): Promise<CallOutcome | null> {
    const { name, version, manifest } = payload;
    const invalid = (r: ValidationResult) =>
      r.ok ? null
      : which === 'input' ? err('INVALID_INPUT', `invalid input for ${name}: ${r.path || '/'} ${r.message}`, { path: r.path, message: r.message, name })
      : err('INVALID_OUTPUT', `invalid output from ${name}: ${r.path || '/'} ${r.message}`, { path: r.path, message: r.message, name, version });
    if (schema.inline && schema.cost.nodes * json.length <= INLINE_VALIDATION_BUDGET) {
      return invalid(schema.inline(value === undefined ? JSON.parse(json) : value));
    }
    const c = await this.schemaIsolates.check(payload, which, schema.code, json, deadline);
    if (c.kind === 'checked') return invalid(c.result);
    if (c.kind === 'timeout') {
      const { timeoutMs } = manifest.limits;
      return err('TIMEOUT', `${name}@${version} did not finish validating its ${which} within its deadline (timeoutMs ${timeoutMs})`, { timeoutMs, name, version, during: `${which} validation` });
    }
    if (c.kind === 'memory') {
      const { memoryMb } = manifest.limits;
      return err('MEMORY_LIMIT', `${name}@${version} exceeded its memory limit of ${memoryMb} MB validating its ${which}`, { memoryMb, name, version, during: `${which} validation` });
    }
    const type = which === 'input' ? 'INVALID_INPUT' : 'INVALID_OUTPUT';
    const message = `the ${which}Schema could not be evaluated on this value: ${c.message}`;
    return err(type, `invalid ${which} ${which === 'input' ? 'for' : 'from'} ${name}: ${message}`, { path: '', message, name, version });
  }

  /** ctx.call from `caller`: declared, within depth, linked, then run in a savepoint. */
  async nested(tree: Tree, caller: Binding, depName: unknown, inputJson: unknown): Promise<string> {
    const { payload, invocation } = caller;
    if (typeof depName !== 'string') {
      return answer.error(fail('INVALID_INPUT', 'ctx.call needs a capability name', { path: '', message: 'name must be a string', name: payload.name }).toWire());
    }
    if (typeof inputJson !== 'string') {
      return answer.error(fail('INVALID_INPUT', `the input of ${depName} has no JSON form`, { path: '', message: 'not JSON', name: depName }).toWire());
    }
    const deps = payload.manifest.dependencies;
    if (!hasOwn(deps, depName)) {
      return answer.error(
        fail('UNDECLARED_DEPENDENCY', `${payload.name} does not declare a dependency on ${depName}`, { name: payload.name, dependency: depName }).toWire(),
      );
    }
    if (++tree.calls > MAX_CALLS_PER_RUN) {
      return answer.error(exceeded('work', `the invocation made more than ${MAX_CALLS_PER_RUN} calls`, { limit: MAX_CALLS_PER_RUN, what: 'calls' }).toWire());
    }
    const depth = invocation.depth + 1;
    if (depth > KERNEL_LIMITS.maxDepth) {
      return answer.error(exceeded('callDepth', `call depth ${depth} exceeds the limit of ${KERNEL_LIMITS.maxDepth}`, { depth, limit: KERNEL_LIMITS.maxDepth }).toWire());
    }
    const links = tree.spec.links;
    const own = hasOwn(links, payload.hash) ? links[payload.hash] : undefined;
    const hash = own && hasOwn(own, depName) ? own[depName] : undefined;
    if (typeof hash !== 'string') {
      const range = deps[depName];
      return answer.error(
        fail('DEPENDENCY_UNSATISFIED', `no version of ${depName} satisfies ${range} (required by ${payload.name})`, {
          name: payload.name,
          dependency: depName,
          range,
        }).toWire(),
      );
    }
    const callee = await this.deps.versions.get(hash);
    if (!callee) return answer.error(fail('NOT_FOUND', `no version ${hash} of ${depName}`, { name: depName, hash }).toWire());
    if (tree.done) return answer.error(timeoutError(payload).toWire());
    const deadline = Math.min(invocation.deadline, Date.now() + callee.manifest.limits.timeoutMs);
    const sp = tree.txn.savepoint(caller.savepoint);
    const outcome = await this.invoke(tree, callee, 'default', inputJson, undefined, depth, deadline, sp);
    if (outcome.ok) {
      tree.txn.release(sp);
      return answer.value(outcome.json);
    }
    tree.txn.discard(sp);
    return answer.error(outcome.error);
  }

  log(tree: Tree, invocation: Invocation, level: LogLevel, message: string): void {
    if (tree.done || tree.logs > MAX_LOG_ENTRIES_PER_RUN) return;
    tree.logs++;
    const entry: LogEntry = { invocationId: invocation.id, name: invocation.name, version: invocation.version, level, message, at: Date.now() };
    if (tree.spec.origin) entry.origin = tree.spec.origin;
    if (tree.logs > MAX_LOG_ENTRIES_PER_RUN) {
      entry.level = 'warn';
      entry.message = `[further log entries of this invocation are dropped: the limit is ${MAX_LOG_ENTRIES_PER_RUN}]`;
    }
    this.deps.log(entry);
  }
}

/** What one call may do through its ctx. */
class Binding implements CallBinding {
  constructor(
    private readonly runner: CallTreeRunner,
    private readonly tree: Tree,
    readonly payload: VersionPayload,
    readonly invocation: Invocation,
    readonly savepoint: Savepoint,
  ) {}

  request(op: string, ns: unknown, a: unknown, b: unknown): string | Promise<string> {
    try {
      const txn = this.tree.txn;
      switch (op) {
        case 'get': {
          const key = checkKey(a);
          const v = txn.get(this.savepoint, this.namespace(ns, false), key);
          if (v !== undefined) readableValue(v, key);
          return v === undefined ? answer.undefined() : answer.value(v);
        }
        case 'set':
          txn.put(this.savepoint, this.namespace(ns, true), checkKey(a), checkValue(b));
          return answer.undefined();
        case 'delete':
          txn.put(this.savepoint, this.namespace(ns, true), checkKey(a), null);
          return answer.undefined();
        case 'list': {
          const space = this.namespace(ns, false);
          const opts = listOptions(a);
          const page = txn.list(this.savepoint, space, opts);
          let items = '';
          for (const it of page.items) {
            readableValue(it.value, it.key);
            items += `${items ? ',' : ''}{"key":${JSON.stringify(it.key)},"value":${it.value}}`;
          }
          return answer.value(`{"items":[${items}],"cursor":${JSON.stringify(page.cursor)}}`);
        }
        case 'call':
          return this.runner.nested(this.tree, this, a, b);
        case 'enqueue':
          return answer.value(JSON.stringify({ jobId: this.enqueue(a, b) }));
        case 'fetch':
          // Attributed to this call's version (the isolate picks the call: sandbox/runtime/bridge.ts).
          return this.tree.done ? answer.error(timeoutError(this.payload).toWire()) : treeFetch(this.tree.effects, this.payload, a);
        default:
          throw fail('CAPABILITY_ERROR', `unknown ctx operation ${op}`, { name: this.payload.name, version: this.payload.version });
      }
    } catch (e) {
      return answer.error(asSubstrateError(e).toWire());
    }
  }

  log(level: LogLevel, message: string): void {
    this.runner.log(this.tree, this.invocation, level, message);
  }

  /** ctx.enqueue(name, input, { delayMs?, key? }): a declared dependency or the capability itself;
   *  recorded in this call's frame, stored only when the tree commits (docs/jobs.md). */
  private enqueue(name: unknown, argsJson: unknown): string {
    const { payload } = this;
    if (typeof name !== 'string') throw fail('INVALID_INPUT', 'ctx.enqueue needs a capability name', { path: '', message: 'name must be a string', name: payload.name });
    if (name !== payload.name && !hasOwn(payload.manifest.dependencies, name)) {
      throw fail('UNDECLARED_DEPENDENCY', `${payload.name} does not declare a dependency on ${name}, so it cannot enqueue it`, { name: payload.name, dependency: name });
    }
    const args = typeof argsJson === 'string' ? (JSON.parse(argsJson) as { input?: Json; delayMs?: unknown; key?: unknown } | null) : null;
    if (args === null || typeof args !== 'object') throw fail('INVALID_INPUT', 'ctx.enqueue: malformed arguments', { path: '', message: 'malformed', name });
    const inputJson = JSON.stringify(args.input === undefined ? null : args.input);
    const inDepth = deeperThanLimit(inputJson);
    if (inDepth) throw tooDeep(`the input of the job ${name}`, inDepth, MAX_JSON_DEPTH, { what: 'input', name });
    const { delayMs, key } = checkEnqueue(name, inputJson, args);
    const job = { name, input: inputJson, delayMs, key, by: payload.name, byVersion: payload.version, invocationId: this.tree.spec.invocationId };
    return this.tree.txn.enqueue(this.savepoint, job, () => `job_${nanoid(16)}`);
  }

  /** The stored namespace a ctx.state API addresses: '' is the capability's own. */
  private namespace(ns: unknown, write: boolean): string {
    if (ns === '') return this.payload.name;
    const shared = this.payload.manifest.state.shared;
    const grant = typeof ns === 'string' && hasOwn(shared, ns) ? shared[ns] : undefined;
    if (grant === undefined) {
      throw fail('STATE_FORBIDDEN', `shared namespace ${String(ns)} is not granted to ${this.payload.name}`, { namespace: typeof ns === 'string' ? ns : null });
    }
    // Declared is not enough: the kernel says what the capability's owner holds now (RunSpec.shared).
    const held = this.tree.spec.shared ? (this.tree.spec.shared[this.payload.hash]?.[ns as string] ?? null) : grant;
    if (held === null) {
      throw fail('STATE_FORBIDDEN', `shared namespace ${String(ns)} is declared by ${this.payload.name}, but its owner holds no grant for it (revoked?); the namespace's owner or an operator can grant it with grants/add`, {
        namespace: ns as string,
        missing: { kind: 'namespace', target: ns as string, mode: grant },
      });
    }
    if (write && held !== 'rw') {
      throw fail('STATE_FORBIDDEN', `shared namespace ${String(ns)} is granted read-only to ${this.payload.name}`, { namespace: ns, access: 'r' });
    }
    return `shared:${ns as string}`;
  }
}

/** The depth of JSON text when it exceeds MAX_JSON_DEPTH, else 0. */
function deeperThanLimit(json: string): number {
  if (json.length <= 2 * MAX_JSON_DEPTH) return 0;
  const depth = jsonTextDepth(json, MAX_JSON_DEPTH);
  return depth > MAX_JSON_DEPTH ? jsonTextDepth(json) : 0;
}

/** A stored value read back: one written before the depth limit existed (or into the file by
 *  other means) is refused by name rather than handed on to code that recurses over it. */
function readableValue(json: string, key: string): void {
  const depth = deeperThanLimit(json);
  if (depth) throw tooDeep(`the state value at key ${JSON.stringify(key.length > 64 ? key.slice(0, 64) + '...' : key)}`, depth, MAX_JSON_DEPTH, { what: 'value', key });
}

function listOptions(a: unknown): { prefix?: string; limit?: number; cursor?: string | null } {
  const bad = (message: string) => fail('INVALID_INPUT', `ctx.state.list: ${message}`, { path: '', message, what: 'list options' });
  if (typeof a !== 'string') return {};
  const o = JSON.parse(a) as { prefix?: unknown; limit?: unknown; cursor?: unknown };
  const out: { prefix?: string; limit?: number; cursor?: string | null } = {};
  if (o.prefix !== undefined && o.prefix !== null) {
    if (typeof o.prefix !== 'string') throw bad('prefix must be a string');
    out.prefix = o.prefix;
  }
  if (o.limit !== undefined && o.limit !== null) {
    if (typeof o.limit !== 'number') throw bad('limit must be a number');
    out.limit = o.limit;
  }
  if (o.cursor !== undefined && o.cursor !== null) {
    if (typeof o.cursor !== 'string') throw bad('cursor must be a string or null');
    out.cursor = o.cursor;
  }
  return out;
}

function err(type: Parameters<typeof fail>[0], message: string, data: { [k: string]: unknown }): CallOutcome {
  return { ok: false, error: fail(type, message, data).toWire() };
}

function timeoutError(payload: VersionPayload) {
  const { name, version, manifest } = payload;
  const timeoutMs = manifest.limits.timeoutMs;
  return exceeded('time', `${name}@${version} did not finish within its deadline (timeoutMs ${timeoutMs})`, { timeoutMs, name, version });
}
