// JSON Schema validation of capability inputs and outputs (ajv 8). Compiled validators are cached
// by the canonical text of the schema, so every version sharing a schema shares one validator and
// a worker compiles each schema once. Draft-07 is the default; a root `$schema` naming draft
// 2019-09 or 2020-12 selects that dialect. No schema is ever fetched: a `$ref` that does not resolve
// inside the schema makes it invalid.

import AjvModule from 'ajv';
import Ajv2019Module from 'ajv/dist/2019.js';
import Ajv2020Module from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
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
// silent (unknown formats are ignored, there being no format plugin).
const AJV_OPTIONS = { allErrors: false, strict: false, addUsedSchema: false, logger: false } as const;

const instances = new Map<Dialect, AjvInstance>();

function ajvFor(dialect: Dialect): AjvInstance {
  let ajv = instances.get(dialect);
  if (!ajv) {
    ajv = dialect === '2020-12' ? new Ajv2020(AJV_OPTIONS) : dialect === '2019-09' ? new Ajv2019(AJV_OPTIONS) : new Ajv(AJV_OPTIONS);
    instances.set(dialect, ajv);
  }
  return ajv;
}

function dialectOf(schema: JsonObject): Dialect {
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

// A Map iterates in insertion order, so re-inserting on a hit makes the first key the least recent.
const cache = new Map<string, Entry>();

/** Compiles `schema` (or returns the cached validator of an identical one). Throws
 *  INVALID_MANIFEST `{ message }` when ajv refuses the schema. */
export function compileSchema(schema: JsonObject): Validator {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw fail('INVALID_MANIFEST', 'a JSON Schema must be an object', { message: 'a JSON Schema must be an object' });
  }
  const key = canonicalJson(schema);
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit.validator;
  }
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
  if (cache.size > SCHEMA_CACHE_SIZE) {
    const oldest = cache.keys().next().value as string;
    const evicted = cache.get(oldest);
    cache.delete(oldest);
    // Also drop ajv's own cache entry, which is keyed by the schema object.
    evicted?.ajv.removeSchema(evicted.schema);
  }
  return validator;
}

/** Number of validators currently cached (for tests and diagnostics). */
export function schemaCacheSize(): number {
  return cache.size;
}

function pointerSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
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
