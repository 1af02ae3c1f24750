import { describe, expect, it } from 'vitest';
import { SubstrateError } from '../capabilities/errors.ts';
import type { JsonObject } from '../capabilities/types.ts';
import { SCHEMA_CACHE_SIZE, compileSchema, schemaCacheSize } from '../capabilities/schema.ts';

describe('compileSchema', () => {
  const schema = {
    type: 'object',
    properties: {
      text: { type: 'string' },
      items: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
    },
    required: ['text'],
  };

  it('accepts valid values', () => {
    const v = compileSchema(schema);
    expect(v({ text: 'x' })).toEqual({ ok: true });
    expect(v({ text: 'x', items: [{ name: 'a' }] })).toEqual({ ok: true });
  });

  it('reports where a value is wrong as a JSON pointer', () => {
    const v = compileSchema(schema);
    const wrongType = v({ text: 'x', items: [{ name: 3 }] });
    expect(wrongType).toMatchObject({ ok: false, path: '/items/0/name' });
    expect(wrongType.ok === false && wrongType.message).toMatch(/string/);
    expect(v('nope')).toMatchObject({ ok: false, path: '' });
  });

  it('points at a missing required property', () => {
    const v = compileSchema(schema);
    expect(v({})).toMatchObject({ ok: false, path: '/text' });
    expect(v({ text: 'x', items: [{}] })).toMatchObject({ ok: false, path: '/items/0/name' });
  });

  it('points at a property additionalProperties forbids', () => {
    const v = compileSchema({ type: 'object', additionalProperties: false, properties: { a: {} } });
    expect(v({ a: 1, 'b/c': 2 })).toMatchObject({ ok: false, path: '/b~1c' });
  });

  it('throws INVALID_MANIFEST for a schema ajv cannot compile', () => {
    const bads: JsonObject[] = [{ type: 'strung' }, { $ref: '#/definitions/missing' }, { $ref: 'https://example.com/s.json' }, { minimum: 'x' }];
    for (const bad of bads) {
      let err: unknown;
      try {
        compileSchema(bad);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(bad)).toBeInstanceOf(SubstrateError);
      expect((err as SubstrateError).type).toBe('INVALID_MANIFEST');
    }
  });

  it('reuses the validator of an identical schema, whatever its key order', () => {
    const a = compileSchema({ type: 'object', properties: { x: { type: 'number' } } });
    const b = compileSchema({ properties: { x: { type: 'number' } }, type: 'object' });
    expect(b).toBe(a);
  });

  it('lets two different schemas share an $id', () => {
    const a = compileSchema({ $id: 'input', type: 'string' });
    const b = compileSchema({ $id: 'input', type: 'number' });
    expect(a('x').ok).toBe(true);
    expect(b(1).ok).toBe(true);
    expect(b('x').ok).toBe(false);
  });

  it('understands draft 2020-12 when the schema says so', () => {
    const v = compileSchema({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'array', prefixItems: [{ type: 'string' }], items: false });
    expect(v(['a']).ok).toBe(true);
    expect(v([1]).ok).toBe(false);
    expect(v(['a', 'b']).ok).toBe(false);
  });

  it('ignores formats it does not know instead of failing', () => {
    const v = compileSchema({ type: 'string', format: 'email' });
    expect(v('not an email').ok).toBe(true);
  });

  it('keeps its cache bounded', () => {
    for (let i = 0; i < SCHEMA_CACHE_SIZE + 50; i++) compileSchema({ type: 'integer', minimum: i });
    expect(schemaCacheSize()).toBeLessThanOrEqual(SCHEMA_CACHE_SIZE);
    expect(compileSchema({ type: 'integer', minimum: 3 })(2).ok).toBe(false);
  });
});
