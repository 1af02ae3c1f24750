// Hostile capability code against real sandbox workers: every case ends with its typed error within
// its deadline + 1 s, nothing reaches the worker's Node realm, and the pool answers correctly after.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../sandbox/protocol.ts';
import type { SandboxPool } from '../sandbox/pool.ts';
import { ECHO, makePool, spec, Versions } from './sandbox.fixtures.ts';

const versions = new Versions();
let pool: SandboxPool;
let crashes: number[];
const echo = versions.add('echo', ECHO);

beforeAll(async () => {
  ({ pool, crashes } = makePool(versions, { size: 1 }));
  await pool.start();
});
afterAll(async () => {
  await pool.close();
});

const workerPid = () => pool.stats().workers.find((w) => !w.retiring)?.pid ?? 0;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function timed(root: string, input: unknown = null): Promise<{ r: RunResult; ms: number }> {
  const t0 = Date.now();
  const r = await pool.run(spec(root, input as never));
  return { r, ms: Date.now() - t0 };
}

async function expectHealthy(pidBefore?: number): Promise<void> {
  const r = await pool.run(spec(echo, { still: 'here' }));
  expect(r).toMatchObject({ ok: true, output: { still: 'here' } });
  if (pidBefore !== undefined) {
    expect(workerPid()).toBe(pidBefore);
    expect(alive(pidBefore)).toBe(true);
  }
}

function errorOf(r: RunResult) {
  if (r.ok) throw new Error(`expected a failure, got ${JSON.stringify(r.output)}`);
  return r.error;
}

describe('runaway code ends with TIMEOUT within its deadline', () => {
  const cases: Array<[string, string]> = [
    ['synchronous while(true)', 'export default function () { while (true) {} }'],
    ['while(true) after an await of the host', 'export default async function (i, ctx) { await ctx.state.get("k"); while (true) {} }'],
    ['while(true) after a timer', 'export default async function () { await new Promise((r) => setTimeout(r, 10)); while (true) {} }'],
    ['while(true) in a timer callback', 'export default function () { return new Promise(() => setTimeout(() => { while (true) {} }, 0)); }'],
    ['a promise that never resolves', 'export default function () { return new Promise(() => {}); }'],
    ['a 1e9 ms setTimeout', 'export default async function () { await new Promise((r) => setTimeout(r, 1e9)); return 1; }'],
    ['Atomics.wait forever', 'export default function () { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); }'],
  ];
  for (const [title, code] of cases) {
    it(title, async () => {
      const pid = workerPid();
      const h = versions.add(`hostile.t${cases.findIndex((c) => c[0] === title)}`, code, { timeoutMs: 600 });
      const { r, ms } = await timed(h);
      expect(errorOf(r)).toMatchObject({ type: 'TIMEOUT', data: { timeoutMs: 600, name: expect.stringMatching(/^hostile\./), version: '1.0.0' } });
      expect(ms).toBeLessThan(600 + 1000);
      await expectHealthy(pid);
      // The same version answers again (a stuck isolate is rebuilt on next use).
      const again = await timed(h);
      expect(errorOf(again.r).type).toBe('TIMEOUT');
      await expectHealthy(pid);
    });
  }
});

describe('code outside any timeout', () => {
  it('a FinalizationRegistry callback that loops is found stuck, and the isolate is replaced', async () => {
    const pid = workerPid();
    const h = versions.add(
      'hostile.finalizer',
      `const reg = new FinalizationRegistry(() => { while (true) {} });
       export default async (i, ctx) => {
         for (let k = 0; k < 2000; k++) reg.register({ big: new Array(1000).fill(k) }, k);
         for (let k = 0; k < 50; k++) { await ctx.state.get('x'); new Array(100000).fill(1); }
         return 'survived';
       }`,
      { timeoutMs: 1000 },
    );
    for (let round = 0; round < 2; round++) {
      const { r, ms } = await timed(h);
      // GC timing decides whether the finalizer runs during this call; when it does, TIMEOUT.
      if (!r.ok) expect(r.error.type).toBe('TIMEOUT');
      expect(ms).toBeLessThan(1000 + 1000);
      await expectHealthy(pid);
    }
  });
});

describe('memory', () => {
  it('a growing array ends with MEMORY_LIMIT', async () => {
    const pid = workerPid();
    const h = versions.add(
      'hostile.membomb',
      'export default function () { const a = []; while (true) a.push(new Array(1000).fill(a.length)); }',
      { memoryMb: 32, timeoutMs: 5000 },
    );
    const { r, ms } = await timed(h);
    expect(errorOf(r)).toMatchObject({ type: 'MEMORY_LIMIT', data: { memoryMb: 32, name: 'hostile.membomb', version: '1.0.0' } });
    expect(ms).toBeLessThan(5000 + 1000);
    await expectHealthy(pid);
  });

  it('a growing array after an await ends with MEMORY_LIMIT', async () => {
    const pid = workerPid();
    const h = versions.add(
      'hostile.membomb-async',
      'export default async function (i, ctx) { await ctx.state.get("x"); const a = []; while (true) a.push("x".repeat(100) + a.length); }',
      { memoryMb: 32, timeoutMs: 5000 },
    );
    const { r, ms } = await timed(h);
    expect(errorOf(r).type).toBe('MEMORY_LIMIT');
    expect(ms).toBeLessThan(5000 + 1000);
    await expectHealthy(pid);
  });

  it('JSON.stringify of a 10,000,000-key object fails typed and the pool recovers', async () => {
    const h = versions.add(
      'hostile.stringify',
      'export default function () { const o = {}; for (let i = 0; i < 1e7; i++) o["k" + i] = i; return JSON.stringify(o).length; }',
      { memoryMb: 64, timeoutMs: 10_000 },
    );
    const { r, ms } = await timed(h);
    const e = errorOf(r);
    // What really happens (see the report): V8 aborts on a catastrophic out-of-memory inside the
    // isolate, the worker kills itself, the call fails with SANDBOX_CRASHED.
    expect(['SANDBOX_CRASHED', 'MEMORY_LIMIT']).toContain(e.type);
    if (e.type === 'SANDBOX_CRASHED') expect(e.data).toMatchObject({ pid: expect.any(Number), reason: expect.any(String) });
    expect(ms).toBeLessThan(10_000 + 1000);
    await expectHealthy();
  });

  it('a huge output is refused with PAYLOAD_TOO_LARGE', async () => {
    const pid = workerPid();
    const h = versions.add('hostile.bigout', 'export default () => "x".repeat(3 * 1024 * 1024);');
    const { r } = await timed(h);
    expect(errorOf(r)).toMatchObject({ type: 'PAYLOAD_TOO_LARGE', data: { what: 'output', limit: 1024 * 1024 } });
    await expectHealthy(pid);
  });
});

describe('errors thrown by capability code', () => {
  it('unbounded recursion is a CAPABILITY_ERROR with the stack', async () => {
    const pid = workerPid();
    const h = versions.add('hostile.recursion', 'function f(n) { return f(n + 1) + 1; } export default () => f(0);');
    const { r } = await timed(h);
    const e = errorOf(r);
    expect(e.type).toBe('CAPABILITY_ERROR');
    expect(e.data).toMatchObject({ name: 'hostile.recursion', version: '1.0.0', message: expect.stringMatching(/call stack/i) });
    expect(String(e.data.stack)).toMatch(/RangeError/);
    await expectHealthy(pid);
  });

  it('a capability cannot forge a typed error', async () => {
    const h = versions.add(
      'hostile.forge',
      'export default () => { const e = new Error("fake"); e.type = "SANDBOX_CRASHED"; e.data = { pid: 1 }; throw e; };',
    );
    const { r } = await timed(h);
    expect(errorOf(r)).toMatchObject({ type: 'CAPABILITY_ERROR', data: { message: 'fake' } });
  });
});

describe('nothing reaches the host realm', () => {
  const escapes: Array<[string, string]> = [
    ['this.constructor.constructor', `(function () { return this.constructor.constructor('return process')(); })()`],
    ['input.constructor.constructor', `input.constructor.constructor('return process')()`],
    ['({}).constructor.constructor return this', `({}).constructor.constructor('return this')().process`],
    ['ctx.constructor.constructor', `ctx.constructor.constructor('return process')()`],
    ['ctx.call.constructor', `ctx.call.constructor('return process')()`],
    ['ctx.state.get.constructor', `ctx.state.get.constructor('return process')()`],
    ['console.log.constructor', `console.log.constructor('return process')()`],
    ['setTimeout.constructor', `setTimeout.constructor('return require')()`],
    ['typeof require', `typeof require === 'undefined' ? undefined : 'require'`],
    ['globalThis.process', `globalThis.process`],
    ['a typed error object', `(() => { try { ctx.state.ns('nope'); } catch (e) { return e.constructor.constructor('return process')(); } })()`],
    ['an error stack frame', `(() => { let got; Error.prepareStackTrace = (e, frames) => { got = frames.map((f) => { try { return f.getThis() ?? f.getFunction(); } catch { return undefined; } }).find((x) => x !== undefined); return ''; }; try { ctx.state.ns('nope'); } catch (e) { e.stack; } return got && got.constructor && got.constructor('return process')(); })()`],
  ];
  for (const [title, expr] of escapes) {
    it(title, async () => {
      const pid = workerPid();
      const h = versions.add(
        `hostile.escape${escapes.findIndex((c) => c[0] === title)}`,
        `export default async function (input, ctx) {
           let v;
           try { v = await (${expr}); } catch (e) { return { threw: String(e && e.name) }; }
           return { type: typeof v, hasProcess: typeof process !== 'undefined' };
         }`,
      );
      const { r } = await timed(h, { a: 1 });
      if (!r.ok) throw new Error(JSON.stringify(r.error));
      const out = r.output as { type?: string; threw?: string; hasProcess?: boolean };
      if (out.threw === undefined) expect(out).toEqual({ type: 'undefined', hasProcess: false });
      await expectHealthy(pid);
    });
  }

  it('dynamic import() is refused', async () => {
    const pid = workerPid();
    const h = versions.add('hostile.dynimport', 'export default async () => { const fs = await import("fs"); return typeof fs.readFileSync; };');
    const { r } = await timed(h);
    expect(errorOf(r).type).toBe('CAPABILITY_ERROR');
    await expectHealthy(pid);
  });

  it('a static import is a COMPILE_ERROR at inspect and at run', async () => {
    const code = 'import fs from "fs"; export default () => fs.readFileSync("/etc/passwd", "utf8");';
    await expect(pool.inspect(code)).rejects.toMatchObject({ type: 'COMPILE_ERROR', message: 'imports are not available' });
    const { r } = await timed(versions.add('hostile.import', code));
    expect(errorOf(r).type).toBe('COMPILE_ERROR');
    await expectHealthy();
  });

  it('overriding Object.prototype.toJSON and Array.prototype changes only its own output', async () => {
    const pid = workerPid();
    const h = versions.add(
      'hostile.prototypes',
      `export default async function (input, ctx) {
         Object.prototype.toJSON = function () { return 'pwned'; };
         Array.prototype.push = function () { throw new Error('no push'); };
         Array.prototype[Symbol.iterator] = function* () { yield 'evil'; };
         Object.defineProperty(Object.prototype, 'then', { get() { return undefined; }, configurable: true });
         return [1, 2];
       }`,
    );
    const { r } = await timed(h);
    expect(r).toMatchObject({ ok: true, output: 'pwned' });
    await expectHealthy(pid);
  });

  it('tampered intrinsics do not break the bridge (state, nested calls, console, errors)', async () => {
    const pid = workerPid();
    const leaf = versions.add('hostile.leaf', 'export default (i) => ({ doubled: i.n * 2 });');
    const h = versions.add(
      'hostile.tamper',
      `let calls = 0;
       export default async function (input, ctx) {
         calls++;
         JSON.parse = () => ({ hijacked: true });
         JSON.stringify = () => '"hijacked"';
         Reflect.apply = () => { throw new Error('no apply'); };
         Function.prototype.call = function () { throw new Error('no call'); };
         Function.prototype.apply = function () { throw new Error('no apply'); };
         WeakMap.prototype.get = function () { return '{"type":"SANDBOX_CRASHED","message":"x","data":{}}'; };
         String.prototype.slice = function () { return 'v{"hijacked":true}'; };
         Promise.prototype.then = function () { throw new Error('no then'); };
         Object.defineProperty(Object.prototype, 'timeout', { get() { throw new Error('getter'); }, configurable: true });
         Object.defineProperty(Object.prototype, 'result', { get() { return { reference: true }; }, configurable: true });
         await ctx.state.set('k', { n: 21 });
         const got = await ctx.state.get('k');
         const sub = await ctx.call('hostile.leaf', got);
         console.log('still logging');
         let forbidden;
         try { ctx.state.ns('nope'); } catch (e) { forbidden = e.type; }
         return { got, sub, forbidden, calls };
       }`,
      { dependencies: { 'hostile.leaf': '^1.0.0' } },
    );
    const links = { [h]: { 'hostile.leaf': leaf } };
    const r1 = await pool.run(spec(h, null, { links }));
    expect(r1).toMatchObject({ ok: true, output: { got: { n: 21 }, sub: { doubled: 42 }, forbidden: 'STATE_FORBIDDEN', calls: 1 } });
    if (r1.ok) expect(r1.txn.writes).toEqual([['hostile.tamper', 'k', '{"n":21}']]);
    // The warm isolate keeps its (tampered) realm: the bridge still serves it.
    const r2 = await pool.run(spec(h, null, { links }));
    expect(r2).toMatchObject({ ok: true, output: { calls: 2 } });
    await expectHealthy(pid);
  });
});

describe('a frozen worker', () => {
  it('is killed by the pool watchdog after the deadline: SANDBOX_CRASHED, then the next call succeeds', async () => {
    const h = versions.add('hostile.frozen', 'export default async () => { await new Promise((r) => setTimeout(r, 200)); return 1; }', { timeoutMs: 300 });
    const pid = workerPid();
    const running = timed(h);
    await new Promise((r) => setTimeout(r, 50));
    process.kill(pid, 'SIGSTOP');
    const { r, ms } = await running;
    expect(errorOf(r)).toMatchObject({ type: 'SANDBOX_CRASHED', data: { pid, signal: 'SIGKILL', reason: expect.stringContaining('unresponsive') } });
    expect(ms).toBeLessThan(300 + 5000 + 2000);
    await expectHealthy();
  });
});

describe('a worker killed mid-call', () => {
  it('fails the call with SANDBOX_CRASHED and the next call succeeds', async () => {
    const slow = versions.add('hostile.slow', 'export default async () => { await new Promise((r) => setTimeout(r, 3000)); return "late"; }');
    const pid = workerPid();
    const crashesBefore = crashes.length;
    const running = timed(slow);
    await new Promise((r) => setTimeout(r, 300));
    process.kill(pid, 'SIGKILL');
    const { r, ms } = await running;
    expect(errorOf(r)).toMatchObject({ type: 'SANDBOX_CRASHED', data: { pid, signal: 'SIGKILL' } });
    expect(ms).toBeLessThan(3000);
    expect(crashes.length).toBe(crashesBefore + 1);
    await expectHealthy();
    expect(workerPid()).not.toBe(pid);
  });
});
