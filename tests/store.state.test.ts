// Capability state: optimistic transactions (key and namespace versions), listing, the read-only reader.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openReadOnlyState, Store } from '../store/store.ts';
import { prefixUpperBound } from '../store/state.ts';

let dir: string;
let store: Store;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-state-'));
  store = Store.open(path.join(dir, 'substrate.db'));
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const put = (ns: string, key: string, value: unknown) =>
  store.commitState({ reads: [], nsReads: [], writes: [[ns, key, JSON.stringify(value)]] });
const del = (ns: string, key: string) => store.commitState({ reads: [], nsReads: [], writes: [[ns, key, null]] });

describe('store state', () => {
  it('reads what was written, with a version; absent keys read undefined', () => {
    expect(store.readState('a', 'k')).toBeUndefined();
    expect(store.namespaceVersion('a')).toBe(0);
    expect(put('a', 'k', { x: 1 })).toBe('ok');
    const r = store.readState('a', 'k');
    expect(r?.value).toBe('{"x":1}');
    expect(r?.version).toBeGreaterThan(0);
    expect(store.namespaceVersion('a')).toBeGreaterThan(0);
  });

  it('every write gets a fresh, strictly larger version; updates leave the namespace version alone', () => {
    put('a', 'k', 1);
    const v1 = store.readState('a', 'k')!.version;
    const ns1 = store.namespaceVersion('a');
    put('a', 'k', 2);
    const v2 = store.readState('a', 'k')!.version;
    expect(v2).toBeGreaterThan(Math.max(v1, ns1));
    expect(store.namespaceVersion('a')).toBe(ns1);
    put('b', 'other', 1);
    expect(store.namespaceVersion('a')).toBe(ns1);
  });

  it('detects a stale key read and writes nothing', () => {
    put('a', 'k', 1);
    const v = store.readState('a', 'k')!.version;
    put('a', 'k', 2);
    const res = store.commitState({ reads: [['a', 'k', v]], nsReads: [], writes: [['a', 'k', '3'], ['a', 'other', '9']] });
    expect(res).toBe('conflict');
    expect(store.readState('a', 'k')!.value).toBe('2');
    expect(store.readState('a', 'other')).toBeUndefined();
  });

  it('accepts a read that is still current', () => {
    put('a', 'k', 1);
    const v = store.readState('a', 'k')!.version;
    expect(store.commitState({ reads: [['a', 'k', v]], nsReads: [], writes: [['a', 'k', '2']] })).toBe('ok');
    expect(store.readState('a', 'k')!.value).toBe('2');
  });

  it('detects read-absent then inserted (version 0)', () => {
    put('a', 'k', 1);
    expect(store.commitState({ reads: [['a', 'k', 0]], nsReads: [], writes: [['a', 'k', '5']] })).toBe('conflict');
    expect(store.commitState({ reads: [['a', 'nope', 0]], nsReads: [], writes: [['a', 'nope', '5']] })).toBe('ok');
  });

  it('detects delete + re-insert of a key read earlier (no ABA)', () => {
    put('a', 'k', 1);
    const v = store.readState('a', 'k')!.version;
    del('a', 'k');
    put('a', 'k', 1);
    expect(store.readState('a', 'k')!.value).toBe('1');
    expect(store.commitState({ reads: [['a', 'k', v]], nsReads: [], writes: [['a', 'k', '2']] })).toBe('conflict');
  });

  it('no ABA across a restart either', () => {
    put('a', 'k', 1);
    const v = store.readState('a', 'k')!.version;
    del('a', 'k');
    store.close();
    store = Store.open(path.join(dir, 'substrate.db'));
    put('a', 'k', 1);
    expect(store.readState('a', 'k')!.version).toBeGreaterThan(v);
    expect(store.commitState({ reads: [['a', 'k', v]], nsReads: [], writes: [] })).toBe('conflict');
  });

  it('a list() read is invalidated by an insert or delete in the namespace, not by an update', () => {
    put('a', 'k1', 1);
    const ns = store.namespaceVersion('a');
    put('a', 'k1', 2); // update
    expect(store.commitState({ reads: [], nsReads: [['a', ns]], writes: [['a', 'sum', '2']] })).toBe('ok');
    const ns2 = store.namespaceVersion('a');
    expect(ns2).not.toBe(ns); // 'sum' was inserted
    put('a', 'k2', 1); // insert
    expect(store.commitState({ reads: [], nsReads: [['a', ns2]], writes: [['a', 'sum', '3']] })).toBe('conflict');
    const ns3 = store.namespaceVersion('a');
    del('a', 'k2');
    expect(store.commitState({ reads: [], nsReads: [['a', ns3]], writes: [] })).toBe('conflict');
    // A list of a namespace never written is recorded as 0; a first insert invalidates it.
    expect(store.commitState({ reads: [], nsReads: [['fresh', 0]], writes: [] })).toBe('ok');
    put('fresh', 'x', 1);
    expect(store.commitState({ reads: [], nsReads: [['fresh', 0]], writes: [] })).toBe('conflict');
  });

  it('deleting a missing key is a no-op write', () => {
    put('a', 'k', 1);
    const ns = store.namespaceVersion('a');
    expect(del('a', 'missing')).toBe('ok');
    expect(store.namespaceVersion('a')).toBe(ns);
    expect(del('never', 'missing')).toBe('ok');
    expect(store.namespaceVersion('never')).toBe(0);
  });

  it('lists keys in order with prefix, after and limit', () => {
    for (const k of ['b/2', 'a', 'b/1', 'b/3', 'b0', 'c', 'b/\u{10FFFF}', 'b/é']) put('n', k, k);
    const keys = (o: { prefix?: string; after?: string; limit: number }) => store.listState('n', o).map((r) => r.key);
    expect(keys({ limit: 100 })).toEqual(['a', 'b/1', 'b/2', 'b/3', 'b/é', 'b/\u{10FFFF}', 'b0', 'c']);
    expect(keys({ prefix: 'b/', limit: 100 })).toEqual(['b/1', 'b/2', 'b/3', 'b/é', 'b/\u{10FFFF}']);
    expect(keys({ prefix: 'b/', after: 'b/1', limit: 2 })).toEqual(['b/2', 'b/3']);
    expect(keys({ after: 'b0', limit: 10 })).toEqual(['c']);
    expect(keys({ prefix: 'zz', limit: 10 })).toEqual([]);
    const row = store.listState('n', { prefix: 'c', limit: 1 })[0];
    expect(row.value).toBe('"c"');
    expect(row.version).toBe(store.readState('n', 'c')!.version);
    expect(prefixUpperBound('ab')).toBe('ac');
    expect(prefixUpperBound('\u{10FFFF}')).toBeNull();
  });

  it('counts keys per namespace', () => {
    put('a', 'x', 1);
    put('a', 'y', 1);
    put('b', 'x', 1);
    del('b', 'x');
    put('c', 'x', 1);
    expect(store.namespaces()).toEqual([
      { namespace: 'a', keys: 2 },
      { namespace: 'c', keys: 1 },
    ]);
  });

  it('a read-only reader in the same process sees committed writes', () => {
    const reader = openReadOnlyState(store.path);
    try {
      expect(reader.readState('a', 'k')).toBeUndefined();
      expect(reader.namespaceVersion('a')).toBe(0);
      put('a', 'k', 1);
      expect(reader.readState('a', 'k')).toEqual(store.readState('a', 'k'));
      expect(reader.namespaceVersion('a')).toBe(store.namespaceVersion('a'));
      put('a', 'k', 2);
      put('a', 'j', 3);
      expect(reader.readState('a', 'k')!.value).toBe('2');
      expect(reader.listState('a', { limit: 10 }).map((r) => r.key)).toEqual(['j', 'k']);
    } finally {
      reader.close();
    }
  });

  it('the read-only reader refuses a missing file and never creates one', () => {
    const missing = path.join(dir, 'missing.db');
    expect(() => openReadOnlyState(missing)).toThrow();
    expect(fs.existsSync(missing)).toBe(false);
  });
});
