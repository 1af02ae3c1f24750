import { describe, expect, it } from 'vitest';
import { SubstrateError } from '../capabilities/errors.ts';
import { NAME_RE, assertName, isValidName } from '../capabilities/names.ts';

describe('capability names', () => {
  it('accepts dot-separated lowercase segments', () => {
    for (const n of ['a', 'text.wordcount', 'todo.add', 'a1.b-2.c', 'x-y-z', 'a.b.c.d']) {
      expect(isValidName(n), n).toBe(true);
      expect(NAME_RE.test(n)).toBe(true);
    }
  });

  it('refuses everything else', () => {
    for (const n of ['', 'A', 'Text.count', '1a', 'a.', '.a', 'a..b', 'a.1b', 'a_b', 'a b', '-a', 'a.-b', 'é', 'a/b', 'shared:x']) {
      expect(isValidName(n), JSON.stringify(n)).toBe(false);
    }
    for (const n of [undefined, null, 42, {}, ['a']]) expect(isValidName(n)).toBe(false);
  });

  it('allows at most 128 characters', () => {
    expect(isValidName('a'.repeat(128))).toBe(true);
    expect(isValidName('a'.repeat(129))).toBe(false);
    expect(isValidName(`${'a'.repeat(63)}.${'b'.repeat(64)}`)).toBe(true);
  });

  it('assertName throws INVALID_MANIFEST naming the field and the value', () => {
    expect(() => assertName('ok.name')).not.toThrow();
    let err: unknown;
    try {
      assertName('Bad Name', 'dependency');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SubstrateError);
    const e = err as SubstrateError;
    expect(e.type).toBe('INVALID_MANIFEST');
    expect(e.data).toEqual({ field: 'dependency', value: 'Bad Name' });
    expect(e.message).toContain('dependency');
    expect(e.message).toContain('Bad Name');
    expect(() => assertName(undefined)).toThrow(/name/);
    expect(() => assertName('a'.repeat(129))).toThrow(/128/);
  });
});
