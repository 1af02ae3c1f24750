// Issue 10 (item 8): errors of a TypeScript capability name the lines and columns of the source the
// agent wrote, not of the JavaScript transpiling made of it; JavaScript capabilities are untouched.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import { compileSource } from '../capabilities/compile.ts';
import { mapPositions, sourceMapOf } from '../capabilities/source-map.ts';
import { expectType, startTestKernel, type TestKernel } from './helpers.ts';

let k: TestKernel;
const op = LOCAL_OPERATOR;

beforeAll(async () => {
  k = await startTestKernel();
});
afterAll(async () => {
  await k?.stop();
});

type CapError = { type: string; message: string; data: { stack?: string; message?: string; line?: number; column?: number } };

/** 1-based line and column of the first occurrence of `needle` in `source`. */
function positionOf(source: string, needle: string): { line: number; column: number } {
  const at = source.indexOf(needle);
  if (at === -1) throw new Error(`${needle} not in source`);
  const before = source.slice(0, at).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

// Types and interfaces spanning lines before the throw, so transpiled lines differ from these.
const TS_SOURCE = [
  'interface Input {',
  '  text: string;',
  '  /** how many times */',
  '  times?: number;',
  '}',
  '',
  'type Output = {',
  '  words: number;',
  '};',
  '',
  'export const manifest = { name: "sm.thrower", version: "1.0.0", description: "throws on a known line" };',
  '',
  'function check(input: Input): void {',
  '  if (input.text === "boom") {',
  '    throw new Error("boom at a known place");',
  '  }',
  '}',
  '',
  'export default async function (input: Input): Promise<Output> {',
  '  const parts: Array<string> = input.text.split(" ");',
  '  check(input);',
  '  return { words: parts.length };',
  '}',
  '',
].join('\n');

describe('TypeScript positions', () => {
  it('a compiled TypeScript module carries its map; JavaScript is returned as written', () => {
    const js = 'export default () => 1;\n';
    expect(compileSource(js, 'js')).toBe(js);
    expect(sourceMapOf(compileSource(TS_SOURCE, 'ts'))).not.toBeNull();
    expect(sourceMapOf(js)).toBeNull();
    // A stack of a JavaScript capability is never rewritten.
    expect(mapPositions('at x (capability:a.b@1.0.0:3:7)', sourceMapOf(js))).toBe('at x (capability:a.b@1.0.0:3:7)');
  });

  it('a run-time error stack names the line and column of the TypeScript source', async () => {
    await k.kernel.register(op, { source: TS_SOURCE, language: 'ts' });
    expect((await k.kernel.invoke({ name: 'sm.thrower', input: { text: 'a b' } })).output).toEqual({ words: 2 });
    const e = await expectType<CapError>(k.kernel.invoke({ name: 'sm.thrower', input: { text: 'boom' } }), 'CAPABILITY_ERROR');
    const thrown = positionOf(TS_SOURCE, 'new Error("boom');
    const caller = positionOf(TS_SOURCE, 'check(input);');
    const stack = String(e.data.stack);
    expect(stack).toContain(`capability:sm.thrower@1.0.0:${thrown.line}:${thrown.column}`);
    expect(stack).toContain(`capability:sm.thrower@1.0.0:${caller.line}:${caller.column}`);
    // And not the transpiled positions (the interface and types are gone from the compiled code).
    const compiled = compileSource(TS_SOURCE, 'ts');
    const generated = positionOf(compiled, 'new Error("boom');
    expect(generated.line).not.toBe(thrown.line);
    expect(stack).not.toContain(`capability:sm.thrower@1.0.0:${generated.line}:${generated.column}`);
  });

  it('an error thrown while the module loads names its source line', async () => {
    const source = [
      'interface Config {',
      '  size: number;',
      '}',
      'const config: Config = JSON.parse("{}");',
      'export const manifest = { name: "sm.loadthrow", version: "1.0.0" };',
      'const n: number = (config as any).missing.size;',
      'export default async (): Promise<number> => n;',
    ].join('\n');
    const e = await expectType<CapError>(k.kernel.register(op, { source, language: 'ts' }), 'COMPILE_ERROR');
    expect(e.data).toMatchObject({ line: 6 });
    expect(e.message).toMatch(/^line 6, column \d+: /);
  });

  it('a compile error V8 finds after transpiling names the source position', async () => {
    // transpileModule does not bind names: the redeclared `let` is refused by V8 in the sandbox.
    const source = [
      'type A = {',
      '  a: number;',
      '};',
      'let value: A = { a: 1 };',
      'export const manifest = { name: "sm.redeclare", version: "1.0.0" };',
      'let value: A = { a: 2 };',
      'export default async () => value.a;',
    ].join('\n');
    const e = await expectType<CapError>(k.kernel.register(op, { source, language: 'ts' }), 'COMPILE_ERROR');
    expect(e.data).toMatchObject({ line: 6, column: 5 });
    expect(e.message).toMatch(/^line 6, column 5: the module does not compile: .*already been declared/);
  });

  it('JavaScript capabilities keep their positions unchanged', async () => {
    const source = [
      'export const manifest = { name: "sm.jsthrow", version: "1.0.0" };',
      '',
      'export default async function (input) {',
      '    throw new Error("js boom");',
      '}',
    ].join('\n');
    await k.kernel.register(op, { source });
    const e = await expectType<CapError>(k.kernel.invoke({ name: 'sm.jsthrow', input: {} }), 'CAPABILITY_ERROR');
    const p = positionOf(source, 'new Error("js');
    expect(String(e.data.stack)).toContain(`capability:sm.jsthrow@1.0.0:${p.line}:${p.column}`);
  });
});
