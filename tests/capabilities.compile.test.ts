import { describe, expect, it } from 'vitest';
import { compileSource, inferLanguage } from '../capabilities/compile.ts';
import { SubstrateError } from '../capabilities/errors.ts';

function compileError(source: string, language: 'js' | 'ts'): SubstrateError {
  try {
    compileSource(source, language);
  } catch (e) {
    expect(e).toBeInstanceOf(SubstrateError);
    expect((e as SubstrateError).type).toBe('COMPILE_ERROR');
    return e as SubstrateError;
  }
  throw new Error('expected a COMPILE_ERROR');
}

describe('inferLanguage', () => {
  it('is ts for .ts, .mts and .cts files and js otherwise', () => {
    expect(inferLanguage('cap.ts')).toBe('ts');
    expect(inferLanguage('dir/cap.mts')).toBe('ts');
    expect(inferLanguage('cap.cts')).toBe('ts');
    expect(inferLanguage('CAP.TS')).toBe('ts');
    expect(inferLanguage('cap.js')).toBe('js');
    expect(inferLanguage('cap.mjs')).toBe('js');
    expect(inferLanguage('cap.ts.js')).toBe('js');
    expect(inferLanguage('cap')).toBe('js');
  });
});

describe('compileSource', () => {
  const ts = [
    'interface Input { text: string }',
    'type Output = { words: number };',
    'export const manifest = { name: "text.wordcount", version: "1.0.0" };',
    'export default async function (input: Input, ctx: unknown): Promise<Output> {',
    '  const words: string[] = input.text.split(/\\s+/).filter(Boolean);',
    '  return { words: words.length };',
    '}',
    'export async function migrate(ctx: unknown, from: string | null) {}',
  ].join('\n');

  it('strips TypeScript types and keeps an ES module', async () => {
    const t0 = performance.now();
    const out = compileSource(ts, 'ts');
    const first = performance.now() - t0;
    expect(out).not.toMatch(/interface|: string|Promise<Output>/);
    expect(out).toContain('export default async function');
    expect(out).toContain('export const manifest');
    expect(out).toContain('export async function migrate');
    expect(out).not.toContain('use strict');
    const mod = await import(`data:text/javascript,${encodeURIComponent(out)}`);
    expect(await mod.default({ text: 'a b  c' })).toEqual({ words: 3 });
    expect(mod.manifest).toEqual({ name: 'text.wordcount', version: '1.0.0' });

    const n = 50;
    const t1 = performance.now();
    for (let i = 0; i < n; i++) compileSource(`${ts}\n// ${i}`, 'ts');
    const steady = (performance.now() - t1) / n;
    console.log(`compileSource ts: first call ${first.toFixed(0)} ms (loads typescript), then ${steady.toFixed(2)} ms per call`);
  });

  it('returns JavaScript unchanged', () => {
    const js = 'export default function (input) { return { n: input.n + 1 }; }\n';
    expect(compileSource(js, 'js')).toBe(js);
    expect(compileSource('export default async (i) => { await 0; return i; }', 'js')).toBe('export default async (i) => { await 0; return i; }');
  });

  it('reports a TypeScript syntax error with its 1-based line and column', () => {
    const e = compileError('export default function (input: { n: number }) {\n  const x = ;\n  return x;\n}\n', 'ts');
    expect(e.data).toMatchObject({ line: 2, column: 13, language: 'ts' });
    expect(typeof e.data.message).toBe('string');
    expect(e.message).toMatch(/^line 2, column 13: /);
  });

  it('reports a JavaScript syntax error with its line and column', () => {
    const e = compileError('export default function (input) {\n  return {\n    a: 1,,\n  };\n}\n', 'js');
    expect(e.data).toMatchObject({ line: 3, column: 10, language: 'js' });
    expect(e.message).toMatch(/^line 3, column 10: /);
    const unclosed = compileError('export default function (input) {\n  return 1;\n', 'js');
    expect(unclosed.data.line).toBe(3);
  });

  it('refuses TypeScript syntax in a JavaScript source', () => {
    const e = compileError('export default function (input: number) { return input; }', 'js');
    expect(e.data).toMatchObject({ line: 1, column: 33, language: 'js' });
  });

  it('does not type-check: type errors are not syntax errors', () => {
    expect(compileSource('const n: number = "not a number";\nexport default () => n;', 'ts')).toContain('const n = "not a number"');
  });
});
