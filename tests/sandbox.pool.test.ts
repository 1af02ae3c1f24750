// The sandbox through real worker processes: the globals a capability sees, console capture, nested
// calls, validation, state transactions, LRU of isolates, recycling, retire and close.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Links, RunResult } from '../sandbox/protocol.ts';
import type { SandboxPool } from '../sandbox/pool.ts';
import { openWritable } from '../store/db.ts';
import { migrate } from '../store/migrations.ts';
import { StateReader, StateWriter } from '../store/state.ts';
import { ECHO, makePool, spec, Versions } from './sandbox.fixtures.ts';

const versions = new Versions();
let pool: SandboxPool;
let logs: ReturnType<typeof makePool>['logs'];
let tmp: string;
let dbPath: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-sandbox-'));
  dbPath = path.join(tmp, 'substrate.db');
  const db = openWritable(dbPath);
  migrate(db);
  const writer = new StateWriter(db, new StateReader(db));
  db.transaction(() =>
    writer.apply({
      reads: [],
      nsReads: [],
      writes: [
        ['live.reader', 'greeting', '"hello"'],
        ['live.reader', 'n', '41'],
        ['shared:live.board', 'pinned', '{"msg":"hi"}'],
      ],
    }),
  )();
  db.close();
  ({ pool, logs } = makePool(versions, { size: 2, dbPath }));
  await pool.start();
});

afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function output(r: RunResult): unknown {
  if (!r.ok) throw new Error(`expected success, got ${JSON.stringify(r.error)}`);
  return r.output;
}
function error(r: RunResult) {
  if (r.ok) throw new Error(`expected a failure, got ${JSON.stringify(r.output)}`);
  return r.error;
}

// The ECMAScript globals of V8 (Node 20): everything else must be exactly the contract's list.
const ECMASCRIPT = new Set(
  'Object Function Array Number parseFloat parseInt Infinity NaN undefined Boolean String Symbol Date Promise RegExp Error AggregateError EvalError RangeError ReferenceError SyntaxError TypeError URIError globalThis JSON Math Intl ArrayBuffer Uint8Array Int8Array Uint16Array Int16Array Uint32Array Int32Array Float32Array Float64Array Uint8ClampedArray BigUint64Array BigInt64Array DataView Map BigInt Set WeakMap WeakSet Proxy Reflect FinalizationRegistry WeakRef decodeURI decodeURIComponent encodeURI encodeURIComponent escape unescape eval isFinite isNaN SharedArrayBuffer Atomics'.split(
    ' ',
  ),
);
const CONTRACT = ['Headers', 'Request', 'Response', 'fetch', 'TextDecoder', 'TextEncoder', 'URL', 'URLSearchParams', 'atob', 'btoa', 'clearTimeout', 'console', 'crypto', 'queueMicrotask', 'setTimeout', 'structuredClone'];

describe('the sandbox realm', () => {
  it('has the ECMAScript globals plus exactly the contract list', async () => {
    const h = versions.add(
      'realm.globals',
      `const ecma = ${JSON.stringify([...ECMASCRIPT])};
       export default () => ({
         extra: Object.getOwnPropertyNames(globalThis).filter((n) => !ecma.includes(n)).sort(),
         types: {
           console: typeof console, log: typeof console.log, setTimeout: typeof setTimeout, clearTimeout: typeof clearTimeout,
           TextEncoder: typeof TextEncoder, TextDecoder: typeof TextDecoder, URL: typeof URL, URLSearchParams: typeof URLSearchParams,
           atob: typeof atob, btoa: typeof btoa, structuredClone: typeof structuredClone, queueMicrotask: typeof queueMicrotask,
           getRandomValues: typeof crypto.getRandomValues, randomUUID: typeof crypto.randomUUID,
         },
         absent: [typeof process, typeof require, typeof module, typeof exports, typeof global, typeof Buffer, typeof XMLHttpRequest,
                  typeof WebAssembly, typeof __sb_format, typeof setInterval, typeof setImmediate].every((t) => t === 'undefined'),
       });`,
    );
    const out = output(await pool.run(spec(h, null))) as { extra: string[]; types: Record<string, string>; absent: boolean };
    expect(out.extra).toEqual([...CONTRACT].sort());
    for (const [k, t] of Object.entries(out.types)) expect([k, t]).toEqual([k, k === 'console' ? 'object' : 'function']);
    expect(out.absent).toBe(true);
  });

  it('captures console and ctx.log with the invocation', async () => {
    const h = versions.add(
      'realm.logger',
      `export default (input, ctx) => {
         console.log('plain', 1, { a: [1, 2] });
         console.info('info'); console.warn('warn'); console.error('error'); console.debug('debug');
         ctx.log('from ctx', input.tag);
         return null;
       }`,
    );
    const s = spec(h, { tag: 't1' });
    output(await pool.run(s));
    await new Promise((r) => setTimeout(r, 50));
    const mine = logs.filter((l) => l.invocationId === s.invocationId);
    expect(mine.map((l) => l.level)).toEqual(['log', 'info', 'warn', 'error', 'debug', 'log']);
    expect(mine[0]).toMatchObject({ name: 'realm.logger', version: '1.0.0', message: expect.stringContaining('plain 1') });
    expect(mine[5].message).toBe('from ctx t1');
  });

  it('setTimeout and clearTimeout work within the deadline', async () => {
    const h = versions.add(
      'realm.timers',
      `export default async () => {
         const seen = [];
         const t = setTimeout(() => seen.push('cleared'), 5);
         clearTimeout(t);
         setTimeout((a, b) => seen.push(a + b), 1, 'x', 'y');
         await new Promise((r) => setTimeout(r, 30));
         return seen;
       }`,
    );
    expect(output(await pool.run(spec(h, null)))).toEqual(['xy']);
  });

  it('an unhandled rejection does not fail the call', async () => {
    const h = versions.add('realm.unhandled', `export default () => { Promise.reject(new Error('stray')); return 'fine'; }`);
    expect(output(await pool.run(spec(h, null)))).toBe('fine');
  });

  it('answers 64 calls in flight correctly', async () => {
    const h = versions.add('realm.add', 'export default async (i, ctx) => { await ctx.state.get("x"); return i.a + i.b; }');
    const rs = await Promise.all(Array.from({ length: 64 }, (_, i) => pool.run(spec(h, { a: i, b: 1000 }))));
    expect(rs.map(output)).toEqual(Array.from({ length: 64 }, (_, i) => i + 1000));
  });

  it('inspect reports the manifest and the exports; refuses what does not load', async () => {
    await expect(pool.inspect('export const manifest = { name: "x.y", n: [1] }; export default () => 1; export function migrate() {}')).resolves.toEqual({
      manifest: { name: 'x.y', n: [1] },
      hasDefault: true,
      hasMigrate: true,
    });
    await expect(pool.inspect('export default 5;')).resolves.toEqual({ manifest: undefined, hasDefault: false, hasMigrate: false });
    await expect(pool.inspect('export default function ( {')).rejects.toMatchObject({ type: 'COMPILE_ERROR' });
    await expect(pool.inspect('throw new Error("nope")')).rejects.toMatchObject({ type: 'COMPILE_ERROR', message: expect.stringContaining('nope') });
    const t0 = Date.now();
    await expect(pool.inspect('while (true) {}')).rejects.toMatchObject({ type: 'COMPILE_ERROR' });
    await expect(pool.inspect('await null; while (true) {}')).rejects.toMatchObject({ type: 'COMPILE_ERROR' });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('nested calls', () => {
  const c = versions.add('nest.c', 'export default (i, ctx) => ({ c: i.v * 10, depth: ctx.invocation.depth });');
  const b = versions.add('nest.b', 'export default async (i, ctx) => ({ b: await ctx.call("nest.c", { v: i.v + 1 }) });', {
    dependencies: { 'nest.c': '^1.0.0' },
  });
  const a = versions.add('nest.a', 'export default async (i, ctx) => ({ a: await ctx.call("nest.b", { v: i.v + 1 }), inv: ctx.invocation });', {
    dependencies: { 'nest.b': '^1.0.0' },
  });
  const links: Links = { [a]: { 'nest.b': b }, [b]: { 'nest.c': c } };

  it('go three levels deep through the links', async () => {
    const s = spec(a, { v: 1 }, { links, generation: 7 });
    expect(output(await pool.run(s))).toEqual({
      a: { b: { c: 30, depth: 2 } },
      inv: { id: s.invocationId, name: 'nest.a', version: '1.0.0', generation: 7, depth: 0, deadline: expect.any(Number) },
    });
  });

  it('refuse an undeclared dependency', async () => {
    const h = versions.add('nest.sneaky', 'export default (i, ctx) => ctx.call("nest.c", { v: 1 });');
    expect(error(await pool.run(spec(h, null, { links: { [h]: { 'nest.c': c } } })))).toMatchObject({
      type: 'UNDECLARED_DEPENDENCY',
      data: { name: 'nest.sneaky', dependency: 'nest.c' },
    });
  });

  it('fail DEPENDENCY_UNSATISFIED when the links do not resolve a declared dependency', async () => {
    expect(error(await pool.run(spec(a, { v: 1 }, { links: {} })))).toMatchObject({
      type: 'DEPENDENCY_UNSATISFIED',
      data: { name: 'nest.a', dependency: 'nest.b', range: '^1.0.0' },
    });
  });

  it('stop a self-loop with CALL_DEPTH_EXCEEDED', async () => {
    const h = versions.add('nest.loop', 'export default (i, ctx) => ctx.call("nest.loop", i);', { dependencies: { 'nest.loop': '*' } });
    expect(error(await pool.run(spec(h, {}, { links: { [h]: { 'nest.loop': h } } })))).toMatchObject({
      type: 'CALL_DEPTH_EXCEEDED',
      data: { depth: 17, limit: 16 },
    });
  });

  it('carry a callee TIMEOUT up typed, within the caller deadline', async () => {
    const slow = versions.add('nest.slow', 'export default () => new Promise(() => {});', { timeoutMs: 300 });
    const caller = versions.add('nest.waiter', 'export default (i, ctx) => ctx.call("nest.slow", null);', {
      dependencies: { 'nest.slow': '1.0.0' },
      timeoutMs: 3000,
    });
    const t0 = Date.now();
    const e = error(await pool.run(spec(caller, null, { links: { [caller]: { 'nest.slow': slow } } })));
    expect(e).toMatchObject({ type: 'TIMEOUT', data: { name: 'nest.slow', timeoutMs: 300 } });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('let a caller catch a typed callee error', async () => {
    const thrower = versions.add('nest.thrower', 'export default () => { throw new TypeError("bad thing"); };');
    const catcher = versions.add(
      'nest.catcher',
      'export default async (i, ctx) => { try { await ctx.call("nest.thrower", {}); } catch (e) { return { type: e.type, message: e.message, data: e.data, isError: e instanceof Error }; } };',
      { dependencies: { 'nest.thrower': '^1' } },
    );
    expect(output(await pool.run(spec(catcher, null, { links: { [catcher]: { 'nest.thrower': thrower } } })))).toMatchObject({
      type: 'CAPABILITY_ERROR',
      message: 'bad thing',
      data: { name: 'nest.thrower', message: 'bad thing', stack: expect.stringContaining('TypeError') },
      isError: true,
    });
  });
});

describe('validation', () => {
  const schema = {
    type: 'object',
    properties: { items: { type: 'array', items: { type: 'object', properties: { qty: { type: 'integer', minimum: 1 } }, required: ['qty'] } } },
    required: ['items'],
  };
  const h = versions.add('valid.order', 'export default (i) => i.items.length === 2 ? { total: "two" } : { total: i.items.length };', {
    inputSchema: schema,
    outputSchema: { type: 'object', properties: { total: { type: 'integer' } }, required: ['total'] },
  });

  it('refuses an invalid input with its path', async () => {
    expect(error(await pool.run(spec(h, { items: [{ qty: 1 }, { qty: 0 }] })))).toMatchObject({
      type: 'INVALID_INPUT',
      data: { path: '/items/1/qty', name: 'valid.order', message: expect.any(String) },
    });
  });

  it('refuses an invalid output with its path', async () => {
    expect(output(await pool.run(spec(h, { items: [{ qty: 3 }] })))).toEqual({ total: 1 });
    expect(error(await pool.run(spec(h, { items: [{ qty: 3 }, { qty: 4 }] })))).toMatchObject({
      type: 'INVALID_OUTPUT',
      data: { path: '/total', name: 'valid.order' },
    });
  });

  it('turns an undefined output into null and refuses non-JSON output', async () => {
    expect(output(await pool.run(spec(versions.add('valid.undef', 'export default () => undefined;'), null)))).toBeNull();
    expect(error(await pool.run(spec(versions.add('valid.fn', 'export default () => () => 1;'), null))).type).toBe('INVALID_OUTPUT');
    expect(error(await pool.run(spec(versions.add('valid.big', 'export default () => 10n;'), null))).type).toBe('INVALID_OUTPUT');
  });

  it('refuses an input over 1 MiB', async () => {
    expect(error(await pool.run(spec(versions.add('valid.in', ECHO), 'x'.repeat(1024 * 1024 + 1))))).toMatchObject({
      type: 'PAYLOAD_TOO_LARGE',
      data: { what: 'input', limit: 1024 * 1024 },
    });
  });
});

describe('state', () => {
  it('reads see the own writes; the record carries reads and writes', async () => {
    const h = versions.add(
      'st.counter',
      `export default async (i, ctx) => {
         const before = await ctx.state.get('n');
         await ctx.state.set('n', (before ?? 0) + 1);
         await ctx.state.set('tmp', 1);
         await ctx.state.delete('tmp');
         return { before, after: await ctx.state.get('n'), tmp: await ctx.state.get('tmp') };
       }`,
    );
    const r = await pool.run(spec(h, null, { state: { mode: 'scratch', seed: { 'st.counter': { n: 4 } } } }));
    expect(output(r)).toEqual({ before: 4, after: 5 });
    if (r.ok) {
      expect(r.txn.reads).toEqual([['st.counter', 'n', 0]]);
      expect(r.txn.writes).toEqual([
        ['st.counter', 'n', '5'],
        ['st.counter', 'tmp', null],
      ]);
    }
  });

  it('discards the writes of a failed nested call even when the caller catches', async () => {
    const failing = versions.add('st.failing', 'export default async (i, ctx) => { await ctx.state.set("mine", 1); throw new Error("after write"); };');
    const ok = versions.add('st.ok', 'export default async (i, ctx) => { await ctx.state.set("kept", true); return 1; };');
    const root = versions.add(
      'st.root',
      `export default async (i, ctx) => {
         await ctx.state.set('root', 'r');
         let caught;
         try { await ctx.call('st.failing', null); } catch (e) { caught = e.type; }
         await ctx.call('st.ok', null);
         return caught;
       }`,
      { dependencies: { 'st.failing': '*', 'st.ok': '*' } },
    );
    const r = await pool.run(spec(root, null, { links: { [root]: { 'st.failing': failing, 'st.ok': ok } } }));
    expect(output(r)).toBe('CAPABILITY_ERROR');
    if (r.ok) {
      expect(r.txn.writes).toEqual([
        ['st.root', 'root', '"r"'],
        ['st.ok', 'kept', 'true'],
      ]);
    }
  });

  it('a failed root returns no transaction', async () => {
    const h = versions.add('st.boom', 'export default async (i, ctx) => { await ctx.state.set("a", 1); throw new Error("boom"); };');
    const r = await pool.run(spec(h, null));
    expect(r.ok).toBe(false);
    expect('txn' in r).toBe(false);
  });

  it('opens granted shared namespaces only, read-only where granted "r"', async () => {
    const h = versions.add(
      'st.sharer',
      `export default async (i, ctx) => {
         const out = {};
         const tryIt = async (k, f) => { try { out[k] = await f(); } catch (e) { out[k] = { type: e.type, data: e.data }; } };
         await tryIt('writeRw', () => ctx.state.ns('team.board').set('x', 1));
         await tryIt('readR', () => ctx.state.ns('team.config').get('flag'));
         await tryIt('writeR', () => ctx.state.ns('team.config').set('flag', false));
         await tryIt('deleteR', () => ctx.state.ns('team.config').delete('flag'));
         await tryIt('notGranted', () => ctx.state.ns('team.secret').get('k'));
         await tryIt('ownName', () => ctx.state.ns('st.victim').get('k'));
         return out;
       }`,
      { shared: { 'team.board': 'rw', 'team.config': 'r' } },
    );
    const r = await pool.run(spec(h, null, { state: { mode: 'scratch', seed: { 'shared:team.config': { flag: true } } } }));
    expect(output(r)).toEqual({
      readR: true,
      writeR: { type: 'STATE_FORBIDDEN', data: { namespace: 'team.config', access: 'r' } },
      deleteR: { type: 'STATE_FORBIDDEN', data: { namespace: 'team.config', access: 'r' } },
      notGranted: { type: 'STATE_FORBIDDEN', data: { namespace: 'team.secret' } },
      ownName: { type: 'STATE_FORBIDDEN', data: { namespace: 'st.victim' } },
    });
    if (r.ok) expect(r.txn.writes).toEqual([['shared:team.board', 'x', '1']]);
  });

  it('lists with prefix, limit and cursor over the seed and the own writes', async () => {
    const h = versions.add(
      'st.lister',
      `export default async (i, ctx) => {
         await ctx.state.set('a2', 'new');
         await ctx.state.delete('a3');
         const p1 = await ctx.state.list({ prefix: 'a', limit: 2 });
         const p2 = await ctx.state.list({ prefix: 'a', limit: 2, cursor: p1.cursor });
         let bad;
         try { await ctx.state.list({ limit: 5000 }); } catch (e) { bad = e.type; }
         return { p1, p2, all: (await ctx.state.list()).items.length, bad };
       }`,
    );
    const seed = { 'st.lister': { a1: 1, a3: 3, a4: 4, b1: 5 } };
    expect(output(await pool.run(spec(h, null, { state: { mode: 'scratch', seed } })))).toEqual({
      p1: { items: [{ key: 'a1', value: 1 }, { key: 'a2', value: 'new' }], cursor: 'a2' },
      p2: { items: [{ key: 'a4', value: 4 }], cursor: null },
      all: 4,
      bad: 'INVALID_INPUT',
    });
  });

  it('refuses bad keys and values', async () => {
    const h = versions.add(
      'st.picky',
      `export default async (i, ctx) => {
         const out = [];
         for (const f of [() => ctx.state.set('', 1), () => ctx.state.set('k', undefined), () => ctx.state.set('x'.repeat(513), 1),
                          () => ctx.state.set('k', 'v'.repeat(1024 * 1024)), () => ctx.state.get(42), () => ctx.state.set('k', { f: 1n })]) {
           try { await f(); out.push('ok'); } catch (e) { out.push(e.type + ':' + (e.data && e.data.what)); }
         }
         return out;
       }`,
    );
    expect(output(await pool.run(spec(h, null)))).toEqual([
      'INVALID_INPUT:key',
      'INVALID_INPUT:value',
      'PAYLOAD_TOO_LARGE:key',
      'PAYLOAD_TOO_LARGE:value',
      'INVALID_INPUT:key',
      'INVALID_INPUT:value',
    ]);
  });

  it('live mode reads the store through the worker connection, with versions', async () => {
    const h = versions.add(
      'live.reader',
      `export default async (i, ctx) => ({
         greeting: await ctx.state.get('greeting'),
         n: await ctx.state.get('n'),
         missing: await ctx.state.get('missing'),
         pinned: await ctx.state.ns('live.board').get('pinned'),
         keys: (await ctx.state.list()).items.map((x) => x.key),
       })`,
      { shared: { 'live.board': 'r' } },
    );
    const r = await pool.run(spec(h, null, { state: { mode: 'live' } }));
    expect(output(r)).toEqual({ greeting: 'hello', n: 41, pinned: { msg: 'hi' }, keys: ['greeting', 'n'] });
    if (r.ok) {
      const reads = new Map(r.txn.reads.map(([ns, k, v]) => [`${ns}/${k}`, v]));
      expect(reads.get('live.reader/greeting')).toBeGreaterThan(0);
      expect(reads.get('live.reader/missing')).toBe(0);
      expect(reads.get('shared:live.board/pinned')).toBeGreaterThan(0);
      expect(r.txn.nsReads).toEqual([['live.reader', expect.any(Number)]]);
    }
  });

  it('runs the migrate entry with the same ctx', async () => {
    const h = versions.add(
      'st.migrating',
      `export default () => 'default';
       export async function migrate(ctx, from) { await ctx.state.set('migratedFrom', from); return 'migrated'; }`,
    );
    const r = await pool.run(spec(h, { from: '0.9.0' }, { entry: 'migrate' }));
    expect(output(r)).toBe('migrated');
    if (r.ok) expect(r.txn.writes).toEqual([['st.migrating', 'migratedFrom', '"0.9.0"']]);
    const none = await pool.run(spec(versions.add('st.nomigrate', ECHO), { from: null }, { entry: 'migrate' }));
    expect(output(none)).toBeNull();
  });
});

describe('isolate lifecycle', () => {
  it('keeps at most maxIsolatesPerWorker isolates while 300 versions all answer', async () => {
    const small = makePool(versions, { size: 1, maxIsolatesPerWorker: 50 }).pool;
    try {
      await small.start();
      const hashes = Array.from({ length: 300 }, (_, i) => versions.add(`lru.v${i}`, `const me = ${i}; export default (x) => me + x;`));
      for (let round = 0; round < 2; round++) {
        const rs = await Promise.all(hashes.map((h, i) => small.run(spec(h, i))));
        expect(rs.map(output)).toEqual(hashes.map((_, i) => 2 * i));
        const w = small.stats().workers[0];
        expect(w.isolates).toBeLessThanOrEqual(50);
        expect(w.isolates).toBeGreaterThan(0);
      }
    } finally {
      await small.close();
    }
  });

  it('a retired version still answers (its isolate is rebuilt)', async () => {
    const h = versions.add('life.retired', ECHO);
    expect(output(await pool.run(spec(h, 1)))).toBe(1);
    pool.retire([h]);
    expect(output(await pool.run(spec(h, 2)))).toBe(2);
  });

  it('recycles a worker after maxCallsPerWorker without dropping a run', async () => {
    const { pool: p, crashes } = makePool(versions, { size: 1, maxCallsPerWorker: 10 });
    try {
      await p.start();
      const firstPid = p.stats().workers[0].pid;
      const h = versions.add('life.recycled', 'export default async (i) => { await new Promise((r) => setTimeout(r, i % 7)); return i; }');
      const rs = await Promise.all(Array.from({ length: 60 }, (_, i) => p.run(spec(h, i))));
      expect(rs.map(output)).toEqual(Array.from({ length: 60 }, (_, i) => i));
      expect(p.stats().recycles).toBeGreaterThanOrEqual(1);
      expect(crashes).toEqual([]);
      const after = await p.run(spec(h, 99));
      expect(output(after)).toBe(99);
      expect(p.stats().workers.some((w) => w.pid !== firstPid)).toBe(true);
    } finally {
      await p.close();
    }
  });

  it('keeps serving while a recycled worker is replaced: a steady load loses no call', async () => {
    const { pool: p, crashes } = makePool(versions, { size: 1, maxCallsPerWorker: 50 });
    try {
      await p.start();
      const h = versions.add('life.steady', 'export default async (i) => { await new Promise((r) => setTimeout(r, 1)); return i; }');
      const lanes = 4;
      const perLane = 250;
      const results: unknown[] = [];
      await Promise.all(
        Array.from({ length: lanes }, async (_, lane) => {
          for (let k = 0; k < perLane; k++) {
            const i = lane * perLane + k;
            results[i] = output(await p.run(spec(h, i)));
          }
        }),
      );
      expect(results).toEqual(Array.from({ length: lanes * perLane }, (_, i) => i));
      expect(p.stats().recycles).toBeGreaterThan(0);
      expect(crashes).toEqual([]);
    } finally {
      await p.close();
    }
  });

  it('close fails what is pending with SANDBOX_CRASHED', async () => {
    const { pool: p } = makePool(versions, { size: 1 });
    await p.start();
    const h = versions.add('life.pending', 'export default () => new Promise((r) => setTimeout(r, 2000));');
    const pending = p.run(spec(h, null));
    await new Promise((r) => setTimeout(r, 100));
    await p.close();
    expect(error(await pending).type).toBe('SANDBOX_CRASHED');
    expect(error(await p.run(spec(h, null))).type).toBe('SANDBOX_CRASHED');
  });
});
