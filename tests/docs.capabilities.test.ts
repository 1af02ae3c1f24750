// docs/capabilities.md is only useful if what it shows works: every block marked as a capability
// example (```ts capability / ```js capability) is type-checked against substrate/capability
// (TypeScript ones) and registered, in order, against a real kernel (so its tests run as gates),
// and what the prose says the examples do is checked by invoking them. The worked examples it
// links exist and register.

import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import { registerExamples } from '../kernel/examples.ts';
import { startTestKernel, type TestKernel } from './helpers.ts';
import { REPO_ROOT, typecheckProject } from './typecheck.ts';

const GUIDE = path.join(REPO_ROOT, 'docs', 'capabilities.md');
const text = readFileSync(GUIDE, 'utf8');

interface Example {
  language: 'ts' | 'js';
  source: string;
  line: number;
}

/** The capability examples of the guide, in order. */
function examples(markdown: string): Example[] {
  const out: Example[] = [];
  const re = /^```(ts|js) capability\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) {
    out.push({ language: m[1] as 'ts' | 'js', source: m[2], line: markdown.slice(0, m.index).split('\n').length });
  }
  return out;
}

const blocks = examples(text);
const nameOf = (b: Example) => /name: '([^']+)',\s*\n\s*version: '([^']+)'/.exec(b.source)?.slice(1, 3).join('@');

let k: TestKernel;
const dirs: string[] = [];
const op = LOCAL_OPERATOR;

beforeAll(async () => {
  k = await startTestKernel();
});
afterAll(async () => {
  await k?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('docs/capabilities.md', () => {
  it('has the capability examples the prose walks through', () => {
    expect(blocks.map(nameOf)).toEqual(['guide.greet@1.0.0', 'guide.visits@1.0.0', 'guide.politely@1.0.0', 'guide.visits@2.0.0']);
  });

  it('its TypeScript examples type-check against substrate/capability', () => {
    const files: Record<string, string> = {};
    blocks.forEach((b, i) => {
      if (b.language === 'ts') files[`example${i}.ts`] = b.source;
    });
    expect(Object.keys(files).length).toBeGreaterThanOrEqual(3);
    const r = typecheckProject(files);
    dirs.push(r.dir);
    expect(r.output).toBe('');
    expect(r.ok).toBe(true);
  });

  it('its examples register (their tests pass as gates) and do what the prose says', async () => {
    const [greet, visits1, politely, visits2] = blocks;
    const register = async (b: Example) => {
      try {
        return await k.kernel.register(op, { source: b.source, language: b.language });
      } catch (e) {
        throw new Error(`the example at docs/capabilities.md:${b.line} does not register: ${(e as Error).message}`, { cause: e });
      }
    };
    await register(greet);
    expect((await k.kernel.invoke({ name: 'guide.greet', input: { name: 'Ada' } })).output).toEqual({ greeting: 'Hello, Ada!' });

    const r1 = await register(visits1);
    // Its gates ran: both tests of the manifest passed.
    expect(r1.gates?.filter((g) => g.capability === 'guide.visits').map((g) => g.passed)).toEqual([true, true]);
    expect((await k.kernel.invoke({ name: 'guide.visits', input: { name: 'Ada' } })).output).toEqual({ greeting: 'Hello, Ada!', visits: 1 });
    expect((await k.kernel.invoke({ name: 'guide.visits', input: { name: 'Ada' } })).output).toEqual({ greeting: 'Hello, Ada!', visits: 2 });
    expect(k.kernel.stateGet('shared:guide.stats', 'total').value).toBe(2);

    await register(politely);
    expect((await k.kernel.invoke({ name: 'guide.politely', input: { name: '' } })).output).toEqual({ greeting: 'Hello, whoever you are!' });
    const fallback = k.kernel.recentLogs({ name: 'guide.politely', origin: 'live' }).items.at(-1);
    expect(fallback?.message).toBe('guide.greet refused the input at /name');

    // The migration moves visits:Ada to count/Ada in the commit that makes 2.0.0 current.
    await register(visits2);
    expect(k.kernel.stateGet('guide.visits', 'count/Ada').value).toBe(2);
    expect(() => k.kernel.stateGet('guide.visits', 'visits:Ada')).toThrow();
    expect((await k.kernel.invoke({ name: 'guide.visits', input: { name: 'Ada' } })).output).toEqual({ greeting: 'Hello, Ada!', visits: 3 });
  });

  it('the worked examples it links exist and register', async () => {
    const linked = [...text.matchAll(/\]\((examples\/[^)]+)\)/g)].map((m) => m[1]);
    expect(linked.length).toBeGreaterThanOrEqual(6);
    for (const f of linked) expect(existsSync(path.join(REPO_ROOT, 'docs', f)), f).toBe(true);
    await registerExamples(k.kernel);
    expect((await k.kernel.invoke({ name: 'text.report', input: { text: 'To be, or not to be.' } })).output).toMatchObject({ words: 6 });
  });

  it('is linked from the README and docs/architecture.md', () => {
    expect(readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')).toContain('(docs/capabilities.md)');
    expect(readFileSync(path.join(REPO_ROOT, 'docs', 'architecture.md'), 'utf8')).toContain('(capabilities.md)');
  });
});
