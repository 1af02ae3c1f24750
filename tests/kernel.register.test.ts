// Issue 2: registering and invoking capabilities through a real kernel (real workers, real SQLite).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import { cap, expectType, startTestKernel, tmpDir, type TestKernel } from './helpers.ts';
import { startKernel } from '../kernel/index.ts';
import { rmSync } from 'node:fs';

let k: TestKernel;
const op = LOCAL_OPERATOR;

beforeAll(async () => {
  k = await startTestKernel();
});
afterAll(async () => {
  await k?.stop();
});

describe('register and invoke', () => {
  it('registers and invokes a JavaScript capability', async () => {
    const r = await k.kernel.register(op, { source: cap({ name: 'js.echo', body: 'return { got: input.x * 2 };' }) });
    expect(r).toMatchObject({ name: 'js.echo', version: '1.0.0', activated: true });
    expect(r.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    const out = await k.kernel.invoke({ name: 'js.echo', input: { x: 21 } });
    expect(out).toMatchObject({ output: { got: 42 }, name: 'js.echo', version: '1.0.0', generation: r.generation });
    expect(typeof out.invocationId).toBe('string');
  });

  it('registers and invokes a TypeScript capability', async () => {
    const source = `
      interface In { a: number; b: number }
      export const manifest = { name: 'ts.add', version: '1.0.0', description: 'adds' };
      export default async function (input: In): Promise<{ sum: number }> {
        const sum: number = input.a + input.b;
        return { sum };
      }`;
    await k.kernel.register(op, { source, language: 'ts' });
    expect((await k.kernel.invoke({ name: 'ts.add', input: { a: 2, b: 3 } })).output).toEqual({ sum: 5 });
  });

  it('takes the manifest beside the source', async () => {
    await k.kernel.register(op, {
      source: 'export default async (input) => ({ len: input.s.length })',
      manifest: { name: 'side.len', version: '0.1.0' },
    });
    expect((await k.kernel.invoke({ name: 'side.len', input: { s: 'abc' } })).output).toEqual({ len: 3 });
  });

  it('refuses a bad name', async () => {
    const e = await expectType(k.kernel.register(op, { source: cap({ name: 'Bad Name' }) }), 'INVALID_MANIFEST');
    expect(e.message).toMatch(/name/);
  });

  it('refuses a bad semver', async () => {
    await expectType(k.kernel.register(op, { source: cap({ name: 'semver.bad', version: '1.0' }) }), 'INVALID_MANIFEST');
  });

  it('refuses an invalid manifest', async () => {
    await expectType(k.kernel.register(op, { source: cap({ name: 'lim.bad', limits: { timeoutMs: 999_999 } }) }), 'INVALID_MANIFEST');
    await expectType(k.kernel.register(op, { source: 'export default async () => 1' }), 'INVALID_MANIFEST');
  });

  it('reports a compile error with line and column', async () => {
    const source = `export const manifest = { name: 'broken', version: '1.0.0' };\nexport default async function (input) {\n  return { x: ;\n}`;
    const e = await expectType<{ data: { line: number; column: number } }>(k.kernel.register(op, { source }), 'COMPILE_ERROR');
    expect(e.data.line).toBe(3);
    expect(e.data.column).toBeGreaterThan(0);
    const ts = `export const manifest = { name: 'broken.ts', version: '1.0.0' };\nexport default async function (input: number) {\n  let x: = 3;\n}`;
    const e2 = await expectType<{ data: { line: number } }>(k.kernel.register(op, { source: ts, language: 'ts' }), 'COMPILE_ERROR');
    expect(e2.data.line).toBe(3);
  });

  it('refuses the same version with different content, and is idempotent for the same content', async () => {
    const a = cap({ name: 'idem', body: 'return 1;' });
    const r1 = await k.kernel.register(op, { source: a });
    const r2 = await k.kernel.register(op, { source: a });
    expect(r2.hash).toBe(r1.hash);
    expect(r2.generation).toBe(r1.generation);
    await expectType(k.kernel.register(op, { source: cap({ name: 'idem', body: 'return 2;' }) }), 'VERSION_EXISTS');
    expect((await k.kernel.invoke({ name: 'idem', input: null })).output).toBe(1);
  });

  it('calls three levels deep through ctx.call', async () => {
    await k.kernel.apply(op, {
      changes: [
        { op: 'register', source: cap({ name: 'deep.c', body: 'return { v: input.v + "c" };' }) },
        { op: 'register', source: cap({ name: 'deep.b', deps: { 'deep.c': '^1' }, body: 'return ctx.call("deep.c", { v: input.v + "b" });' }) },
        { op: 'register', source: cap({ name: 'deep.a', deps: { 'deep.b': '^1' }, body: 'return ctx.call("deep.b", { v: input.v + "a" });' }) },
      ],
    });
    expect((await k.kernel.invoke({ name: 'deep.a', input: { v: '' } })).output).toEqual({ v: 'abc' });
  });

  it('refuses an undeclared dependency at run time', async () => {
    await k.kernel.register(op, { source: cap({ name: 'undeclared', body: 'return ctx.call("js.echo", { x: 1 });' }) });
    await expectType(k.kernel.invoke({ name: 'undeclared', input: null }), 'UNDECLARED_DEPENDENCY');
  });

  it('stops a dependency loop at run time with CALL_DEPTH_EXCEEDED', async () => {
    await k.kernel.register(op, { source: cap({ name: 'loop.self', deps: { 'loop.self': '^1' }, body: 'return ctx.call("loop.self", input);' }) });
    const e = await expectType<{ data: { limit: number } }>(k.kernel.invoke({ name: 'loop.self', input: {} }), 'CALL_DEPTH_EXCEEDED');
    expect(e.data.limit).toBe(16);
  });

  it('validates input and output against the schemas, with the path of the bad field', async () => {
    await k.kernel.register(op, {
      source: cap({
        name: 'schema.check',
        inputSchema: { type: 'object', properties: { user: { type: 'object', properties: { age: { type: 'integer' } }, required: ['age'] } }, required: ['user'] },
        outputSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
        body: 'return input.user.age > 200 ? { ok: "yes" } : { ok: true };',
      }),
    });
    const bad = await expectType<{ data: { path: string } }>(k.kernel.invoke({ name: 'schema.check', input: { user: { age: 'old' } } }), 'INVALID_INPUT');
    expect(bad.data.path).toBe('/user/age');
    const out = await expectType<{ data: { path: string } }>(k.kernel.invoke({ name: 'schema.check', input: { user: { age: 300 } } }), 'INVALID_OUTPUT');
    expect(out.data.path).toBe('/ok');
    expect((await k.kernel.invoke({ name: 'schema.check', input: { user: { age: 3 } } })).output).toEqual({ ok: true });
  });

  it('lists and describes', async () => {
    const list = k.kernel.list({ prefix: 'deep.' });
    expect(list.items.map((i) => i.name)).toEqual(['deep.a', 'deep.b', 'deep.c']);
    const d = k.kernel.describe({ name: 'deep.a' });
    expect(d).toMatchObject({ name: 'deep.a', version: '1.0.0', current: true, owner: 'local' });
    expect(d.dependencies).toEqual([{ name: 'deep.b', range: '^1', resolved: '1.0.0' }]);
    expect(k.kernel.describe({ name: 'deep.c' }).dependents).toEqual(['deep.a', 'deep.b']);
    await expectType(Promise.resolve().then(() => k.kernel.describe({ name: 'nope' })), 'NOT_FOUND');
  });
});

describe('restart', () => {
  it('keeps everything registered across a stop and a start on the same data directory', async () => {
    const dataDir = tmpDir();
    try {
      const first = await startKernel({ dataDir, port: 0, workers: 1 });
      await first.kernel.register(op, { source: cap({ name: 'persist.me', version: '1.2.3', body: 'return "still here";' }) });
      const gen = first.kernel.info().generation;
      await first.close();
      const second = await startKernel({ dataDir, port: 0, workers: 1 });
      try {
        expect(second.kernel.info().generation).toBe(gen);
        expect((await second.kernel.invoke({ name: 'persist.me', input: null })).output).toBe('still here');
        expect(second.kernel.describe({ name: 'persist.me' }).version).toBe('1.2.3');
        expect(second.operatorToken).toBe(first.operatorToken);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
