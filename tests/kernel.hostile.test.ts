// Issue 2: hostile capability code, each case through the whole kernel over WebSocket. Each ends
// with its typed error within its deadline plus one second, and afterwards kernel/info answers and
// another capability still returns correct results.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cap, startTestKernel, type TestKernel } from './helpers.ts';
import type { SubstrateClient } from '../kernel/client.ts';

let k: TestKernel;
let c: SubstrateClient;

beforeAll(async () => {
  k = await startTestKernel({ workers: 2 });
  c = await k.client();
  await c.call('capabilities/register', { source: cap({ name: 'good.double', body: 'return { y: input.x * 2 };' }) });
});
afterAll(async () => {
  await k?.stop();
});

async function hostile(name: string, body: string, opts: { timeoutMs?: number; memoryMb?: number; extra?: string } = {}) {
  const timeoutMs = opts.timeoutMs ?? 1000;
  await c.call('capabilities/register', {
    source: cap({ name, body, limits: { timeoutMs, ...(opts.memoryMb ? { memoryMb: opts.memoryMb } : {}) }, extra: opts.extra }),
  });
  const started = Date.now();
  let error: { type?: string; message: string; data?: unknown } | undefined;
  let output: unknown;
  try {
    output = (await c.call('capabilities/invoke', { name, input: { x: 1 } })).output;
  } catch (e) {
    error = e as typeof error;
  }
  const elapsed = Date.now() - started;
  // Afterwards the kernel answers and another capability is unaffected.
  const info = await c.call('kernel/info');
  expect(info.capabilities).toBeGreaterThan(0);
  const good = await c.call('capabilities/invoke', { name: 'good.double', input: { x: 21 } });
  expect(good.output).toEqual({ y: 42 });
  return { error, output, elapsed, timeoutMs };
}

describe('hostile code', () => {
  it('while(true){} ends with TIMEOUT', async () => {
    const r = await hostile('evil.spin', 'while (true) {}');
    expect(r.error?.type).toBe('TIMEOUT');
    expect(r.elapsed).toBeLessThan(r.timeoutMs + 1000 + 2000); // deadline + 1 s, plus slack for a loaded CI box
  });

  it('while(true){} after an await ends with TIMEOUT', async () => {
    const r = await hostile('evil.spin.async', 'await null; await new Promise(r => setTimeout(r, 1)); while (true) {}');
    expect(r.error?.type).toBe('TIMEOUT');
    expect(r.elapsed).toBeLessThan(r.timeoutMs + 3000);
  });

  it('a promise that never resolves ends with TIMEOUT', async () => {
    const r = await hostile('evil.never', 'return new Promise(() => {});');
    expect(r.error?.type).toBe('TIMEOUT');
    expect(r.elapsed).toBeLessThan(r.timeoutMs + 3000);
  });

  it('a 10^9 ms setTimeout ends with TIMEOUT', async () => {
    const r = await hostile('evil.sleep', 'await new Promise(r => setTimeout(r, 1e9)); return 1;');
    expect(r.error?.type).toBe('TIMEOUT');
    expect(r.elapsed).toBeLessThan(r.timeoutMs + 3000);
  });

  it('a memory bomb ends with MEMORY_LIMIT', async () => {
    const r = await hostile('evil.bomb', 'const a = []; for (;;) a.push(new Array(1e5).fill(Math.random()));', { timeoutMs: 10_000, memoryMb: 32 });
    expect(['MEMORY_LIMIT', 'SANDBOX_CRASHED']).toContain(r.error?.type);
    expect(r.elapsed).toBeLessThan(r.timeoutMs + 3000);
  });

  it('JSON.stringify of a ten-million-key object is contained', async () => {
    const r = await hostile('evil.stringify', 'const o = {}; for (let i = 0; i < 1e7; i++) o["k" + i] = i; return { s: JSON.stringify(o).length };', {
      timeoutMs: 30_000,
    });
    expect(['MEMORY_LIMIT', 'SANDBOX_CRASHED']).toContain(r.error?.type);
    expect(r.elapsed).toBeLessThan(r.timeoutMs + 3000);
  });

  it('unbounded recursion ends with a typed error', async () => {
    const r = await hostile('evil.recurse', 'const f = (n) => f(n + 1) + 1; return f(0);');
    expect(r.error?.type).toBe('CAPABILITY_ERROR');
    expect(r.error?.message).toMatch(/call stack/i);
  });

  it('cannot reach process, require or the host through constructors and prototypes', async () => {
    const probes = [
      `(() => { try { return typeof this.constructor.constructor('return process')(); } catch (e) { return 'threw'; } })()`,
      `(() => { try { return typeof input.constructor.constructor('return process')(); } catch (e) { return 'threw'; } })()`,
      `(() => { try { return typeof ({}).constructor.constructor('return this')().process; } catch (e) { return 'threw'; } })()`,
      `typeof require`,
      `typeof process`,
      `typeof globalThis.__sb_hooks`,
      `(() => { try { return typeof ctx.call.constructor.constructor('return process')(); } catch (e) { return 'threw'; } })()`,
      `Object.getOwnPropertyNames(globalThis).filter(n => /^(require|process|module|Buffer|global|ivm|_ivm)$/.test(n)).join(',') || 'undefined'`,
    ];
    const body = `const out = []; ${probes.map((p) => `out.push(${p});`).join(' ')} return out;`;
    const r = await hostile('evil.escape', body);
    expect(r.error).toBeUndefined();
    for (const v of r.output as string[]) expect(['undefined', 'threw']).toContain(v);
  });

  it('a dynamic import fails and a static import does not compile', async () => {
    const r = await hostile('evil.import', `try { await import('fs'); return 'imported'; } catch (e) { return 'refused'; }`);
    expect(r.output === 'refused' || r.error !== undefined).toBe(true);
    await expect(
      c.call('capabilities/register', { source: `import fs from 'fs';\nexport const manifest = { name: 'evil.static', version: '1.0.0' };\nexport default async () => fs.readFileSync('/etc/passwd', 'utf8');` }),
    ).rejects.toMatchObject({ type: 'COMPILE_ERROR' });
  });

  it('prototype tricks on outputs do not reach the host', async () => {
    const r = await hostile(
      'evil.tojson',
      `Object.prototype.toJSON = function () { return 'hijacked'; }; Array.prototype.map = null; return { a: 1 };`,
    );
    // Whatever the isolate's JSON says, the kernel receives plain data and stays healthy.
    expect(r.error === undefined || r.error.type === 'CAPABILITY_ERROR' || r.error.type === 'INVALID_OUTPUT').toBe(true);
  });
});
