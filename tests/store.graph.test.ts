// The stored graph: versions, current pointers, generation, atomic commits and the journal.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Principal, VersionRecord } from '../capabilities/types.ts';
import { Store } from '../store/store.ts';
import type { CommitInput } from '../store/types.ts';
import type { ChangeSummary, GateResult } from '../capabilities/protocol/types.ts';

/** A journal change summary as the kernel writes it, with what a test does not care about null. */
function change(op: ChangeSummary['op'], name: string, version: string | null = null): ChangeSummary {
  return { op, name, version, hash: null, previous: null, activated: op !== 'remove' };
}
const passedGate = (test: string): GateResult => ({ capability: 'x', version: '1.0.0', test, passed: true, durationMs: 1 });

const alice: Principal = { id: 'tok-a', name: 'alice', role: 'agent' };
const bob: Principal = { id: 'tok-b', name: 'bob', role: 'agent' };

function version(name: string, v: string, deps: { [n: string]: string } = {}): VersionRecord {
  return {
    name,
    version: v,
    hash: `sha256:${name}@${v}`,
    manifest: {
      name,
      version: v,
      description: `${name} ${v}`,
      dependencies: deps,
      state: { shared: {} },
      limits: { timeoutMs: 5000, memoryMb: 64 },
      tests: [{ name: 't', input: { a: 1 }, expect: { b: 2 } }],
    },
    source: `export default () => '${v}'`,
    language: 'ts',
    compiled: `export default () => '${v}'`,
    hasMigrate: v.startsWith('2'),
    createdAt: 1000,
    principal: 'alice',
  };
}

function register(store: Store, by: Principal, ...vs: VersionRecord[]): number | 'conflict' | 'stale' {
  const input: CommitInput = {
    principal: by,
    newVersions: vs,
    setCurrent: vs.map((v) => ({ name: v.name, hash: v.hash })),
    bumpGeneration: true,
    changes: vs.map((v) => change('register', v.name, v.version)),
    gates: [],
  };
  return store.commit(input);
}

let dir: string;
let store: Store;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-graph-'));
  store = Store.open(path.join(dir, 'substrate.db'));
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('store graph and commits', () => {
  it('commits versions, owners, pointers and the generation together', () => {
    const a1 = version('text.a', '1.0.0');
    const b1 = version('text.b', '1.0.0', { 'text.a': '^1.0.0' });
    expect(register(store, alice, a1, b1)).toBe(1);
    expect(store.generation()).toBe(1);

    expect(store.getVersion(a1.hash)).toEqual(a1);
    expect(store.findVersion('text.b', '1.0.0')).toEqual(b1);
    expect(store.findVersion('text.b', '9.9.9')).toBeUndefined();
    expect(store.getVersion('sha256:nope')).toBeUndefined();
    expect(store.capability('text.a')).toMatchObject({ name: 'text.a', ownerId: 'tok-a', ownerName: 'alice', current: a1.hash });
    expect(store.capabilities().map((c) => c.name)).toEqual(['text.a', 'text.b']);
    expect(store.allVersionMeta()).toEqual([
      { name: 'text.a', version: '1.0.0', hash: a1.hash, dependencies: {}, createdAt: 1000 },
      { name: 'text.b', version: '1.0.0', hash: b1.hash, dependencies: { 'text.a': '^1.0.0' }, createdAt: 1000 },
    ]);

    // A later version by someone else keeps the first owner; the same content again is skipped.
    const a2 = version('text.a', '2.0.0');
    expect(register(store, bob, a2, a1)).toBe(2);
    expect(store.capability('text.a')).toMatchObject({ ownerName: 'alice', current: a1.hash });
    expect(store.getVersion(a2.hash)?.hasMigrate).toBe(true);
  });

  it('survives re-open with the generation and pointers', () => {
    register(store, alice, version('x', '1.0.0'));
    store.commit({ principal: alice, newVersions: [], setCurrent: [{ name: 'x', hash: null }], bumpGeneration: true, changes: [change('remove', 'x')], gates: [] });
    store.close();
    store = Store.open(path.join(dir, 'substrate.db'));
    expect(store.generation()).toBe(2);
    expect(store.capability('x')?.current).toBeNull();
  });

  it('a commit without bumpGeneration journals under the unchanged generation', () => {
    register(store, alice, version('x', '1.0.0'));
    const g = store.commit({ principal: alice, newVersions: [version('x', '1.1.0')], setCurrent: [], bumpGeneration: false, changes: [change('register', 'x')], gates: [] });
    expect(g).toBe(1);
    expect(store.generation()).toBe(1);
    expect(store.history({ limit: 10 }).map((h) => h.generation)).toEqual([1, 1]);
    expect(store.capability('x')?.current).toBe('sha256:x@1.0.0');
  });

  it('a commit whose state conflicts writes nothing at all', () => {
    store.commitState({ reads: [], nsReads: [], writes: [['x', 'k', '1']] });
    const v = store.readState('x', 'k')!.version;
    store.commitState({ reads: [], nsReads: [], writes: [['x', 'k', '2']] });
    const res = store.commit({
      principal: alice,
      newVersions: [version('x', '1.0.0')],
      setCurrent: [{ name: 'x', hash: 'sha256:x@1.0.0' }],
      bumpGeneration: true,
      changes: [change('register', 'x')],
      gates: [],
      state: { reads: [['x', 'k', v]], nsReads: [], writes: [['x', 'k', '3'], ['x', 'new', '1']] },
    });
    expect(res).toBe('conflict');
    expect(store.generation()).toBe(0);
    expect(store.history({ limit: 10 })).toEqual([]);
    expect(store.allVersionMeta()).toEqual([]);
    expect(store.capabilities()).toEqual([]);
    expect(store.readState('x', 'k')!.value).toBe('2');
    expect(store.readState('x', 'new')).toBeUndefined();

    // After a fresh read the same commit goes through, state included.
    const ok = store.commit({
      principal: alice,
      newVersions: [version('x', '1.0.0')],
      setCurrent: [{ name: 'x', hash: 'sha256:x@1.0.0' }],
      bumpGeneration: true,
      changes: [change('register', 'x')],
      gates: [],
      state: { reads: [['x', 'k', store.readState('x', 'k')!.version]], nsReads: [], writes: [['x', 'k', '3']] },
    });
    expect(ok).toBe(1);
    expect(store.readState('x', 'k')!.value).toBe('3');
  });

  it('a commit that fails midway (bad pointer) rolls back entirely', () => {
    expect(() =>
      store.commit({
        principal: alice,
        newVersions: [version('x', '1.0.0')],
        setCurrent: [{ name: 'x', hash: 'sha256:x@1.0.0' }, { name: 'ghost', hash: null }],
        bumpGeneration: true,
        changes: [],
        gates: [],
        state: { reads: [], nsReads: [], writes: [['x', 'k', '1']] },
      }),
    ).toThrow();
    expect(store.generation()).toBe(0);
    expect(store.capabilities()).toEqual([]);
    expect(store.readState('x', 'k')).toBeUndefined();
    expect(store.history({ limit: 10 })).toEqual([]);
  });

  it('a different content under an existing name and version is refused', () => {
    register(store, alice, version('x', '1.0.0'));
    const clash = { ...version('x', '1.0.0'), hash: 'sha256:other' };
    expect(() => register(store, alice, clash)).toThrow();
    expect(store.generation()).toBe(1);
  });

  it('history: newest first, paged by journal seq, filtered by name', () => {
    for (let i = 1; i <= 5; i++) register(store, alice, version(i % 2 ? 'odd' : 'even', `${i}.0.0`));
    store.commit({ principal: bob, newVersions: [], setCurrent: [], bumpGeneration: true, changes: [change('remove', 'odd'), change('remove', 'even')], gates: [passedGate('x')] });

    const all = store.history({ limit: 100 });
    expect(all.map((h) => h.generation)).toEqual([6, 5, 4, 3, 2, 1]);
    expect(all[0]).toMatchObject({ principal: 'bob', gates: [passedGate('x')] });
    expect(all[5].changes).toEqual([change('register', 'odd', '1.0.0')]);
    expect(typeof all[0].at).toBe('number');

    const page1 = store.history({ limit: 2 });
    expect(page1.map((h) => h.generation)).toEqual([6, 5]);
    const page2 = store.history({ limit: 2, before: page1[1].seq });
    expect(page2.map((h) => h.generation)).toEqual([4, 3]);

    expect(store.history({ name: 'odd', limit: 100 }).map((h) => h.generation)).toEqual([6, 5, 3, 1]);
    expect(store.history({ name: 'even', limit: 1, before: all[0].seq }).map((h) => h.generation)).toEqual([4]);
    expect(store.history({ name: 'od', limit: 100 })).toEqual([]);
    expect(store.history({ name: '%', limit: 100 })).toEqual([]);
  });
});
