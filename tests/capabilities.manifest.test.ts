import { describe, expect, it } from 'vitest';
import { SubstrateError } from '../capabilities/errors.ts';
import { parseManifest } from '../capabilities/manifest.ts';

function invalid(raw: unknown): { message: string; issues: Array<{ path: string; message: string }> } {
  try {
    parseManifest(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(SubstrateError);
    const err = e as SubstrateError;
    expect(err.type).toBe('INVALID_MANIFEST');
    const issues = err.data.issues as Array<{ path: string; message: string }>;
    expect(issues.length).toBeGreaterThan(0);
    return { message: err.message, issues };
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be refused`);
}

const base = { name: 'text.wordcount', version: '1.0.0' };

describe('parseManifest', () => {
  it('fills every default', () => {
    expect(parseManifest(base)).toEqual({
      name: 'text.wordcount',
      version: '1.0.0',
      description: '',
      dependencies: {},
      state: { shared: {} },
      limits: { timeoutMs: 5000, memoryMb: 64 },
      tests: [],
    });
    expect(parseManifest({ ...base, limits: { timeoutMs: 100 } }).limits).toEqual({ timeoutMs: 100, memoryMb: 64 });
    expect(parseManifest({ ...base, state: {} }).state).toEqual({ shared: {} });
  });

  it('keeps the contract example as written', () => {
    const raw = {
      name: 'text.wordcount',
      version: '1.0.0',
      description: 'Counts words in a text',
      inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
      outputSchema: { type: 'object', properties: { words: { type: 'integer' } }, required: ['words'] },
      dependencies: { 'text.tokenize': '^1.0.0' },
      state: { shared: { 'text.stats': 'rw' } },
      limits: { timeoutMs: 2000, memoryMb: 64 },
      tests: [{ name: 'two words', input: { text: 'a b' }, expect: { words: 2 } }],
    };
    expect(parseManifest(raw)).toEqual(raw);
  });

  it('keeps optional test fields and drops nothing else', () => {
    const m = parseManifest({
      ...base,
      state: { shared: { 'text.stats': 'r' } },
      tests: [
        { name: 'errs', input: null, expectError: { type: 'INVALID_INPUT', message: 'text' } },
        { name: 'seeded', input: {}, state: { k: [1] }, sharedState: { 'text.stats': { n: 1 } }, expect: null },
        { name: 'no error', input: 'x' },
      ],
    });
    expect(m.tests).toEqual([
      { name: 'errs', input: null, expectError: { type: 'INVALID_INPUT', message: 'text' } },
      { name: 'seeded', input: {}, state: { k: [1] }, sharedState: { 'text.stats': { n: 1 } }, expect: null },
      { name: 'no error', input: 'x' },
    ]);
    expect('expect' in m.tests[2]).toBe(false);
  });

  it('refuses a manifest that is not an object', () => {
    for (const raw of [null, 'x', 3, [], undefined]) expect(invalid(raw).message).toMatch(/invalid manifest/);
  });

  it('refuses bad names, naming the field', () => {
    const r = invalid({ ...base, name: 'Text.Count' });
    expect(r.issues[0].path).toBe('name');
    expect(r.message).toContain('name');
    expect(invalid({ ...base, name: 'a'.repeat(129) }).issues[0].path).toBe('name');
    expect(invalid({ version: '1.0.0' }).issues[0]).toEqual({ path: 'name', message: 'is required' });
  });

  it('requires a canonical semver version', () => {
    for (const version of ['1.0', 'v1.0.0', '1.0.0+build.1', ' 1.0.0', '01.0.0', 'latest', '']) {
      const r = invalid({ ...base, version });
      expect(r.issues[0].path, version).toBe('version');
    }
    expect(parseManifest({ ...base, version: '2.0.0-beta.1' }).version).toBe('2.0.0-beta.1');
  });

  it('refuses unknown keys at every level', () => {
    expect(invalid({ ...base, dependecies: {} }).issues[0]).toEqual({ path: 'dependecies', message: 'is not a manifest field' });
    expect(invalid({ ...base, limits: { timeout: 1 } }).issues[0].path).toBe('limits.timeout');
    expect(invalid({ ...base, state: { own: 'rw' } }).issues[0].path).toBe('state.own');
    expect(invalid({ ...base, tests: [{ name: 't', input: 1, expected: 1 }] }).issues[0].path).toBe('tests[0].expected');
  });

  it('checks limits', () => {
    const r = invalid({ ...base, limits: { timeoutMs: 60001 } });
    expect(r.issues[0].path).toBe('limits.timeoutMs');
    expect(r.message).toContain('limits.timeoutMs');
    expect(invalid({ ...base, limits: { timeoutMs: 0 } }).issues[0].path).toBe('limits.timeoutMs');
    expect(invalid({ ...base, limits: { timeoutMs: 1.5 } }).issues[0].path).toBe('limits.timeoutMs');
    expect(invalid({ ...base, limits: { memoryMb: 513 } }).issues[0].path).toBe('limits.memoryMb');
    expect(invalid({ ...base, limits: { memoryMb: 7 } }).issues[0].path).toBe('limits.memoryMb');
    expect(invalid({ ...base, limits: { memoryMb: '64' } }).issues[0].path).toBe('limits.memoryMb');
    expect(parseManifest({ ...base, limits: { timeoutMs: 60000, memoryMb: 512 } }).limits).toEqual({ timeoutMs: 60000, memoryMb: 512 });
    expect(parseManifest({ ...base, limits: { timeoutMs: 1, memoryMb: 8 } }).limits).toEqual({ timeoutMs: 1, memoryMb: 8 });
  });

  it('checks dependencies: names, ranges, no self-dependency', () => {
    const badName = invalid({ ...base, dependencies: { 'Text.tokenize': '^1.0.0' } });
    expect(badName.issues[0].path).toBe('dependencies["Text.tokenize"]');
    const badRange = invalid({ ...base, dependencies: { 'text.tokenize': 'one' } });
    expect(badRange.issues[0].path).toBe('dependencies["text.tokenize"]');
    expect(badRange.message).toContain('text.tokenize');
    expect(invalid({ ...base, dependencies: { 'text.tokenize': '' } }).issues[0].path).toBe('dependencies["text.tokenize"]');
    expect(invalid({ ...base, dependencies: { 'text.tokenize': 1 } }).issues[0].path).toBe('dependencies["text.tokenize"]');
    // Naming itself is allowed: recursion, bounded at run time by the call depth.
    expect(parseManifest({ ...base, dependencies: { 'text.wordcount': '^1' } }).dependencies).toEqual({ 'text.wordcount': '^1' });
    const ok = parseManifest({ ...base, dependencies: { a: '^1.0.0', b: '>=1.2.3 <2', c: '*', d: '1.x || 2.x' } });
    expect(Object.keys(ok.dependencies)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('checks shared namespaces and their access', () => {
    expect(invalid({ ...base, state: { shared: { 'Bad ns': 'r' } } }).issues[0].path).toBe('state.shared["Bad ns"]');
    expect(invalid({ ...base, state: { shared: { 'text.stats': 'w' } } }).issues[0].path).toBe('state.shared["text.stats"]');
    expect(parseManifest({ ...base, state: { shared: { a: 'r', 'b.c': 'rw' } } }).state.shared).toEqual({ a: 'r', 'b.c': 'rw' });
  });

  it('refuses schemas that are not objects or that ajv cannot compile', () => {
    expect(invalid({ ...base, inputSchema: 'string' }).issues[0].path).toBe('inputSchema');
    expect(invalid({ ...base, inputSchema: [] }).issues[0].path).toBe('inputSchema');
    const r = invalid({ ...base, outputSchema: { type: 'strung' } });
    expect(r.issues[0].path).toBe('outputSchema');
    expect(r.message).toMatch(/JSON Schema/);
    expect(invalid({ ...base, inputSchema: { $ref: 'https://example.com/schema.json' } }).issues[0].path).toBe('inputSchema');
  });

  it('checks tests', () => {
    expect(invalid({ ...base, tests: {} }).issues[0].path).toBe('tests');
    expect(invalid({ ...base, tests: [{ input: 1 }] }).issues[0].path).toBe('tests[0].name');
    expect(invalid({ ...base, tests: [{ name: '  ', input: 1 }] }).issues[0].path).toBe('tests[0].name');
    expect(invalid({ ...base, tests: [{ name: 't' }] }).issues[0]).toEqual({ path: 'tests[0].input', message: 'is required' });
    const dup = invalid({ ...base, tests: [{ name: 't', input: 1 }, { name: 't', input: 2 }] });
    expect(dup.issues[0].path).toBe('tests[1].name');
    expect(dup.message).toMatch(/duplicate/);
    const both = invalid({ ...base, tests: [{ name: 't', input: 1, expect: 1, expectError: { type: 'TIMEOUT' } }] });
    expect(both.issues[0].path).toBe('tests[0]');
    expect(invalid({ ...base, tests: [{ name: 't', input: 1, expectError: { type: 'NOPE' } }] }).issues[0].path).toBe('tests[0].expectError.type');
    expect(invalid({ ...base, tests: [{ name: 't', input: 1, expectError: 'TIMEOUT' }] }).issues[0].path).toBe('tests[0].expectError');
    expect(invalid({ ...base, tests: [{ name: 't', input: 1, state: [] }] }).issues[0].path).toBe('tests[0].state');
    const notGranted = invalid({ ...base, tests: [{ name: 't', input: 1, sharedState: { other: { k: 1 } } }] });
    expect(notGranted.issues[0].path).toBe('tests[0].sharedState.other');
  });

  it('refuses values that are not JSON, saying where', () => {
    const r = invalid({ ...base, tests: [{ name: 't', input: { a: [1, Number.NaN] } }] });
    expect(r.issues[0].path).toBe('tests[0].input');
    expect(r.issues[0].message).toContain('.a[1]');
    expect(invalid({ ...base, tests: [{ name: 't', input: new Date() }] }).issues[0].path).toBe('tests[0].input');
    expect(invalid({ ...base, tests: [{ name: 't', input: 1, expect: () => 1 }] }).issues[0].path).toBe('tests[0].expect');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(invalid({ ...base, tests: [{ name: 't', input: cyclic }] }).issues[0].message).toMatch(/circular/);
  });

  it('lists every problem it finds in data.issues and names the first in the message', () => {
    const r = invalid({ name: 'X', version: 'x', limits: { timeoutMs: 0 } });
    expect(r.issues.map((i) => i.path)).toEqual(['name', 'version', 'limits.timeoutMs']);
    expect(r.message.startsWith('invalid manifest: name:')).toBe(true);
    expect(r.message).not.toContain('\n');
  });

  it('does not share objects between calls', () => {
    const a = parseManifest(base);
    const b = parseManifest(base);
    a.dependencies.x = '^1';
    a.limits.timeoutMs = 1;
    expect(b.dependencies).toEqual({});
    expect(b.limits.timeoutMs).toBe(5000);
  });
});
