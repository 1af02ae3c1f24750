// Issue 10 item 2: memory a capability cannot escape, and crash reports that show a caller nothing
// of anyone else. A real kernel in its own process with one sandbox worker (every capability shares
// it); each attack is a registered capability invoked over WebSocket. During each attack the test
// samples the RSS of the kernel and of its worker processes from /proc, and afterwards the kernel
// must answer kernel/info and another capability must still compute correctly.
//
// Bounds asserted (docs/security.md, "Memory and time inside the sandbox"): a worker stays within
// its RSS before the attack + 3 x memoryMb + 128 MiB (the memory watchdog itself allows 256 MiB
// over the worker's start, sandbox/memory-watchdog.ts); the kernel within its RSS before + 64 MiB.
// Before these defences the same attacks reached 2.8 GB (resizable ArrayBuffer), 5.3 GB (growable
// SharedArrayBuffer), 1.1 GB (Intl objects), 760 MB (timer churn) and killed the worker outright
// (Atomics.waitAsync).

import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubstrateClient } from '../kernel/client.ts';
import { cap, tmpDir } from './helpers.ts';
import { spawnKernel, type KernelProcess } from './kernel-process.ts';

const MEMORY_MB = 64;
const MB = 1024 * 1024;
const WORKER_BOUND_BYTES = 3 * MEMORY_MB * MB + 128 * MB;
const KERNEL_BOUND_BYTES = 64 * MB;

let dir: string;
let kp: KernelProcess;
let op: SubstrateClient;

function statusField(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // gone
  }
}
const rssOf = (pid: number) => statusField(pid, 'VmRSS');

/** The kernel's sandbox worker processes, from /proc (its other children, esbuild's service, are not). */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, the last ')' ends it.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid && readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('sandbox/worker.ts')) out.push(Number(name));
    } catch {
      // raced with an exit
    }
  }
  return out;
}

/** Samples kernel and worker RSS every 20 ms until stopped; returns the peaks. */
function sampler(kernelPid: number) {
  let kernelPeak = rssOf(kernelPid);
  let workerPeak = 0;
  const workersSeen = new Set<number>();
  const sample = () => {
    kernelPeak = Math.max(kernelPeak, rssOf(kernelPid));
    for (const pid of childrenOf(kernelPid)) {
      workersSeen.add(pid);
      workerPeak = Math.max(workerPeak, rssOf(pid));
    }
  };
  sample();
  const timer = setInterval(sample, 20);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { kernelPeak, workerPeak, workersSeen };
    },
  };
}

interface Outcome {
  error?: { type?: string; message: string; data?: Record<string, unknown> };
  output?: unknown;
  workerBefore: number;
  kernelBefore: number;
  workerPeak: number;
  kernelPeak: number;
  workersBefore: number[];
}

async function attack(name: string, body: string, opts: { timeoutMs?: number; deps?: Record<string, string> } = {}): Promise<Outcome> {
  await op.call('capabilities/register', {
    source: cap({ name, body, deps: opts.deps, limits: { timeoutMs: opts.timeoutMs ?? 3000, memoryMb: MEMORY_MB } }),
  });
  const workersBefore = childrenOf(kp.pid);
  const workerBefore = Math.max(0, ...workersBefore.map(rssOf));
  const kernelBefore = rssOf(kp.pid);
  const s = sampler(kp.pid);
  let error: Outcome['error'];
  let output: unknown;
  try {
    output = (await op.call('capabilities/invoke', { name, input: {} })).output;
  } catch (e) {
    error = e as Outcome['error'];
  }
  const peaks = s.stop();
  console.log(`${name}: worker RSS +${((peaks.workerPeak - workerBefore) / MB).toFixed(0)} MB, kernel RSS +${((peaks.kernelPeak - kernelBefore) / MB).toFixed(0)} MB, ${error ? error.type : 'ok'}`);
  // The kernel survives, answers, and another capability still computes correctly.
  const info = await op.call('kernel/info');
  expect(info.capabilities).toBeGreaterThan(0);
  const good = await op.call('capabilities/invoke', { name: 'good.double', input: { x: 21 } });
  expect(good.output).toEqual({ y: 42 });
  return { error, output, workerBefore, kernelBefore, workerPeak: peaks.workerPeak, kernelPeak: peaks.kernelPeak, workersBefore };
}

function expectBounded(o: Outcome): void {
  expect(o.workerPeak - o.workerBefore, `worker RSS grew ${((o.workerPeak - o.workerBefore) / MB).toFixed(0)} MB`).toBeLessThan(WORKER_BOUND_BYTES);
  expect(o.kernelPeak - o.kernelBefore, `kernel RSS grew ${((o.kernelPeak - o.kernelBefore) / MB).toFixed(0)} MB`).toBeLessThan(KERNEL_BOUND_BYTES);
}

beforeAll(async () => {
  dir = tmpDir();
  kp = await spawnKernel(dir, 1);
  op = await SubstrateClient.connect(kp.url, { token: kp.token });
  await op.call('capabilities/register', { source: cap({ name: 'good.double', body: 'return { y: input.x * 2 };' }) });
}, 90_000);

afterAll(async () => {
  op?.close();
  await kp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('buffers V8 allocates outside the counted heap', () => {
  it('resizable ArrayBuffers resized to their maximum end with MEMORY_LIMIT', async () => {
    const o = await attack('mem.resizable', 'const keep = []; for (;;) { const b = new ArrayBuffer(1, { maxByteLength: 2 ** 26 }); b.resize(2 ** 26); new Uint8Array(b).fill(1); keep.push(b); }');
    expect(o.error).toMatchObject({ type: 'MEMORY_LIMIT', data: { memoryMb: MEMORY_MB } });
    expectBounded(o);
  });

  it('a resizable ArrayBuffer with a 4 GiB maximum is refused with MEMORY_LIMIT', async () => {
    const o = await attack('mem.resizable-huge', 'const b = new ArrayBuffer(1, { maxByteLength: 2 ** 32 }); b.resize(2 ** 31); return b.byteLength;');
    expect(o.error).toMatchObject({ type: 'MEMORY_LIMIT' });
    expectBounded(o);
  });

  it('growable SharedArrayBuffers grown in a loop end with MEMORY_LIMIT', async () => {
    const o = await attack('mem.growable', 'const keep = []; for (;;) { const b = new SharedArrayBuffer(1, { maxByteLength: 2 ** 26 }); b.grow(2 ** 26); new Uint8Array(b).fill(1); keep.push(b); }');
    expect(o.error).toMatchObject({ type: 'MEMORY_LIMIT' });
    expectBounded(o);
  });

  it('a maxByteLength getter cannot show the guard one value and the constructor another', async () => {
    const o = await attack(
      'mem.resizable-toctou',
      'let n = 0; const opts = { get maxByteLength() { return n++ === 0 ? 1024 : 2 ** 32; } }; const b = new ArrayBuffer(1, opts); try { b.resize(2 ** 31); } catch (e) { return { max: b.maxByteLength, resized: false }; } return { max: b.maxByteLength, resized: true };',
    );
    expect(o.output).toEqual({ max: 1024, resized: false });
  });

  it('plain ArrayBuffers and typed arrays in a loop end with MEMORY_LIMIT', async () => {
    const a = await attack('mem.plain-buffers', 'const keep = []; for (;;) { const b = new ArrayBuffer(2 ** 24); new Uint8Array(b).fill(1); keep.push(b); }');
    expect(a.error).toMatchObject({ type: 'MEMORY_LIMIT' });
    expectBounded(a);
    const t = await attack('mem.typed-arrays', 'const keep = []; for (;;) { keep.push(new Float64Array(2 ** 21).fill(1.5)); }');
    expect(t.error).toMatchObject({ type: 'MEMORY_LIMIT' });
    expectBounded(t);
  });

  it('resizable buffers within the limit still work, subclasses included', async () => {
    const o = await attack(
      'mem.resizable-ok',
      'const b = new ArrayBuffer(8, { maxByteLength: 1 << 20 }); b.resize(1 << 19); class X extends ArrayBuffer {} const x = new X(4, { maxByteLength: 64 }); x.resize(64); return [b.byteLength, b.resizable, x instanceof X, x.byteLength, new ArrayBuffer(1).constructor === ArrayBuffer, new SharedArrayBuffer(1, { maxByteLength: 8 }).growable];',
    );
    expect(o.output).toEqual([1 << 19, true, true, 64, true, true]);
  });

  it('WebAssembly is not there to grow a Memory', async () => {
    const o = await attack('mem.wasm', 'const m = new WebAssembly.Memory({ initial: 1, maximum: 65536 }); for (;;) m.grow(1);');
    expect(o.error).toMatchObject({ type: 'CAPABILITY_ERROR', message: expect.stringContaining('WebAssembly is not defined') });
    expectBounded(o);
  });

  it('Atomics.waitAsync, which aborts the worker, is not there', async () => {
    const o = await attack('mem.wait-async', 'return Atomics.waitAsync(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1e9);');
    expect(o.error).toMatchObject({ type: 'CAPABILITY_ERROR', message: expect.stringContaining('not a function') });
    // The worker did not die: the same process serves on.
    expect(childrenOf(kp.pid)).toEqual(o.workersBefore);
  });

  it('retained Intl objects (native ICU memory) end with MEMORY_LIMIT', async () => {
    const o = await attack('mem.intl', "const keep = []; for (;;) keep.push(new Intl.DateTimeFormat('en', { timeZone: 'UTC', hour: 'numeric' }), new Intl.Segmenter('en').segment('a b'));");
    expect(o.error).toMatchObject({ type: 'MEMORY_LIMIT' });
    expectBounded(o);
  });

  it('one heap allocation past the limit in one step fails its own call with MEMORY_LIMIT', async () => {
    // V8 cannot recover from this one; the worker dies and is replaced, and the call that did it is
    // told so as MEMORY_LIMIT (not SANDBOX_CRASHED).
    // V8 collects for seconds before it gives up: the deadline is far enough not to come first.
    const o = await attack('mem.one-step', 'return new Array(1024 * 1024 * 60).fill().length;', { timeoutMs: 20_000 });
    expect(o.error?.type).toBe('MEMORY_LIMIT');
    expect(childrenOf(kp.pid)).not.toEqual(o.workersBefore);
    expect(o.error?.data).toMatchObject({ memoryMb: MEMORY_MB, name: 'mem.one-step' });
    expectBounded(o);
  });
});

describe('host-side queues', () => {
  it('setTimeout/clearTimeout in a tight loop ends with TIMEOUT and queues nothing', async () => {
    const o = await attack('mem.timer-churn', 'for (;;) clearTimeout(setTimeout(() => {}, 1000));');
    expect(o.error).toMatchObject({ type: 'TIMEOUT' });
    expectBounded(o);
  });

  it('setTimeout/clearTimeout across awaits ends with TIMEOUT', async () => {
    const o = await attack('mem.timer-churn-await', 'for (;;) { const t = setTimeout(() => {}, 1e6); await null; clearTimeout(t); }');
    expect(o.error).toMatchObject({ type: 'TIMEOUT' });
    expectBounded(o);
  });

  it('more than 10,000 pending timers fail with MEMORY_LIMIT', async () => {
    const o = await attack('mem.timers-pending', 'for (;;) setTimeout(() => {}, 1e6);');
    expect(o.error).toMatchObject({ type: 'MEMORY_LIMIT', data: { what: 'pending timers', limit: 10_000 } });
    expectBounded(o);
  });

  it('console.log and ctx.log floods are cut to a budget; the call itself succeeds', async () => {
    const o = await attack('mem.log-flood', "const s = 'x'.repeat(16000); for (let i = 0; i < 1e6; i++) { console.log(s, i); ctx.log(s, i); } return 'done';");
    expect(o.output).toBe('done');
    expectBounded(o);
    const logs = (await op.call('logs/recent', { name: 'mem.log-flood', limit: 10_000 })) as { items: Array<{ message: string }> };
    const chars = logs.items.reduce((n, l) => n + l.message.length, 0);
    // LOG_CHARS_PER_RUN (256 Ki) plus the carried-over budget of earlier runs (at most 4 runs' worth).
    expect(chars).toBeLessThanOrEqual(4 * 256 * 1024 + 64 * 1024);
    expect(logs.items.length).toBeGreaterThan(0);
  });

  it('ctx.state.set in an awaited loop stops at the transaction cap with PAYLOAD_TOO_LARGE', async () => {
    const o = await attack('mem.state-set', "const v = 'y'.repeat(100000); for (let i = 0; ; i++) await ctx.state.set('k' + i, v);", { timeoutMs: 10_000 });
    expect(o.error).toMatchObject({ type: 'PAYLOAD_TOO_LARGE', data: { what: 'transaction' } });
    expectBounded(o);
  });

  it('un-awaited ctx.state.get in a loop ends typed (MEMORY_LIMIT or TIMEOUT)', async () => {
    const o = await attack('mem.state-get', "for (;;) ctx.state.get('k');");
    expect(['MEMORY_LIMIT', 'TIMEOUT']).toContain(o.error?.type);
    expectBounded(o);
  });

  it('un-awaited ctx.call in a loop ends typed', async () => {
    const o = await attack('mem.call-flood', "for (;;) ctx.call('good.double', { x: 1 }).catch(() => {});", { deps: { 'good.double': '^1.0.0' } });
    expect(['MEMORY_LIMIT', 'TIMEOUT', 'OVERLOADED']).toContain(o.error?.type);
    expectBounded(o);
  });
});

describe('crash reports', () => {
  async function agent(name: string): Promise<SubstrateClient> {
    const t = (await op.call('tokens/create', { role: 'agent', name })) as { token: string };
    return SubstrateClient.connect(kp.url, { token: t.token });
  }

  function expectClean(error: unknown, foreign: string[]): void {
    const text = JSON.stringify(error);
    for (const f of foreign) expect(text).not.toContain(f);
    expect(text).not.toContain('/work/');
    expect(text).not.toContain('node_modules');
    expect(text).not.toContain('stderr');
    expect(text).not.toContain('Heap');
  }

  it('a worker taken down by one tenant shows the other tenant nothing of it', async () => {
    const alice = await agent('alice');
    const mallory = await agent('mallory');
    try {
      await alice.call('capabilities/register', {
        source: cap({ name: 'alice.ledger', body: 'await new Promise((r) => setTimeout(r, 8000)); return input;', limits: { timeoutMs: 15_000 } }),
      });
      await mallory.call('capabilities/register', {
        source: cap({ name: 'mallory.bomb-xq', body: 'if (input.secret) return new Array(1024 * 1024 * 60).fill().length; return 0;', limits: { timeoutMs: 8000, memoryMb: MEMORY_MB } }),
      });
      // Alice's call is in flight on the only worker when Mallory's takes it down (V8 collects for
      // seconds before it gives up on Mallory's isolate: Alice's call outlasts that).
      const aliceCall = alice.call('capabilities/invoke', { name: 'alice.ledger', input: { account: 'ALICE-ACCOUNT-4711' } }).then(
        () => null,
        (e: unknown) => e,
      );
      await new Promise((r) => setTimeout(r, 500));
      const malloryError = await mallory.call('capabilities/invoke', { name: 'mallory.bomb-xq', input: { secret: 'MALLORY-INPUT-0815' } }).then(
        () => null,
        (e: unknown) => e as { type: string; data: Record<string, unknown> },
      );
      const aliceError = (await aliceCall) as { type: string; message: string; data: Record<string, unknown> } | null;

      expect(malloryError).toMatchObject({ type: 'MEMORY_LIMIT', data: { name: 'mallory.bomb-xq' } });
      expect(aliceError).toMatchObject({ type: 'SANDBOX_CRASHED', data: { reason: expect.any(String), invocationId: expect.any(String) } });
      expectClean(aliceError, ['mallory', 'MALLORY-INPUT-0815', 'bomb-xq']);
      expectClean(malloryError, ['alice', 'ALICE-ACCOUNT-4711', 'ledger']);
      expect(aliceError!.data.invocationId).not.toBe(malloryError!.data.invocationId);
      // Nothing beyond these: no stderr tail, no list of the worker's other calls.
      for (const k of Object.keys(aliceError!.data)) expect(['type', 'pid', 'signal', 'exitCode', 'reason', 'invocationId']).toContain(k);

      // The replacement worker serves both tenants.
      const again = await alice.call('capabilities/invoke', { name: 'alice.ledger', input: { account: 'again' } });
      expect(again.output).toEqual({ account: 'again' });
    } finally {
      alice.close();
      mallory.close();
    }
  }, 60_000);

  it('a worker killed from outside fails each held call with only its own invocation id', async () => {
    await op.call('capabilities/register', {
      source: cap({ name: 'crash.slow-one', body: 'await new Promise((r) => setTimeout(r, 3000)); return 1;', limits: { timeoutMs: 8000 } }),
    });
    await op.call('capabilities/register', {
      source: cap({ name: 'crash.slow-two', body: 'await new Promise((r) => setTimeout(r, 3000)); return 2;', limits: { timeoutMs: 8000 } }),
    });
    const settle = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as { type: string; message: string; data: Record<string, unknown> });
    const one = settle(op.call('capabilities/invoke', { name: 'crash.slow-one', input: { who: 'FIRST-CALLER-SECRET' } }));
    const two = settle(op.call('capabilities/invoke', { name: 'crash.slow-two', input: { who: 'SECOND-CALLER-SECRET' } }));
    await new Promise((r) => setTimeout(r, 700));
    const [worker] = childrenOf(kp.pid);
    process.kill(worker, 'SIGKILL');
    const [e1, e2] = await Promise.all([one, two]);
    for (const [e, foreign] of [
      [e1, ['slow-two', 'SECOND-CALLER-SECRET']],
      [e2, ['slow-one', 'FIRST-CALLER-SECRET']],
    ] as const) {
      expect(e).toMatchObject({ type: 'SANDBOX_CRASHED', data: { pid: worker, signal: 'SIGKILL', reason: 'killed by a signal', invocationId: expect.any(String) } });
      expectClean(e, [...foreign]);
    }
    expect(e1!.data.invocationId).not.toBe(e2!.data.invocationId);
    const info = await op.call('kernel/info');
    expect(info.capabilities).toBeGreaterThan(0);
    const good = await op.call('capabilities/invoke', { name: 'good.double', input: { x: 4 } });
    expect(good.output).toEqual({ y: 8 });
  }, 60_000);
});
