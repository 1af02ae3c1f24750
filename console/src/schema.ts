// A deliberately small JSON Schema check for the invoke form (type, required, properties, items,
// enum): enough to point at a mistake before sending. The kernel checks the full inputSchema in
// the sandbox and answers INVALID_INPUT; this only helps, it decides nothing. (Ajv compiles
// schemas to code with `new Function`, which the console's Content-Security-Policy forbids.)

import type { JsonSchema } from './types.ts';

export function check(value: unknown, schema: JsonSchema | undefined, path = '$'): string[] {
  if (!schema || typeof schema !== 'object') return [];
  const errors: string[] = [];
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.length && !types.some((t) => isType(value, t))) {
    return [`${path}: expected ${types.join(' or ')}, got ${typeName(value)}`];
  }
  if (schema.enum && !schema.enum.some((v) => JSON.stringify(v) === JSON.stringify(value))) {
    errors.push(`${path}: must be one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`);
  }
  if (isObject(value)) {
    for (const r of schema.required ?? []) if (!(r in value)) errors.push(`${path}: '${r}' is required`);
    for (const [k, sub] of Object.entries(schema.properties ?? {})) if (k in value) errors.push(...check(value[k], sub, `${path}.${k}`));
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => errors.push(...check(v, schema.items, `${path}[${i}]`)));
  return errors;
}

/** A starting input: the first manifest test's, else one with each required property empty. */
export function skeleton(schema: JsonSchema | undefined): unknown {
  if (!schema) return {};
  const t = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (t) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const r of schema.required ?? []) out[r] = skeleton(schema.properties?.[r]);
      return out;
    }
    case 'array':
      return [];
    case 'string':
      return '';
    case 'number':
    case 'integer':
      return 0;
    case 'boolean':
      return false;
    case 'null':
      return null;
    default:
      return {};
  }
}

function isType(v: unknown, t: string): boolean {
  switch (t) {
    case 'object':
      return isObject(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number';
    case 'integer':
      return Number.isInteger(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'null':
      return v === null;
    default:
      return true;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;
}
