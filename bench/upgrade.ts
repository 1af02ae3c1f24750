// bench/upgrade (issue 3): commit latency of a one-capability upgrade (a new version of a dependency,
// no tests) while a paced client runs a steady 1,000 invocations/s of a capability that calls it,
// and the calls failed meanwhile; beside the same commits on an idle kernel. Then impact plus cycle
// check on a generated graph of 10,000 capabilities and 30,000 edges through capabilities/graph.ts,
// beside the same traversals on bare integer arrays. Then replay before commit (issue 14): a dry run
// replaying 1,000 recorded calls, time per record, beside one plain invoke (bench/replay-bench.ts).

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SubstrateClient } from '../kernel/client.ts';
import { FIGURE_MS } from './baselines.ts';
import { childPids, CpuProbe, cpuLine, describeError, log, Report, sleep, summarize } from './measure.ts';
import { spawnKernel } from './kernel-process.ts';
import { graphTrials } from './graph-load.ts';
import { replayFigures } from './replay-bench.ts';

const RATE = Number(process.env.BENCH_UPGRADE_RATE ?? '1000');
const IDLE_UPGRADES = 30;
const LOADED_UPGRADES = 100;
const GAP_MS = 20;

function depSource(patch: number): string {
  const version = `1.0.${patch}`;
  return `export const manifest = { name: 'bench.dep', version: '${version}', description: 'the dependency being upgraded' };
export default async (input) => ({ n: input.n, v: '${version}' });`;
}

const TOP_SOURCE = `export const manifest = { name: 'bench.top', version: '1.0.0', description: 'calls bench.dep', dependencies: { 'bench.dep': '^1.0.0' } };
export default async (input, ctx) => ctx.call('bench.dep', input);`;

interface PacedLoad {
  stop(): Promise<{ issued: number; completed: number; failed: number; errors: Map<string, number>; elapsedMs: number; lat: number[] }>;
  /** Latencies of calls issued from now on go to a fresh list. */
  mark(): number[];
}

/** Open-loop pacing: calls are issued on a schedule of `rate` per second whatever the answers do,
 *  so a commit that stalled the kernel shows as latency, not as a slower load. */
function pacedLoad(client: SubstrateClient, rate: number): PacedLoad {
  const t0 = performance.now();
  let issued = 0;
  let completed = 0;
  let failed = 0;
  const errors = new Map<string, number>();
  let lat: number[] = [];
  const inflight = new Set<Promise<unknown>>();
  const fire = () => {
    const n = issued++;
    const s = performance.now();
    const bucket = lat;
    const p = client.call('capabilities/invoke', { name: 'bench.top', input: { n } }).then(
      (r) => {
        if ((r.output as { n?: number } | null)?.n !== n) throw new Error(`wrong output ${JSON.stringify(r.output)}`);
        completed++;
        bucket.push(performance.now() - s);
      },
    ).catch((e: unknown) => {
      failed++;
      const k = describeError(e).slice(0, 160);
      errors.set(k, (errors.get(k) ?? 0) + 1);
    });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) * rate) / 1000);
    while (issued < due) fire();
  }, 1);
  return {
    mark() {
      lat = [];
      return lat;
    },
    async stop() {
      clearInterval(timer);
      const elapsedMs = performance.now() - t0;
      await Promise.all([...inflight]);
      return { issued, completed, failed, errors, elapsedMs, lat };
    },
  };
}

async function commits(client: SubstrateClient, from: number, count: number, maxMs: number): Promise<{ ms: number[]; next: number; failures: string[] }> {
  const ms: number[] = [];
  const failures: string[] = [];
  const end = performance.now() + maxMs;
  let patch = from;
  for (let i = 0; i < count && performance.now() < end; i++) {
    const s = performance.now();
    try {
      const r = await client.call('capabilities/register', { source: depSource(patch) });
      if (!r.activated) throw new Error(`1.0.${patch} was not activated`);
      ms.push(performance.now() - s);
    } catch (e) {
      failures.push(describeError(e));
    }
    patch++;
    await sleep(GAP_MS);
  }
  return { ms, next: patch, failures };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const report = new Report('upgrade');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'substrate-bench-upgrade-'));
  try {
    log('kernel in its own process (default workers) …');
    const child = await spawnKernel(path.join(tmp, 'kernel'));
    let idle: Awaited<ReturnType<typeof commits>>;
    let loaded: Awaited<ReturnType<typeof commits>>;
    let quietLat: number[];
    let busyLat: number[];
    let load: Awaited<ReturnType<PacedLoad['stop']>>;
    let upgradeCpu = '';
    let lastSeen = '';
    let lastCommitted = '';
    try {
      const { url, token } = child.info;
      const admin = await SubstrateClient.connect(url, { token });
      const loader = await SubstrateClient.connect(url, { token });
      await admin.call('capabilities/register', { source: depSource(0) });
      await admin.call('capabilities/register', { source: TOP_SOURCE });
      for (let i = 0; i < 200; i++) await loader.call('capabilities/invoke', { name: 'bench.top', input: { n: i } });

      log(`idle: ${IDLE_UPGRADES} upgrades of bench.dep, no load …`);
      idle = await commits(admin, 1, IDLE_UPGRADES, 20_000);

      log(`paced load of ${RATE} invocations/s of bench.top (→ bench.dep): warm-up, quiet window, then ${LOADED_UPGRADES} upgrades …`);
      const paced = pacedLoad(loader, RATE);
      await sleep(1000);
      quietLat = paced.mark();
      await sleep(Math.min(FIGURE_MS, 3000));
      busyLat = paced.mark();
      const kpid = child.info.pid;
      const probe = new CpuProbe(() => [['client', process.pid], ['kernel', kpid], ...childPids(kpid).map((p) => [`worker pid ${p}`, p] as [string, number])]);
      probe.begin();
      loaded = await commits(admin, idle.next, LOADED_UPGRADES, Math.max(6000, FIGURE_MS * 2));
      upgradeCpu = cpuLine(probe.end());
      paced.mark();
      await sleep(500);
      load = await paced.stop();
      const last = await loader.call('capabilities/invoke', { name: 'bench.top', input: { n: -1 } });
      lastSeen = (last.output as { v?: string }).v ?? '?';
      lastCommitted = `1.0.${loaded.next - 1}`;
      admin.close();
      loader.close();
    } finally {
      await child.stop();
    }
    const idleS = summarize(idle.ms);
    const loadedS = summarize(loaded.ms);
    const quiet = summarize(quietLat);
    const busy = summarize(busyLat);
    const achieved = (load.completed / load.elapsedMs) * 1000;
    log(`  idle commits: ${idle.ms.length}, p50 ${idleS.p50.toFixed(2)} ms; loaded commits: ${loaded.ms.length}, p50 ${loadedS.p50.toFixed(2)} ms; load: ${load.issued} issued, ${load.completed} ok, ${load.failed} failed`);
    for (const [k, n] of load.errors) log(`  failure ×${n}: ${k}`);

    report.add('commit (one-capability upgrade) under load, p50', loadedS.p50, 'ms', {
      baseline: { label: 'idle kernel p50', value: idleS.p50 },
      target: { text: '≤ 20 ms', met: (v) => v <= 20 },
    });
    report.add('commit under load, p99', loadedS.p99, 'ms', { baseline: { label: 'idle kernel p99', value: idleS.p99 } });
    report.add('commits made under load', loaded.ms.length, 'count');
    report.add('commits refused', idle.failures.length + loaded.failures.length, 'count', { target: { text: '0', met: (v) => v === 0 } });
    report.add('load achieved (bench.top → bench.dep)', achieved, 'calls/s', { baseline: { label: 'paced target', value: RATE } });
    report.add('calls failed while upgrading', load.failed, 'count', { target: { text: '0', met: (v) => v === 0 } });
    report.add('after the last commit, bench.top runs the new bench.dep', lastSeen === lastCommitted ? 1 : 0, 'count', { target: { text: `yes (1): ${lastCommitted}, saw ${lastSeen}`, met: (v) => v === 1 } });
    report.add('invocation p50 during upgrades', busy.p50, 'ms', { baseline: { label: 'same load, no upgrades', value: quiet.p50 } });
    report.add('invocation p99 during upgrades', busy.p99, 'ms', { baseline: { label: 'same load, no upgrades', value: quiet.p99 } });
    if (idle.failures.length + loaded.failures.length) report.note(`first refused commit: ${[...idle.failures, ...loaded.failures][0]}`);
    report.note(
      `a commit = client call capabilities/register of bench.dep 1.0.k (compile, inspect in a sandbox worker, plan, no gate tests, one SQLite transaction, new generation), round trip over WebSocket; ${GAP_MS} ms between commits; the load is open-loop at ${RATE}/s over one other connection; the kernel runs in its own process.`,
    );

    report.note(`CPU (share of one core) while upgrading under load: ${upgradeCpu}.`);

    log('graph: 10,000 capabilities, 30,000 edges …');
    const acyclic = graphTrials(false, 10);
    const cyclic = graphTrials(true, 5);
    const both = summarize(acyclic.both);
    report.add('impact + cycle check, 10k caps / 30k edges, p50', both.p50, 'ms', {
      baseline: { label: 'bare-array BFS + DFS p50', value: summarize(acyclic.raw).p50 },
      target: { text: '≤ 100 ms', met: (v) => v <= 100 },
    });
    report.add('impact + cycle check, max of 10', both.max, 'ms', { target: { text: '≤ 100 ms', met: (v) => v <= 100 } });
    report.add('  of which findCycle (acyclic), p50', summarize(acyclic.cycle).p50, 'ms');
    report.add('  of which dependents(root), p50', summarize(acyclic.impact).p50, 'ms');
    report.add('  findCycle again, resolutions cached, p50', summarize(acyclic.cycleAgain).p50, 'ms');
    report.add('  10,000 semver Range.test (the resolution floor), p50', summarize(acyclic.semverTests).p50, 'ms');
    report.add('new Graph(10k versions), p50', summarize(acyclic.build).p50, 'ms');
    report.add('impact + cycle check, graph with a cycle, p50', summarize(cyclic.both).p50, 'ms', {
      baseline: { label: 'bare arrays p50', value: summarize(cyclic.raw).p50 },
      target: { text: '≤ 100 ms', met: (v) => v <= 100 },
    });
    report.note(
      `generated DAG: ${acyclic.edges} edges (node i depends on 3 random nodes below it, range ^1.0.0; seeded); impact = dependents of the root g.n0: ${acyclic.dependents} transitive dependents; each trial on a fresh Graph, so the lazily built resolutions and reverse index are paid inside the timed calls. The cyclic variant adds g.n0 → g.n9999 (cycle of ${cyclic.cycleFound ? cyclic.cycleFound.length - 1 : 0} names found).`,
    );

    const rp = await replayFigures(tmp);
    report.add(`replay of ${rp.records} records (apply dry run), per record`, rp.perRecordMs, 'ms', {
      baseline: { label: 'one plain invoke p50, same kernel', value: rp.invokeP50Ms },
    });
    report.add(`replay of ${rp.records} records, whole apply`, rp.totalMs, 'ms');
    report.note(
      `replay: each record runs twice (the candidate, and the current version as the noise filter) in the sandbox with its state read served from the record, gateConcurrency 4 records at a time, in an in-process kernel with default workers; counts same ${rp.counts.same}, changed ${rp.counts.changed}, unstable ${rp.counts.unstable}, unreplayable ${rp.counts.unreplayable}, skipped ${rp.counts.skipped}. The baseline is kernel.invoke of the same capability (one run, live state, commit), p50 of 900.`,
    );
    report.finish();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
