import { describe, expect, it } from 'vitest';
import { SubstrateError } from '../capabilities/errors.ts';
import { checkKey, checkValue, compareKeys, LIST_MAX_PAGE_BYTES, seedSource, Transaction, TXN_MAX_WRITE_BYTES } from '../sandbox/transaction.ts';
import type { StateSource } from '../sandbox/transaction.ts';

/** A source with explicit versions, counting its queries. */
function source(rows: { [ns: string]: { [key: string]: [unknown, number] } }, nsVersions: { [ns: string]: number } = {}) {
  const calls = { read: 0, list: 0 };
  const src: StateSource = {
    readState(ns, key) {
      calls.read++;
      const r = rows[ns]?.[key];
      return r ? { value: JSON.stringify(r[0]), version: r[1] } : undefined;
    },
    listState(ns, opts) {
      calls.list++;
      return Object.entries(rows[ns] ?? {})
        .map(([key, [v, version]]) => ({ key, value: JSON.stringify(v), version }))
        .sort((a, b) => compareKeys(a.key, b.key))
        .filter((r) => (!opts.prefix || r.key.startsWith(opts.prefix)) && (opts.after === undefined || compareKeys(r.key, opts.after) > 0))
        .slice(0, opts.limit);
    },
    namespaceVersion: (ns) => nsVersions[ns] ?? 0,
  };
  return { src, calls };
}

const typeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as SubstrateError).type;
  }
  return 'no error';
};

describe('Transaction', () => {
  it('reads see the own writes; base reads are recorded once with their version', () => {
    const { src } = source({ a: { k: [1, 7], j: [2, 9] } });
    const t = new Transaction(src);
    expect(t.get(t.root, 'a', 'k')).toBe('1');
    t.put(t.root, 'a', 'k', '5');
    expect(t.get(t.root, 'a', 'k')).toBe('5');
    expect(t.get(t.root, 'a', 'missing')).toBeUndefined();
    t.put(t.root, 'a', 'j', null);
    expect(t.get(t.root, 'a', 'j')).toBeUndefined();
    t.put(t.root, 'a', 'k', '6');
    const rec = t.record();
    expect(rec.reads).toEqual([
      ['a', 'k', 7],
      ['a', 'missing', 0],
    ]);
    // Order of last write per key.
    expect(rec.writes).toEqual([
      ['a', 'j', null],
      ['a', 'k', '6'],
    ]);
  });

  it('a released savepoint merges into its parent, a discarded one vanishes', () => {
    const t = new Transaction(seedSource({}));
    t.put(t.root, 'n', 'root', '1');
    const ok = t.savepoint(t.root);
    t.put(ok, 'n', 'child', '2');
    expect(t.get(ok, 'n', 'root')).toBe('1');
    expect(t.get(t.root, 'n', 'child')).toBeUndefined();
    t.release(ok);
    expect(t.get(t.root, 'n', 'child')).toBe('2');

    const bad = t.savepoint(t.root);
    t.put(bad, 'n', 'root', '99');
    const grandchild = t.savepoint(bad);
    t.put(grandchild, 'n', 'deep', '3');
    t.release(grandchild);
    expect(t.get(bad, 'n', 'deep')).toBe('3');
    t.discard(bad);
    expect(t.get(t.root, 'n', 'root')).toBe('1');
    expect(t.get(t.root, 'n', 'deep')).toBeUndefined();
    expect(t.record().writes).toEqual([
      ['n', 'root', '1'],
      ['n', 'child', '2'],
    ]);
  });

  it('list merges the source with the overlay, pages by cursor, records the namespace version and the rows read', () => {
    const { src } = source({ s: { a: [1, 3], b: [2, 4], c: [3, 5], d: [4, 6], x: [0, 1] } }, { s: 42 });
    const t = new Transaction(src);
    t.put(t.root, 's', 'b', null); // deleted
    t.put(t.root, 's', 'bb', '"new"'); // inserted
    t.put(t.root, 's', 'c', '30'); // updated
    const p1 = t.list(t.root, 's', { limit: 2 });
    expect(p1.items).toEqual([
      { key: 'a', value: '1' },
      { key: 'bb', value: '"new"' },
    ]);
    expect(p1.cursor).toBe('bb');
    const p2 = t.list(t.root, 's', { limit: 2, cursor: p1.cursor });
    expect(p2.items).toEqual([
      { key: 'c', value: '30' },
      { key: 'd', value: '4' },
    ]);
    const p3 = t.list(t.root, 's', { limit: 2, cursor: p2.cursor });
    expect(p3).toEqual({ items: [{ key: 'x', value: '0' }], cursor: null });
    expect(t.list(t.root, 's', { prefix: 'b' }).items.map((i) => i.key)).toEqual(['bb']);
    const rec = t.record();
    expect(rec.nsReads).toEqual([['s', 42]]);
    expect(rec.reads).toEqual(expect.arrayContaining([['s', 'a', 3], ['s', 'd', 6], ['s', 'x', 1]]));
    expect(rec.reads.find((r) => r[1] === 'c')).toBeUndefined();
  });

  it('list skips many deleted source rows without returning a short page', () => {
    const rows: { [k: string]: [unknown, number] } = {};
    for (let i = 0; i < 50; i++) rows[`k${String(i).padStart(2, '0')}`] = [i, i + 1];
    const t = new Transaction(source({ s: rows }).src);
    for (let i = 0; i < 45; i++) t.put(t.root, 's', `k${String(i).padStart(2, '0')}`, null);
    const page = t.list(t.root, 's', { limit: 3 });
    expect(page.items.map((i) => i.key)).toEqual(['k45', 'k46', 'k47']);
    expect(page.cursor).toBe('k47');
  });

  it('orders keys by code point, like SQLite on UTF-8', () => {
    expect(compareKeys('\uffff', '\u{10000}')).toBeLessThan(0);
    expect(compareKeys('a', 'ab')).toBeLessThan(0);
    const t = new Transaction(seedSource({ s: { '\u{10000}': 1, '\uffff': 2, a: 3 } }));
    expect(t.list(t.root, 's').items.map((i) => i.key)).toEqual(['a', '\uffff', '\u{10000}']);
  });

  it('a page of large values stops early with a cursor, and the next page goes on', () => {
    const big = 'x'.repeat(1024 * 1024);
    const seed: { [k: string]: string } = {};
    for (let i = 0; i < 20; i++) seed[`k${String(i).padStart(2, '0')}`] = big;
    const t = new Transaction(seedSource({ s: seed }));
    const p1 = t.list(t.root, 's', { limit: 1000 });
    expect(p1.items.length).toBeLessThan(20);
    expect(p1.items.length * (big.length + 2)).toBeLessThanOrEqual(LIST_MAX_PAGE_BYTES);
    expect(p1.cursor).toBe(p1.items[p1.items.length - 1].key);
    const p2 = t.list(t.root, 's', { limit: 1000, cursor: p1.cursor });
    expect(p2.items[0].key).not.toBe(p1.cursor);
    expect(p1.items.length + p2.items.length).toBeGreaterThan(p1.items.length);
  });

  it('bounds what one transaction may write', () => {
    const t = new Transaction(seedSource({}));
    const v = 'y'.repeat(1024 * 1024);
    let result = 'no error';
    for (let i = 0; i * v.length <= TXN_MAX_WRITE_BYTES + v.length && result === 'no error'; i++) {
      result = typeOf(() => t.put(t.root, 's', 'same', v));
    }
    expect(result).toBe('PAYLOAD_TOO_LARGE');
  });

  it('scratch state reads the seed at version 0', () => {
    const t = new Transaction(seedSource({ cap: { n: { deep: [1] } } }));
    expect(t.get(t.root, 'cap', 'n')).toBe('{"deep":[1]}');
    expect(t.record().reads).toEqual([['cap', 'n', 0]]);
  });

  it('checks keys, values and list limits', () => {
    expect(typeOf(() => checkKey(''))).toBe('INVALID_INPUT');
    expect(typeOf(() => checkKey(5))).toBe('INVALID_INPUT');
    expect(typeOf(() => checkKey('\ud800x'))).toBe('INVALID_INPUT');
    expect(typeOf(() => checkKey('é'.repeat(257)))).toBe('PAYLOAD_TOO_LARGE');
    expect(checkKey('é'.repeat(256))).toHaveLength(256);
    expect(typeOf(() => checkValue(undefined))).toBe('INVALID_INPUT');
    expect(typeOf(() => checkValue(`"${'x'.repeat(1024 * 1024)}"`))).toBe('PAYLOAD_TOO_LARGE');
    const t = new Transaction(seedSource({}));
    expect(typeOf(() => t.list(t.root, 's', { limit: 1001 }))).toBe('INVALID_INPUT');
    expect(typeOf(() => t.list(t.root, 's', { limit: 0 }))).toBe('INVALID_INPUT');
  });
});
