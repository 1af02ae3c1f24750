// JSON Schema validation of capability inputs and outputs (ajv 8). Compiled validators are cached
// by the canonical text of the schema, so every version sharing a schema shares one validator and
// a worker compiles each schema once. Draft-07 is the default; a root `$schema` naming draft
// 2019-09 or 2020-12 selects that dialect. No schema is ever fetched: a `$ref` that does not resolve
// inside the schema makes it invalid.
//
// Cost (docs/security.md, "Schema validation"): a schema is refused unless it is within
// SCHEMA_LIMITS (size, depth, nodes, $ref count), which bounds what compiling it costs. Running a
// validator is not bounded by the schema alone (a backtracking `pattern`, O(n²) `uniqueItems`,
// `$ref` fan-out that is exponential in the data): `linear` says whether the schema uses none of
// those, so that its work is at most about nodes × input length. Compiling is superlinear in some
// shapes: the kernel and the workers compile on a thread with a time limit (sandbox/
// schema-compiler.ts) to ajv's standalone code, run by loadStandalone or in a validator isolate
// (sandbox/schema-isolates.ts). compileSchema here is the synchronous form, for tools and tests.

import AjvModule from 'ajv';
import Ajv2019Module from 'ajv/dist/2019.js';
import Ajv2020Module from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { LRUCache } from 'lru-cache';
import { fail } from './errors.ts';
import { canonicalJson } from './hash.ts';
import type { JsonObject } from './types.ts';

// ajv is CommonJS with `module.exports = Ajv` and `exports.default = Ajv`: `.default` is the class
// under tsx, vitest, plain node and tsc (NodeNext) alike.
const Ajv = AjvModule.default;
const Ajv2019 = Ajv2019Module.default;
const Ajv2020 = Ajv2020Module.default;

export type ValidationResult = { ok: true } | { ok: false; path: string; message: string };
export type Validator = (value: unknown) => ValidationResult;

type Dialect = 'draft-07' | '2019-09' | '2020-12';
type AjvInstance = InstanceType<typeof Ajv>;

// addUsedSchema: false keeps compiled schemas out of the instance's `$id` registry, so two
// capabilities may use the same `$id` with different content; logger: false keeps this module
// silent (unknown formats are ignored, there being no format plugin). inlineRefs: false compiles a
// `$ref` target once, as a function, instead of copying its code at every use (a schema with 200
// uses of a large definition would otherwise compile to megabytes). code.source keeps the generated
// code for ajv's standalone code (sandbox/schema-compiler.ts).
export const AJV_OPTIONS = { allErrors: false, strict: false, addUsedSchema: false, logger: false, inlineRefs: false, code: { source: true } } as const;

/** What a schema may cost, checked before ajv sees it (all within a 1 MiB manifest). */
export const SCHEMA_LIMITS = {
  /** Characters of the schema's canonical JSON. */
  maxBytes: 256 * 1024,
  /** JSON values (objects, arrays, scalars) in the schema. */
  maxNodes: 20_000,
  /** Nesting of objects and arrays. */
  maxDepth: 64,
  /** `$ref`, `$dynamicRef` and `$recursiveRef` occurrences. */
  maxRefs: 500,
} as const;

/** Work (schema nodes × input characters) a `linear` schema may do on the worker's own thread;
 *  beyond it, validation runs in an isolate under the call's deadline (sandbox/call-tree.ts). */
export const INLINE_VALIDATION_BUDGET = 4_000_000;

// Keywords whose cost is not bounded by schema size × data size (or that make ajv asynchronous).
// Found anywhere in the schema (even as a property name) they make it non-linear: conservative.
const NONLINEAR_KEYWORDS = new Set(['pattern', 'patternProperties', 'uniqueItems', '$ref', '$dynamicRef', '$recursiveRef', 'format', 'unevaluatedProperties', 'unevaluatedItems', '$async']);

export interface SchemaCost {
  bytes: number;
  nodes: number;
  depth: number;
  refs: number;
  /** No keyword of NONLINEAR_KEYWORDS: validating costs at most about nodes × input length. */
  linear: boolean;
  /** The schema asks for an asynchronous validator (`$async`): never supported. */
  async: boolean;
}

/** Measures a schema without recursion (a deeply nested one cannot overflow the stack). Stops
 *  counting depth past SCHEMA_LIMITS.maxDepth + 1 levels. */
export function schemaCost(schema: JsonObject, bytes: number): SchemaCost {
  const cost: SchemaCost = { bytes, nodes: 0, depth: 0, refs: 0, linear: true, async: false };
  const stack: Array<[unknown, number]> = [[schema, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    cost.nodes++;
    if (v === null || typeof v !== 'object') continue;
    if (depth > cost.depth) cost.depth = depth;
    if (depth > SCHEMA_LIMITS.maxDepth) continue;
    if (Array.isArray(v)) {
      for (const x of v) stack.push([x, depth + 1]);
      continue;
    }
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (NONLINEAR_KEYWORDS.has(k)) cost.linear = false;
      if (k === '$ref' || k === '$dynamicRef' || k === '$recursiveRef') cost.refs++;
      if (k === '$async' && x === true) cost.async = true;
      cost.nodes++; // the key
      stack.push([x, depth + 1]);
    }
  }
  return cost;
}

/** The first limit of SCHEMA_LIMITS a schema exceeds, as INVALID_MANIFEST data, or null. */
function costProblem(cost: SchemaCost): { limit: string; max: number; actual: number } | null {
  if (cost.bytes > SCHEMA_LIMITS.maxBytes) return { limit: 'schemaBytes', max: SCHEMA_LIMITS.maxBytes, actual: cost.bytes };
  if (cost.depth > SCHEMA_LIMITS.maxDepth) return { limit: 'schemaDepth', max: SCHEMA_LIMITS.maxDepth, actual: cost.depth };
  if (cost.nodes > SCHEMA_LIMITS.maxNodes) return { limit: 'schemaNodes', max: SCHEMA_LIMITS.maxNodes, actual: cost.nodes };
  if (cost.refs > SCHEMA_LIMITS.maxRefs) return { limit: 'schemaRefs', max: SCHEMA_LIMITS.maxRefs, actual: cost.refs };
  return null;
}


const instances = new Map<Dialect, AjvInstance>();

function ajvFor(dialect: Dialect): AjvInstance {
  let ajv = instances.get(dialect);
  if (!ajv) {
    ajv = dialect === '2020-12' ? new Ajv2020(AJV_OPTIONS) : dialect === '2019-09' ? new Ajv2019(AJV_OPTIONS) : new Ajv(AJV_OPTIONS);
    instances.set(dialect, ajv);
  }
  return ajv;
}

export function dialectOf(schema: JsonObject): Dialect {
  const declared = schema.$schema;
  if (typeof declared !== 'string') return 'draft-07';
  if (declared.includes('2020-12')) return '2020-12';
  if (declared.includes('2019-09')) return '2019-09';
  return 'draft-07';
}

export const SCHEMA_CACHE_SIZE = 2000;

interface Entry {
  validator: Validator;
  ajv: AjvInstance;
  schema: JsonObject;
}

// Least recently used goes first. An evicted validator also leaves ajv's own cache, which is keyed
// by the schema object (only on eviction: nothing else deletes or replaces an entry).
const cache = new LRUCache<string, Entry>({
  max: SCHEMA_CACHE_SIZE,
  dispose: (evicted, _key, reason) => {
    if (reason === 'evict') evicted.ajv.removeSchema(evicted.schema);
  },
});

/** Compiles `schema` (or returns the cached validator of an identical one). Throws
 *  INVALID_MANIFEST `{ message }` when ajv refuses the schema, and `{ message, limit, max, actual }`
 *  when it exceeds SCHEMA_LIMITS. */
export function compileSchema(schema: JsonObject): Validator {
  const { text: key } = checkSchemaCost(schema);
  const hit = cache.get(key);
  if (hit) return hit.validator;
  const ajv = ajvFor(dialectOf(schema));
  // ajv keeps a reference to the schema object it compiled: give it a private copy.
  const own = JSON.parse(key) as JsonObject;
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(own);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw fail('INVALID_MANIFEST', `invalid JSON Schema: ${message}`, { message });
  }
  const validator: Validator = (value) => {
    if (validate(value)) return { ok: true };
    return describe(validate.errors?.[0]);
  };
  cache.set(key, { validator, ajv, schema: own });
  return validator;
}

/** The canonical text of a schema and its cost, in linear time. Throws INVALID_MANIFEST
 *  `{ message, limit, max, actual }` naming the first limit of SCHEMA_LIMITS it exceeds. */
export function checkSchemaCost(schema: JsonObject): { text: string; cost: SchemaCost } {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw fail('INVALID_MANIFEST', 'a JSON Schema must be an object', { message: 'a JSON Schema must be an object' });
  }
  const text = canonicalJson(schema);
  const cost = schemaCost(schema, text.length);
  const problem = costProblem(cost);
  if (problem) {
    const message = `the JSON Schema is too costly: its ${problem.limit} is ${problem.actual}, the limit is ${problem.max}`;
    throw fail('INVALID_MANIFEST', message, { message, ...problem });
  }
  if (cost.async) {
    const message = 'asynchronous JSON Schemas ($async) are not supported';
    throw fail('INVALID_MANIFEST', message, { message });
  }
  return { text, cost };
}

type StandaloneFn = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** A validator from ajv standalone code, evaluated in this realm with STANDALONE_RUNTIME. The
 *  code is ajv's output for a schema, never an agent's text: a schema reaches it only as data. */
export function loadStandalone(code: string): Validator {
  const module: { exports: StandaloneFn | null } = { exports: null };
  const runtime = new Map<string, unknown>();
  const req = (name: string) => {
    let m = runtime.get(name);
    if (m === undefined) {
      const src = STANDALONE_RUNTIME[name];
      if (src === undefined) throw new Error(`no runtime module ${name}`);
      const exports = {};
      new Function('exports', src)(exports);
      runtime.set(name, (m = exports));
    }
    return m;
  };
  new Function('module', 'exports', 'require', code)(module, module.exports, req);
  const validate = module.exports as StandaloneFn;
  return (value) => (validate(value) ? { ok: true } : describe(validate.errors?.[0]));
}

/** Number of validators currently cached (for tests and diagnostics). */
export function schemaCacheSize(): number {
  return cache.size;
}

function pointerSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The runtime modules ajv's standalone code may require, as CommonJS sources keyed by the name it
 *  requires. `equal` is fast-deep-equal's algorithm (what ajv's runtime/equal re-exports);
 *  `ucs2length` is ajv's. Both are self-contained. */
export const STANDALONE_RUNTIME: { readonly [name: string]: string } = {
  'ajv/dist/runtime/equal': `exports.default = function equal(a, b) {
  if (a === b) return true;
  if (a && b && typeof a == 'object' && typeof b == 'object') {
    if (a.constructor !== b.constructor) return false;
    var length, i, keys;
    if (Array.isArray(a)) {
      length = a.length;
      if (length != b.length) return false;
      for (i = length; i-- !== 0;) if (!equal(a[i], b[i])) return false;
      return true;
    }
    keys = Object.keys(a);
    length = keys.length;
    if (length !== Object.keys(b).length) return false;
    for (i = length; i-- !== 0;) if (!Object.prototype.hasOwnProperty.call(b, keys[i])) return false;
    for (i = length; i-- !== 0;) { var key = keys[i]; if (!equal(a[key], b[key])) return false; }
    return true;
  }
  return a !== a && b !== b;
};`,
  'ajv/dist/runtime/ucs2length': `exports.default = function ucs2length(str) {
  var len = str.length, length = 0, pos = 0, value;
  while (pos < len) {
    length++;
    value = str.charCodeAt(pos++);
    if (value >= 0xd800 && value <= 0xdbff && pos < len) { value = str.charCodeAt(pos); if ((value & 0xfc00) === 0xdc00) pos++; }
  }
  return length;
};`,
};

/** The first error of a failed validation (ajv's ErrorObject, or its JSON copy from an isolate). */
export function describeError(error: Pick<ErrorObject, 'keyword' | 'instancePath' | 'params' | 'message'> | undefined): ValidationResult {
  return describe(error as ErrorObject | undefined);
}

function describe(error: ErrorObject | undefined): ValidationResult {
  if (!error) return { ok: false, path: '', message: 'is invalid' };
  const params = error.params as { missingProperty?: unknown; additionalProperty?: unknown };
  if (error.keyword === 'required' && typeof params.missingProperty === 'string') {
    return { ok: false, path: `${error.instancePath}/${pointerSegment(params.missingProperty)}`, message: 'is required' };
  }
  if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    return {
      ok: false,
      path: `${error.instancePath}/${pointerSegment(params.additionalProperty)}`,
      message: 'is not allowed (additional property)',
    };
  }
  return { ok: false, path: error.instancePath, message: error.message ?? `fails "${error.keyword}"` };
}
