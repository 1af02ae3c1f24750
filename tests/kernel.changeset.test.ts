// Issue 3: atomic, gated changesets; migrations; pinning; rollback and remove; history.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import { cap, expectType, startTestKernel, type TestKernel } from './helpers.ts';

let k: TestKernel;
const op = LOCAL_OPERATOR;

beforeAll(async () => {
  k = await startTestKernel({ workers: 2 });
});
afterAll(async () => {
  await k?.stop();
});

const reg = (source: string) => ({ op: 'register' as const, source });

describe('changesets', () => {
  it('a changeset of three in which one gate fails changes nothing', async () => {
    await k.kernel.register(op, { source: cap({ name: 'mig.base', body: 'return 1;' }) });
    const before = k.kernel.info().generation;
    const historyBefore = k.kernel.history({ limit: 1000 }).items.length;
    const e = await expectType<{ data: Record<string, unknown> }>(
      k.kernel.apply(op, {
        changes: [
          reg(cap({ name: 'three.a', tests: [{ name: 'ok', input: 1, expect: 1 }] })),
          reg(cap({ name: 'mig.base', version: '1.1.0', body: 'return 2;', migrate: 'await ctx.state.set("migrated", true);' })),
          reg(cap({ name: 'three.c', body: 'return input + 1;', tests: [{ name: 'adds one', input: 1, expect: 3 }] })),
        ],
      }),
      'GATE_FAILED',
    );
    expect(e.data).toMatchObject({ capability: 'three.c', test: 'adds one', expected: 3, actual: 2 });
    expect(k.kernel.info().generation).toBe(before);
    expect(k.kernel.history({ limit: 1000 }).items.length).toBe(historyBefore);
    expect(k.kernel.list({ prefix: 'three.' }).items).toEqual([]);
    expect(k.kernel.describe({ name: 'mig.base' }).version).toBe('1.0.0');
    expect(k.kernel.stateList({ namespace: 'mig.base' }).items).toEqual([]);
  });

  it("upgrading B to a version that breaks A's tests is refused, naming A's test", async () => {
    await k.kernel.apply(op, {
      changes: [
        reg(cap({ name: 'gate.b', body: 'return { n: input.n * 2 };' })),
        reg(cap({ name: 'gate.a', deps: { 'gate.b': '^1' }, body: 'const r = await ctx.call("gate.b", { n: input }); return r.n + 1;', tests: [{ name: 'doubles then adds', input: 5, expect: 11 }] })),
      ],
    });
    const e = await expectType<{ data: Record<string, unknown> }>(
      k.kernel.register(op, { source: cap({ name: 'gate.b', version: '1.1.0', body: 'return { n: input.n * 3 };' }) }),
      'GATE_FAILED',
    );
    expect(e.data).toMatchObject({ capability: 'gate.a', test: 'doubles then adds', expected: 11, actual: 16 });
    expect(k.kernel.describe({ name: 'gate.b' }).version).toBe('1.0.0');
  });

  it('gate tests run on throwaway state seeded by the test, never on live state', async () => {
    await k.kernel.register(op, { source: cap({ name: 'seeded', body: 'const n = (await ctx.state.get("n")) ?? 0; await ctx.state.set("n", n + 1); return n + 1;' }) });
    await k.kernel.invoke({ name: 'seeded', input: null });
    await k.kernel.invoke({ name: 'seeded', input: null });
    const r = await k.kernel.register(op, {
      source: cap({
        name: 'seeded',
        version: '1.1.0',
        body: 'const n = (await ctx.state.get("n")) ?? 0; if (typeof n !== "number") throw new Error("bad n"); await ctx.state.set("n", n + 1); return n + 1;',
        tests: [
          { name: 'from the seed', input: null, expect: 42, state: { n: 41 } },
          { name: 'from nothing', input: null, expect: 1 },
          { name: 'expects an error', input: null, expectError: { type: 'CAPABILITY_ERROR' }, state: { n: 'not a number' } },
        ],
      }),
    });
    expect(r.gates.map((g) => `${g.test}:${g.passed}`)).toEqual(['from the seed:true', 'from nothing:true', 'expects an error:true']);
    // The gates wrote nothing live: the counter goes on from 2.
    expect((await k.kernel.invoke({ name: 'seeded', input: null })).output).toBe(3);
  });

  it('dryRun returns the plan and the gates without committing', async () => {
    const gen = k.kernel.info().generation;
    const r = await k.kernel.apply(op, { dryRun: true, changes: [reg(cap({ name: 'gate.b', version: '1.2.0', body: 'return { n: input.n * 2 };' }))] });
    expect(r.dryRun).toBe(true);
    expect(r.touched).toEqual(['gate.a']);
    expect(r.gates.map((g) => `${g.capability}:${g.test}:${g.passed}`)).toEqual(['gate.a:doubles then adds:true']);
    expect(k.kernel.info().generation).toBe(gen);
    expect(k.kernel.describe({ name: 'gate.b' }).version).toBe('1.0.0');
  });

  it('B 2.0.0 current while A depends on ^1: A keeps calling the highest 1.x, direct calls get 2.0.0', async () => {
    await k.kernel.apply(op, {
      changes: [
        reg(cap({ name: 'pin.b', version: '1.0.0', body: 'return "b1.0";' })),
        reg(cap({ name: 'pin.a', deps: { 'pin.b': '^1' }, body: 'return ctx.call("pin.b", null);' })),
      ],
    });
    await k.kernel.register(op, { source: cap({ name: 'pin.b', version: '1.4.0', body: 'return "b1.4";' }) });
    await k.kernel.register(op, { source: cap({ name: 'pin.b', version: '2.0.0', body: 'return "b2";' }) });
    expect((await k.kernel.invoke({ name: 'pin.b', input: null })).output).toBe('b2');
    expect((await k.kernel.invoke({ name: 'pin.a', input: null })).output).toBe('b1.4');
    const g = k.kernel.graphView({ root: 'pin.a' });
    expect(g.edges).toContainEqual(expect.objectContaining({ kind: 'call', from: 'pin.a', to: 'pin.b', range: '^1', resolved: '1.4.0' }));
    expect(g.nodes.filter((n) => n.name === 'pin.b').map((n) => n.version)).toEqual(['1.4.0']);
  });

  it('a cycle gives DEPENDENCY_CYCLE listing the cycle', async () => {
    await k.kernel.register(op, { source: cap({ name: 'cyc.b' }) });
    await k.kernel.register(op, { source: cap({ name: 'cyc.a', deps: { 'cyc.b': '^1' } }) });
    const e = await expectType<{ data: { cycle: string[] } }>(
      k.kernel.register(op, { source: cap({ name: 'cyc.b', version: '1.1.0', deps: { 'cyc.a': '^1' } }) }),
      'DEPENDENCY_CYCLE',
    );
    expect(e.data.cycle).toEqual(expect.arrayContaining(['cyc.a', 'cyc.b']));
  });

  it('an unsatisfiable range gives DEPENDENCY_UNSATISFIED naming the capability and the range', async () => {
    const e = await expectType<{ data: Record<string, unknown> }>(
      k.kernel.register(op, { source: cap({ name: 'unsat.a', deps: { 'pin.b': '^3' } }) }),
      'DEPENDENCY_UNSATISFIED',
    );
    expect(e.data).toMatchObject({ name: 'unsat.a', dependency: 'pin.b', range: '^3' });
  });

  it('a migrate that throws gives MIGRATION_FAILED and commits nothing; one that works writes inside the commit', async () => {
    await k.kernel.register(op, { source: cap({ name: 'mig.x', body: 'return ctx.state.get("schema");' }) });
    const gen = k.kernel.info().generation;
    await expectType(
      k.kernel.register(op, { source: cap({ name: 'mig.x', version: '1.1.0', migrate: 'await ctx.state.set("schema", 2); throw new Error("boom");' }) }),
      'MIGRATION_FAILED',
    );
    expect(k.kernel.info().generation).toBe(gen);
    expect(k.kernel.stateList({ namespace: 'mig.x' }).items).toEqual([]);
    await k.kernel.register(op, {
      source: cap({ name: 'mig.x', version: '1.2.0', body: 'return ctx.state.get("schema");', migrate: 'await ctx.state.set("schema", { from });' }),
    });
    expect((await k.kernel.invoke({ name: 'mig.x', input: null })).output).toEqual({ from: '1.0.0' });
  });

  it('rollback makes the previous version current as a new generation; history keeps everything', async () => {
    await k.kernel.register(op, { source: cap({ name: 'rb', version: '1.0.0', body: 'return 1;' }) });
    await k.kernel.register(op, { source: cap({ name: 'rb', version: '1.1.0', body: 'return 2;' }) });
    const gen = k.kernel.info().generation;
    const r = await k.kernel.rollback(op, { name: 'rb' });
    expect(r).toEqual({ name: 'rb', version: '1.0.0', generation: gen + 1 });
    expect((await k.kernel.invoke({ name: 'rb', input: null })).output).toBe(1);
    const r2 = await k.kernel.rollback(op, { name: 'rb', to: '1.1.0' });
    expect(r2.version).toBe('1.1.0');
    const h = k.kernel.history({ name: 'rb' });
    expect(h.items.length).toBe(4);
    expect(h.items[0].generation).toBeGreaterThan(h.items[1].generation);
    await expectType(k.kernel.rollback(op, { name: 'rb', to: '9.9.9' }), 'NOT_FOUND');
  });

  it('announces every commit as events', async () => {
    const seen: string[] = [];
    const on = (e: { type: string; name: string; version: string | null }) => seen.push(`${e.type} ${e.name}@${e.version}`);
    k.kernel.events.on('event', on);
    try {
      await k.kernel.register(op, { source: cap({ name: 'ev.x', version: '1.0.0' }) });
      await k.kernel.register(op, { source: cap({ name: 'ev.x', version: '1.1.0' }), activate: false });
      await k.kernel.apply(op, { changes: [{ op: 'activate', name: 'ev.x', version: '1.1.0' }] });
      await k.kernel.rollback(op, { name: 'ev.x' });
      await k.kernel.remove(op, 'ev.x');
    } finally {
      k.kernel.events.off('event', on);
    }
    expect(seen.filter((l) => !l.startsWith('log'))).toEqual([
      'capability.registered ev.x@1.0.0',
      'capability.activated ev.x@1.0.0',
      'capability.registered ev.x@1.1.0',
      'capability.activated ev.x@1.1.0',
      'capability.rolledBack ev.x@1.0.0',
      'capability.removed ev.x@null',
    ]);
  });

  it('remove is refused while something current depends on it', async () => {
    const e = await expectType<{ data: { dependents: string[] } }>(k.kernel.remove(op, 'gate.b'), 'DEPENDENTS_EXIST');
    expect(e.data.dependents).toEqual(['gate.a']);
    await k.kernel.remove(op, 'gate.a');
    await k.kernel.remove(op, 'gate.b');
    await expectType(k.kernel.invoke({ name: 'gate.b', input: { n: 1 } }), 'NOT_FOUND');
  });

  it('keeps at least 100 versions of a capability, all invocable by version', async () => {
    for (let i = 0; i < 100; i++) {
      await k.kernel.register(op, { source: cap({ name: 'many', version: `1.0.${i}`, body: `return ${i};` }) });
    }
    expect(k.kernel.list({ prefix: 'many' }).items[0].versions.length).toBe(100);
    expect((await k.kernel.invoke({ name: 'many', input: null, version: '1.0.7' })).output).toBe(7);
    expect((await k.kernel.invoke({ name: 'many', input: null })).output).toBe(99);
    const page1 = k.kernel.history({ name: 'many', limit: 60 });
    const page2 = k.kernel.history({ name: 'many', limit: 60, cursor: page1.nextCursor ?? undefined });
    expect(page1.items.length + page2.items.length).toBe(100);
    expect(page2.nextCursor).toBeNull();
  });
});

describe('generation pinning', () => {
  it('a slow call started before an upgrade uses the old version; one started after uses the new', async () => {
    await k.kernel.apply(op, {
      changes: [
        reg(cap({ name: 'slow.b', body: 'return "old";' })),
        reg(cap({ name: 'slow.a', deps: { 'slow.b': '^1' }, body: 'await new Promise(r => setTimeout(r, input.wait)); return ctx.call("slow.b", null);' })),
      ],
    });
    const early = k.kernel.invoke({ name: 'slow.a', input: { wait: 1500 } });
    await new Promise((r) => setTimeout(r, 200));
    await k.kernel.register(op, { source: cap({ name: 'slow.b', version: '1.1.0', body: 'return "new";' }) });
    const late = k.kernel.invoke({ name: 'slow.a', input: { wait: 0 } });
    expect((await early).output).toBe('old');
    expect((await late).output).toBe('new');
  });

  it('fifty upgrades under a steady load of invocations fail zero calls', async () => {
    await k.kernel.apply(op, {
      changes: [reg(cap({ name: 'load.b', version: '1.0.0', body: 'return 0;' })), reg(cap({ name: 'load.a', deps: { 'load.b': '^1' }, body: 'return ctx.call("load.b", null);' }))],
    });
    let stop = false;
    let ok = 0;
    const failures: unknown[] = [];
    const loop = async () => {
      while (!stop) {
        try {
          await k.kernel.invoke({ name: 'load.a', input: null });
          ok++;
        } catch (e) {
          failures.push(e);
        }
      }
    };
    const loops = Array.from({ length: 8 }, loop);
    for (let i = 1; i <= 50; i++) {
      await k.kernel.register(op, { source: cap({ name: 'load.b', version: `1.0.${i}`, body: `return ${i};` }) });
    }
    stop = true;
    await Promise.all(loops);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
    expect((await k.kernel.invoke({ name: 'load.a', input: null })).output).toBe(50);
  });
});
