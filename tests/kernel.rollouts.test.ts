// Canary rollouts against a real kernel (docs/evaluation.md, "Rollouts"): a bad canary is aborted and
// a good one promoted under steady driven load, with every failed call the bad canary's own; a call
// tree sees one version; ROLLOUT_ACTIVE for competing changes; the verdict in events, history and
// rollouts/get; a rollout across a restart resumes (traffic never split without a controller).

import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { SubstrateError } from '../capabilities/errors.ts';
import { LOCAL_OPERATOR, type Json } from '../capabilities/types.ts';
import type { KernelEvent, RolloutEvent, RolloutInfo } from '../kernel/api.ts';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { inProcessBackend } from '../kernel/mcp-backend.ts';
import { createMcpServer } from '../mcp/server.ts';
import { runCli } from './cli-run.ts';
import { judge, normalizeSteps } from '../kernel/rollouts.ts';
import type { VersionWindow } from '../capabilities/evaluation.ts';
import { cap, eventually, startTestKernel, tmpDir, type TestKernel } from './helpers.ts';

const op = LOCAL_OPERATOR;
const kernels: TestKernel[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const k of kernels) await k.stop().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function kernel(dataDir?: string, opts: { metrics?: boolean } = {}): Promise<TestKernel> {
  const k = await startTestKernel({ workers: 2, ...opts, ...(dataDir ? { dataDir } : {}) });
  kernels.push(k);
  return k;
}

/** Invokes `name` from `lanes` loops until stop(); every failure is kept. */
function drive(k: TestKernel, name: string, lanes = 4) {
  let running = true;
  const failures: SubstrateError[] = [];
  const outputs: Array<{ output: Json; generation: number }> = [];
  const loops = Array.from({ length: lanes }, async () => {
    while (running) {
      try {
        const r = await k.kernel.invoke({ name, input: null });
        outputs.push({ output: r.output, generation: r.generation });
      } catch (e) {
        failures.push(e as SubstrateError);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  });
  return {
    failures,
    outputs,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function settled(k: TestKernel, name: string): Promise<RolloutInfo> {
  return eventually(
    () => {
      const r = k.kernel.rollouts.get(name).items[0];
      if (!r || r.status === 'running') throw new Error(`still running: ${JSON.stringify(r?.history.at(-1))}`);
      return r;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as SubstrateError).type;
  }
}

describe('canary rollouts', () => {
  it('aborts a bad canary and promotes a good one under steady load, failing no call itself', async () => {
    const k = await kernel();
    const events: KernelEvent[] = [];
    k.kernel.events.on('event', (e: KernelEvent) => events.push(e));
    await k.kernel.register(op, { source: cap({ name: 'ro.svc', body: 'return { v: "1.0.0" };' }) });
    // Fails every second call it serves (module state lives in its warm isolate).
    const bad = cap({ name: 'ro.svc', version: '1.1.0', body: 'n++; if (n % 2 === 0) throw new Error("canary broke"); return { v: "1.1.0" };', extra: 'let n = 0;' });
    const load = drive(k, 'ro.svc');
    try {
      const started = await k.kernel.rollouts.start(op, { name: 'ro.svc', version: '1.1.0', source: bad, steps: [50], stepS: 1.5, minCalls: 10, maxP99Ratio: 1000 });
      expect(started).toMatchObject({ status: 'running', step: 0, weight: 50, steps: [50, 100], baseline: '1.0.0' });
      const aborted = await settled(k, 'ro.svc');
      expect(aborted.status).toBe('aborted');
      const verdict = aborted.history.at(-1)!.verdict!;
      expect(verdict.verdict).toBe('fail');
      expect(verdict.checks.find((c) => c.id === 'errorRateDelta')).toMatchObject({ ok: false });
      expect(verdict.checks.find((c) => c.id === 'minCalls')).toMatchObject({ ok: true });
      expect(k.kernel.describe({ name: 'ro.svc' }).version).toBe('1.0.0');
      // Every failure is the bad canary's own error.
      expect(load.failures.length).toBeGreaterThan(0);
      for (const f of load.failures) expect([f.type, f.data.version, f.message]).toEqual(['CAPABILITY_ERROR', '1.1.0', expect.stringContaining('canary broke')]);
      // After the abort, all traffic is on 1.0.0: every call that started on its generation or later.
      const abortGen = k.kernel.currentGeneration();
      await eventually(() => expect(load.outputs.filter((o) => o.generation >= abortGen).length).toBeGreaterThan(20));
      expect(load.outputs.filter((o) => o.generation >= abortGen).every((o) => (o.output as { v: string }).v === '1.0.0')).toBe(true);
      const failedBefore = load.failures.filter((f) => f.data.version === '1.1.0').length;

      // A good canary goes all the way.
      await k.kernel.register(op, { source: cap({ name: 'ro.svc', version: '1.2.0', body: 'return { v: "1.2.0" };' }), activate: false });
      await k.kernel.rollouts.start(op, { name: 'ro.svc', version: '1.2.0', steps: [20, 60, 100], stepS: 1, minCalls: 5, maxP99Ratio: 1000 });
      const promoted = await settled(k, 'ro.svc');
      expect(promoted).toMatchObject({ status: 'promoted', weight: 100, version: '1.2.0' });
      expect(promoted.history.map((h) => [h.weight, h.verdict?.verdict])).toEqual([
        [20, 'pass'],
        [60, 'pass'],
      ]);
      expect(k.kernel.describe({ name: 'ro.svc' }).version).toBe('1.2.0');
      const promoteGen = k.kernel.currentGeneration();
      await eventually(() => expect(load.outputs.filter((o) => o.generation >= promoteGen).length).toBeGreaterThan(20));
      expect(load.outputs.filter((o) => o.generation >= promoteGen).every((o) => (o.output as { v: string }).v === '1.2.0')).toBe(true);
      expect(load.failures.filter((f) => f.data.version === '1.1.0').length).toBe(failedBefore);
    } finally {
      await load.stop();
    }
    // Every failure of the whole run is the bad canary's own error, none the mechanics'.
    for (const f of load.failures) expect([f.type, f.data.version, f.message]).toEqual(['CAPABILITY_ERROR', '1.1.0', expect.stringContaining('canary broke')]);

    // The verdict is in the events...
    const rollouts = events.filter((e) => e.type.startsWith('rollout.'));
    expect(rollouts.map((e) => e.type)).toEqual(['rollout.step', 'rollout.aborted', 'rollout.step', 'rollout.step', 'rollout.promoted']);
    const abortedEv = rollouts[1] as RolloutEvent;
    expect(abortedEv.verdict?.verdict).toBe('fail');
    expect((rollouts[4] as RolloutEvent).verdict?.verdict).toBe('pass');
    expect(events.some((e) => e.type === 'capability.activated' && e.name === 'ro.svc' && e.version === '1.2.0')).toBe(true);
    // ...and in the journal: every step a generation.
    const hist = k.kernel.history({ name: 'ro.svc' }).items;
    const ops = hist.map((h) => h.changes.map((c) => `${c.op}:${c.version}:${c.rollout?.status ?? ''}:${c.rollout?.weight ?? ''}:${c.rollout?.verdict?.verdict ?? ''}`)[0]);
    expect(ops.slice(0, 6)).toEqual([
      'activate:1.2.0:promoted:100:pass',
      'rollout:1.2.0:running:60:pass',
      'rollout:1.2.0:running:20:',
      'register:1.2.0:::',
      'rollout:1.1.0:aborted:0:fail',
      'rollout:1.1.0:running:50:',
    ]);
    const gens = hist.map((h) => h.generation);
    expect(new Set(gens.slice(0, 3)).size).toBe(3);
    // And a rollback goes back to the version before the promotion.
    expect((await k.kernel.rollback(op, { name: 'ro.svc' })).version).toBe('1.0.0');
  }, 120_000);

  it('gives a whole call tree one version, refuses competing changes with ROLLOUT_ACTIVE', async () => {
    const k = await kernel();
    const tree = (version: string) =>
      cap({
        name: 'ro.tree',
        version,
        deps: { 'ro.tree': '^1.0.0' },
        body: `const d = input?.depth ?? 0; const inner = d > 0 ? await ctx.call('ro.tree', { depth: d - 1 }) : []; return ["${version}", ...inner];`,
      });
    await k.kernel.register(op, { source: tree('1.0.0') });
    await k.kernel.register(op, {
      source: cap({ name: 'ro.caller', deps: { 'ro.tree': '^1.0.0' }, body: 'return [await ctx.call("ro.tree", { depth: 1 }), await ctx.call("ro.tree", { depth: 0 })].flat();' }),
    });
    await k.kernel.register(op, { source: tree('1.1.0'), activate: false });
    await k.kernel.rollouts.start(op, { name: 'ro.tree', version: '1.1.0', steps: [50], stepS: 600 });

    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const own = (await k.kernel.invoke({ name: 'ro.tree', input: { depth: 3 } })).output as string[];
      const viaCaller = (await k.kernel.invoke({ name: 'ro.caller', input: null })).output as string[];
      for (const out of [own, viaCaller]) {
        expect(new Set(out).size, JSON.stringify(out)).toBe(1);
        seen.add(out[0]);
      }
    }
    expect([...seen].sort()).toEqual(['1.0.0', '1.1.0']);

    // Competing changes to the name are refused; an upload that activates nothing is not.
    expect(await code(k.kernel.register(op, { source: tree('1.2.0') }))).toBe('ROLLOUT_ACTIVE');
    expect(await code(k.kernel.apply(op, { changes: [{ op: 'activate', name: 'ro.tree', version: '1.1.0' }] }))).toBe('ROLLOUT_ACTIVE');
    expect(await code(k.kernel.rollback(op, { name: 'ro.tree', to: '1.0.0' }))).toBe('ROLLOUT_ACTIVE');
    expect(await code(k.kernel.remove(op, 'ro.tree'))).toBe('ROLLOUT_ACTIVE');
    expect(await code(k.kernel.rollouts.start(op, { name: 'ro.tree', version: '1.1.0' }))).toBe('ROLLOUT_ACTIVE');
    expect(await code(k.kernel.register(op, { source: tree('1.3.0'), activate: false }))).toBe('ok');
    // Other names still change.
    expect(await code(k.kernel.register(op, { source: cap({ name: 'ro.caller', version: '1.0.1', deps: { 'ro.tree': '^1.0.0' }, body: 'return [];' }) }))).toBe('ok');

    const info = k.kernel.rollouts.get('ro.tree').items[0];
    expect(info.live?.canary.calls).toBeGreaterThan(0);
    expect(info.next).toMatch(/rollouts\/abort/);
    const aborted = await k.kernel.rollouts.abort(op, 'ro.tree');
    expect(aborted).toMatchObject({ status: 'aborted', weight: 0, reason: 'aborted by local' });
    for (let i = 0; i < 10; i++) expect((await k.kernel.invoke({ name: 'ro.tree', input: { depth: 2 } })).output).toEqual(['1.0.0', '1.0.0', '1.0.0']);
    expect(await code(k.kernel.rollouts.abort(op, 'ro.tree'))).toBe('NOT_FOUND');
    // A canary whose gates fail never serves a call.
    const failing = cap({ name: 'ro.tree', version: '1.4.0', deps: { 'ro.tree': '^1.0.0' }, body: 'return ["x"];', tests: [{ name: 't', input: {}, expect: ['1.4.0'] }] });
    expect(await code(k.kernel.rollouts.start(op, { name: 'ro.tree', version: '1.4.0', source: failing }))).toBe('GATE_FAILED');
    expect(k.kernel.rollouts.get('ro.tree').items[0].id).toBe(aborted.id);
  }, 120_000);

  it('resumes a rollout after a restart: the split comes back with its controller', async () => {
    const dir = tmpDir();
    dirs.push(dir);
    let k = await kernel(dir);
    await k.kernel.register(op, { source: cap({ name: 'ro.r', body: 'return "1.0.0";' }) });
    await k.kernel.register(op, { source: cap({ name: 'ro.r', version: '1.1.0', body: 'return "1.1.0";' }), activate: false });
    const started = await k.kernel.rollouts.start(op, { name: 'ro.r', version: '1.1.0', steps: [50], stepS: 600 });
    const generation = k.kernel.currentGeneration();
    await k.stop();

    k = await kernel(dir);
    expect(k.kernel.currentGeneration()).toBe(generation);
    const resumed = k.kernel.rollouts.get('ro.r').items[0];
    expect(resumed).toMatchObject({ id: started.id, status: 'running', weight: 50 });
    expect(resumed.live).not.toBeNull();
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) seen.add((await k.kernel.invoke({ name: 'ro.r', input: null })).output as string);
    expect([...seen].sort()).toEqual(['1.0.0', '1.1.0']);
    expect((await k.kernel.rollouts.promote(op, 'ro.r')).status).toBe('promoted');
    for (let i = 0; i < 10; i++) expect((await k.kernel.invoke({ name: 'ro.r', input: null })).output).toBe('1.1.0');

    // A short rollout interrupted by a restart finishes by itself after it.
    await k.kernel.register(op, { source: cap({ name: 'ro.r', version: '1.2.0', body: 'return "1.2.0";' }), activate: false });
    await k.kernel.rollouts.start(op, { name: 'ro.r', version: '1.2.0', steps: [50], stepS: 1, minCalls: 3, maxP99Ratio: 1000 });
    await k.stop();
    k = await kernel(dir);
    const load = drive(k, 'ro.r', 2);
    try {
      expect(await settled(k, 'ro.r')).toMatchObject({ status: 'promoted', version: '1.2.0' });
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    expect(k.kernel.describe({ name: 'ro.r' }).version).toBe('1.2.0');
  }, 120_000);

  it('replays recorded calls on the canary first when asked: over maxChanged, REPLAY_FAILED and no rollout', async () => {
    const k = await kernel();
    await k.kernel.register(op, { source: cap({ name: 'ro.r', body: 'return { n: input.n };' }) });
    await k.kernel.register(op, { source: cap({ name: 'ro.r', version: '1.1.0', body: 'return { n: input.n + 1 };' }), activate: false });
    for (let n = 0; n < 5; n++) await k.kernel.invoke({ name: 'ro.r', input: { n } });
    const generation = k.kernel.info().generation;
    const e = await k.kernel.rollouts.start(op, { name: 'ro.r', version: '1.1.0', replay: { maxChanged: 0 } }).then(
      () => null,
      (x: SubstrateError) => x,
    );
    expect(e?.type).toBe('REPLAY_FAILED');
    expect(e?.data).toMatchObject({ capability: 'ro.r', changed: 5, maxChanged: 0 });
    expect(k.kernel.info().generation).toBe(generation);
    expect(k.kernel.rollouts.get('ro.r').items).toEqual([]);
  }, 60_000);

  it('judges on its own samples when metrics are off', async () => {
    const k = await kernel(undefined, { metrics: false });
    await k.kernel.register(op, { source: cap({ name: 'ro.s', body: 'return 1;' }) });
    await k.kernel.register(op, { source: cap({ name: 'ro.s', version: '1.1.0', body: 'return 2;' }), activate: false });
    const load = drive(k, 'ro.s', 2);
    try {
      await k.kernel.rollouts.start(op, { name: 'ro.s', version: '1.1.0', steps: [50], stepS: 1, minCalls: 5, maxP99Ratio: 1000 });
      const done = await settled(k, 'ro.s');
      expect(done.status).toBe('promoted');
      expect(done.history[0].verdict?.checks[0]).toMatchObject({ id: 'minCalls', ok: true });
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
  }, 60_000);

  it('shows a rollout on the CLI and answers MCP tools with the verdict JSON and the next action', async () => {
    const k = await kernel();
    await k.kernel.register(op, { source: cap({ name: 'ro.cli', body: 'return 1;' }) });
    await k.kernel.register(op, { source: cap({ name: 'ro.cli', version: '1.1.0', body: 'return 2;' }), activate: false });
    const cli = (...args: string[]) => runCli(['--url', k.url, '--token', k.operatorToken, ...args]);

    const started = await cli('rollout', 'ro.cli', '1.1.0', '--steps', '30,60', '--step-s', '600', '--no-follow');
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toContain('ro.cli 1.0.0 -> 1.1.0');
    expect(started.stdout).toContain('canary at 30%');
    for (let i = 0; i < 10; i++) await k.kernel.invoke({ name: 'ro.cli', input: null });
    const status = await cli('rollout', 'status', 'ro.cli');
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/STEP\s+WEIGHT\s+GEN\s+VERDICT/);
    expect(status.stdout).toMatch(/1\s+30%\s+\d+\s+running/);
    expect(status.stdout).toContain('next: step 1 of 3 (30%)');
    const json = JSON.parse((await cli('rollout', 'status', 'ro.cli', '--json')).stdout) as { items: RolloutInfo[] };
    expect(json.items[0].live!.canary.calls + json.items[0].live!.baseline.calls).toBe(10);
    expect((await cli('rollout', 'abort')).code).toBe(2);
    const aborted = await cli('rollout', 'abort', 'ro.cli');
    expect(aborted.stdout).toContain('aborted');

    const [a, b] = InMemoryTransport.createLinkedPair();
    const server = createMcpServer(inProcessBackend(k.rpc, k.kernel, op));
    await server.connect(a);
    const client = new Client({ name: 'rollout-test', version: '1.0.0' });
    await client.connect(b);
    try {
      const res = (await client.callTool({ name: 'substrate_rollout', arguments: { name: 'ro.cli', version: '1.1.0', steps: [50], stepS: 1, minCalls: 3, maxP99Ratio: 1000 } })) as CallToolResult;
      expect(res.isError, JSON.stringify(res.content)).toBeFalsy();
      expect(JSON.parse((res.content[0] as { text: string }).text)).toMatchObject({ status: 'running', weight: 50, verdict: null, next: expect.stringContaining('step 1 of 2') });
      const busy = (await client.callTool({ name: 'substrate_rollback', arguments: { name: 'ro.cli' } })) as CallToolResult;
      expect((busy._meta?.['substrate/error'] as { type: string }).type).toBe('ROLLOUT_ACTIVE');
      const load = drive(k, 'ro.cli', 2);
      try {
        await settled(k, 'ro.cli');
      } finally {
        await load.stop();
      }
      const got = (await client.callTool({ name: 'substrate_rollout_get', arguments: { name: 'ro.cli' } })) as CallToolResult;
      const text = JSON.parse((got.content[0] as { text: string }).text.split('\n{')[0]) as { next: string; status: string; verdict: { verdict: string; checks: unknown[] } };
      expect(text).toMatchObject({ status: 'promoted', next: '1.1.0 is current; nothing to do', verdict: { verdict: 'pass' } });
      expect(text.verdict.checks).toHaveLength(3);
      expect((got.structuredContent as { items: RolloutInfo[] }).items[0].status).toBe('promoted');
      const none = (await client.callTool({ name: 'substrate_rollout_abort', arguments: { name: 'ro.cli' } })) as CallToolResult;
      expect(none.isError).toBe(true);
    } finally {
      await client.close();
      await server.close();
    }
  }, 120_000);
});

describe('the verdict of a step', () => {
  const w = (calls: number, errors: number, p99: number): VersionWindow => ({ name: 'x', version: '1', calls, errors, errorsByType: {}, p50: 0, p95: 0, p99, reruns: 0, conflicts: 0, egress: 0, jobs: 0 });
  const row = { step: 1, steps: [5, 25, 100], minCalls: 50, maxErrorRateDelta: 0.01, maxP99Ratio: 2 };

  it('is inconclusive with too few calls of either version, whatever the other checks say', () => {
    const v = judge(row, w(49, 40, 100), w(500, 0, 5), 60);
    expect(v).toMatchObject({ verdict: 'inconclusive', step: 1, weight: 25, windowS: 60 });
    expect(v.checks.map((c) => [c.id, c.ok])).toEqual([['minCalls', false], ['errorRateDelta', false], ['p99Ratio', false]]);
    expect(judge(row, w(60, 0, 5), w(49, 0, 5), 60).verdict).toBe('inconclusive');
  });

  it('fails on the error-rate delta or the p99 ratio, with a reason each, and passes within both', () => {
    expect(judge(row, w(100, 2, 5), w(1000, 0, 5), 60)).toMatchObject({ verdict: 'fail', reasons: [expect.stringContaining('error rate 2.0% vs 0.0%')] });
    expect(judge(row, w(100, 1, 5), w(1000, 0, 5), 60).verdict).toBe('pass');
    expect(judge(row, w(100, 0, 50), w(1000, 0, 20), 60)).toMatchObject({ verdict: 'fail', reasons: [expect.stringContaining('ratio 2.50 > 2')] });
    // Under the 10 ms floor a ratio is noise: 6 ms against 1 ms passes.
    expect(judge(row, w(100, 0, 6), w(1000, 0, 1), 60).verdict).toBe('pass');
  });

  it('takes increasing percentages and ends them with 100', () => {
    expect(normalizeSteps([5, 25, 50])).toEqual([5, 25, 50, 100]);
    expect(normalizeSteps([10, 100])).toEqual([10, 100]);
    for (const bad of [[50, 25], [0, 50], [100], [20, 20]]) expect(() => normalizeSteps(bad)).toThrow(/increasing|below 100/);
  });
});
