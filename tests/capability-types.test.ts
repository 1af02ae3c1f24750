// Issue 10 (item 8): the types of `substrate/capability` (capabilities/capability-types.ts) agree
// with what the kernel accepts, and a TypeScript capability type-checks against them through the
// package's `exports`, as a project that installed substrate would import them.

import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type * as Api from '../capabilities/capability-types.ts';
import { ERROR_TYPES } from '../capabilities/errors.ts';
import { parseManifest, type ManifestInput } from '../capabilities/manifest.ts';
import type { Json } from '../capabilities/types.ts';
import { typecheckProject } from './typecheck.ts';

// Compile-time agreement (checked by `tsc --noEmit -p .`): each side assignable to the other.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const errorTypesAgree: Same<Api.ErrorType, (typeof ERROR_TYPES)[number]> = true;
const jsonAgrees: Same<Api.Json, Json> = true;
const manifestFitsSchema: Same<Api.Manifest, ManifestInput> = true;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function typecheck(files: Record<string, string>): { ok: boolean; output: string } {
  const r = typecheckProject(files);
  dirs.push(r.dir);
  return r;
}

const GOOD = `
import type { Capability, CapabilityContext, Manifest, Migrate, CapabilityError } from 'substrate/capability';

interface Input { text: string }
interface Output { words: number; last: number | null }

export const manifest: Manifest = {
  name: 'text.counter',
  version: '1.0.0',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  dependencies: { 'text.tokenize': '^1.0.0' },
  state: { shared: { 'text.stats': 'rw' } },
  limits: { timeoutMs: 2000 },
  tests: [
    { name: 'counts', input: { text: 'a b' }, expect: { words: 2, last: null } },
    { name: 'refuses a number', input: { text: 1 }, expectError: { type: 'INVALID_INPUT' } },
  ],
};

const count: Capability<Input, Output> = async (input, ctx) => {
  const { tokens } = await ctx.call<{ tokens: string[] }>('text.tokenize', { text: input.text });
  const last = (await ctx.state.get<number>('last')) ?? null;
  await ctx.state.set('last', tokens.length);
  const stats = ctx.state.ns('text.stats');
  const page = await stats.list<number>({ prefix: 'day:', limit: 10 });
  const sum: number = page.items.reduce((s, it) => s + it.value, 0);
  ctx.log('counted', tokens.length, 'at depth', ctx.invocation.depth, 'sum', sum, page.cursor);
  try {
    await ctx.call('text.missing', {});
  } catch (e) {
    const err = e as CapabilityError;
    if (err.type !== 'UNDECLARED_DEPENDENCY') throw err;
  }
  return { words: tokens.length, last };
};
export default count;

export const migrate: Migrate = async (ctx: CapabilityContext, from) => {
  if (from === null) await ctx.state.set('last', 0);
};
`;

describe('substrate/capability', () => {
  it('a TypeScript capability type-checks against the exported types', () => {
    expect(errorTypesAgree && jsonAgrees && manifestFitsSchema).toBe(true);
    const r = typecheck({ 'counter.ts': GOOD });
    expect(r.output).toBe('');
    expect(r.ok).toBe(true);
  });

  it('the types catch what the kernel would refuse', () => {
    const bad = `
      import type { CapabilityContext, Manifest } from 'substrate/capability';
      export const misspelt: Manifest = { name: 'bad.one', version: '1.0.0', dependecies: { 'text.tokenize': '^1.0.0' } };
      export const manifest: Manifest = {
        name: 'bad.one',
        version: '1.0.0',
        state: { shared: { 'text.stats': 'write' } },
        tests: [{ name: 't', input: {}, expectError: { type: 'NOT_A_TYPE' } }],
      };
      export default async function (input: unknown, ctx: CapabilityContext) {
        ctx.state.get(42);
        ctx.fetch('http://example.com');
        const n: number = await ctx.state.get('k');
        return n;
      }`;
    const r = typecheck({ 'bad.ts': bad });
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/dependecies/);
    expect(r.output).toMatch(/'"write"' is not assignable|"write"/);
    expect(r.output).toMatch(/NOT_A_TYPE/);
    expect(r.output).toMatch(/Argument of type 'number' is not assignable to parameter of type 'string'/);
    expect(r.output).toMatch(/Property 'fetch' does not exist/);
    expect(r.output).toMatch(/undefined/);
  });

  it('a manifest typed as Manifest is one the kernel accepts, with its defaults filled in', () => {
    const m: Api.Manifest = { name: 'types.check', version: '0.1.0', tests: [{ name: 'ok', input: { a: [1, null] }, expect: true }] };
    expect(parseManifest(m)).toMatchObject({ description: '', dependencies: {}, state: { shared: {} }, limits: { timeoutMs: 5000, memoryMb: 64 } });
  });
});
