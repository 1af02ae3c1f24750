import { describe, expect, it } from 'vitest';
import { jsonEqual } from '../capabilities/equal.ts';
import { canonicalJson, contentHash } from '../capabilities/hash.ts';
import { parseManifest } from '../capabilities/manifest.ts';
import type { Json } from '../capabilities/types.ts';

describe('canonicalJson', () => {
  it('sorts keys at every depth and has no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('is the same for the same value written in any key order', () => {
    expect(canonicalJson({ x: 1, y: [1, 2], z: null })).toBe(canonicalJson({ z: null, y: [1, 2], x: 1 }));
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });

  it('round-trips through JSON.parse', () => {
    const v = { s: 'quote " backslash \\ newline \n unicode é \u2028', n: -1.5e-7, t: true, f: false, nil: null, arr: [[], {}] };
    expect(JSON.parse(canonicalJson(v))).toEqual(v);
    expect(canonicalJson('x')).toBe('"x"');
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson(3)).toBe('3');
  });
});

describe('contentHash', () => {
  const source = 'export default () => 1;\n';

  it('is sha256: + 64 hex digits and stable', () => {
    const h = contentHash(parseManifest({ name: 'a', version: '1.0.0' }), source);
    expect(h).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(contentHash(parseManifest({ name: 'a', version: '1.0.0' }), source)).toBe(h);
  });

  it('does not depend on key order or on spelling defaults out', () => {
    const implicit = parseManifest({ name: 'a', version: '1.0.0' });
    const explicit = parseManifest({
      tests: [],
      limits: { memoryMb: 64, timeoutMs: 5000 },
      state: { shared: {} },
      dependencies: {},
      description: '',
      version: '1.0.0',
      name: 'a',
    });
    expect(contentHash(explicit, source)).toBe(contentHash(implicit, source));
  });

  it('changes with the source or any manifest field', () => {
    const m = parseManifest({ name: 'a', version: '1.0.0' });
    const h = contentHash(m, source);
    expect(contentHash(m, source + ' ')).not.toBe(h);
    expect(contentHash(parseManifest({ name: 'a', version: '1.0.1' }), source)).not.toBe(h);
    expect(contentHash(parseManifest({ name: 'a', version: '1.0.0', description: 'x' }), source)).not.toBe(h);
  });
});

describe('jsonEqual', () => {
  it('ignores key order but not array order', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2, d: 3 }] }, { b: [1, { d: 3, c: 2 }], a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
  });

  it('distinguishes types, lengths and keys', () => {
    expect(jsonEqual(1, '1')).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
    expect(jsonEqual({}, [])).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(jsonEqual({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(jsonEqual({ a: null }, {})).toBe(false);
    expect(jsonEqual([1], [1, 2])).toBe(false);
    expect(jsonEqual({ a: { b: [true] } }, { a: { b: [false] } })).toBe(false);
  });

  it('treats equal scalars and empty containers as equal', () => {
    const values: Json[] = [null, true, 0, 'x', [], {}, [[]], { a: {} }];
    for (const v of values) expect(jsonEqual(v, structuredClone(v))).toBe(true);
  });
});
