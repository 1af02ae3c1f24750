// The rollout controller (docs/evaluation.md, "Rollouts"): capabilities/rollout, rollouts/get,
// rollouts/abort, rollouts/promote. A rollout is a small state machine,
//
//   running(step i) ──pass, next < 100──► running(step i+1)
//        │  ├─pass, next = 100, or promote──► promoted   (the canary is current)
//        │  ├─inconclusive, extended < 3 ──► running(step i), window grows by stepS
//        └──┴─fail, 3rd inconclusive, abort► aborted    (all traffic on the baseline)
//
// and every transition that changes the traffic split is one journaled generation written with the
// rollout's row in one SQLite transaction (commit-pipeline.ts commitRollout), so the stored split and
// the stored generation never disagree. Transitions of one rollout run one at a time (`chain`).
//
// Restart: a running rollout resumes. The generation loads its split from the store
// (generation.ts), and resume() restarts the step in progress from the beginning: the calls before
// the stop are not in any window (samples are kept in memory), so the step gets a full stepS of new
// ones. Traffic is never split without a controller: both come up in Kernel.open.
//
// Calls are never failed by this: a step, an abort or a promotion installs a new generation; calls
// pinned to the one before finish on it (guarantee 5).

import type { EventEmitter } from 'node:events';
import { nanoid } from 'nanoid';
import { fail } from '../capabilities/errors.ts';
import { ROLLOUT_DEFAULTS, type RolloutVerdict, type VerdictCheck, type VersionWindow } from '../capabilities/evaluation.ts';
import { assertName } from '../capabilities/names.ts';
import type { Principal } from '../capabilities/types.ts';
import type { ROLLOUT_EVENT_TYPES } from '../capabilities/protocol/constants.ts';
import type { RolloutRow } from '../store/rollouts.ts';
import type { StoreApi } from '../store/types.ts';
import type { ChangeSummary, GateResult, RolloutEvent, RolloutInfo, RolloutParams, RolloutsGetResult } from './api.ts';
import type { CommitPipeline } from './commit-pipeline.ts';
import { throwIfGatesFailed } from './gates.ts';
import { throwIfReplayFailed } from './replay.ts';
import type { Generation } from './generation.ts';
import type { Preparation } from './prepare.ts';
import type { RolloutSamples, WindowSource } from './rollout-samples.ts';

/** Inconclusive verdicts (too few calls) that extend a step before the rollout aborts. */
export const MAX_EXTENSIONS = 3;
/** p99s below this count as this (ms): under it the ratio measures scheduling noise. */
export const P99_FLOOR_MS = 10;
/** Rounds of gates a promotion or a first step may need when other changesets commit meanwhile. */
const GATE_ROUNDS = 3;
/** rollouts/get answers at most this many. */
const LIST_LIMIT = 20;

interface Active {
  row: RolloutRow;
  /** Where the current step's window begins (its start, or the kernel's start after a restart). */
  windowStart: number;
  timer: NodeJS.Timeout | undefined;
  /** Transitions run one at a time. */
  chain: Promise<unknown>;
}

export interface RolloutDeps {
  store: StoreApi;
  gen: Generation;
  pipeline: CommitPipeline;
  prep: Preparation;
  events: EventEmitter;
  samples: RolloutSamples;
  /** What the verdict compares: kernel.metrics, or `samples` when metrics are off. */
  windows: WindowSource;
  now?: () => number;
}

export class Rollouts {
  private readonly active = new Map<string, Active>();
  /** Names whose rollout is being gated (refused to other changes already). */
  private readonly starting = new Set<string>();
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly d: RolloutDeps) {
    this.now = d.now ?? Date.now;
    d.pipeline.guard = (names) => this.guard(names);
  }

  /** Picks up the running rollouts of the store (kernel start): each resumes its step anew. */
  resume(): void {
    for (const row of this.d.store.rollouts.running()) this.track(row, this.now());
  }

  stop(): void {
    this.stopped = true;
    for (const a of this.active.values()) clearTimeout(a.timer);
  }

  /** ROLLOUT_ACTIVE for any of `names` with a rollout running or starting. */
  guard(names: readonly string[]): void {
    for (const name of names) {
      const a = this.active.get(name);
      if (a) {
        const w = a.row.steps[a.row.step];
        throw fail('ROLLOUT_ACTIVE', `a rollout of ${name} ${a.row.version} is running (step ${a.row.step + 1}, ${w}%); abort or promote it first (rollouts/abort, rollouts/promote)`, {
          name,
          rollout: a.row.id,
          version: a.row.version,
          step: a.row.step,
          weight: w,
        });
      }
      if (this.starting.has(name)) throw fail('ROLLOUT_ACTIVE', `a rollout of ${name} is starting; abort it or wait`, { name });
    }
  }

  async start(principal: Principal, params: RolloutParams): Promise<RolloutInfo> {
    assertName(params.name);
    this.d.prep.checkOwner(principal, params.name);
    this.guard([params.name]);
    const steps = normalizeSteps(params.steps ?? [...ROLLOUT_DEFAULTS.steps]);
    this.starting.add(params.name);
    try {
      if (params.source !== undefined) {
        const reg = await this.d.pipeline.register(principal, { source: params.source, manifest: params.manifest, language: params.language, activate: false });
        if (reg.name !== params.name || reg.version !== params.version) {
          throw fail('INVALID_INPUT', `the source is ${reg.name} ${reg.version}, not ${params.name} ${params.version}`, { name: reg.name, version: reg.version });
        }
      }
      const name = params.name;
      for (let round = 0; ; round++) {
        const gatedOn = this.d.gen.graph;
        const baseline = gatedOn.current(name);
        if (!baseline) throw fail('NOT_FOUND', `'${name}' has no current version to compare a canary with; activate one first`, { name });
        const canary = gatedOn.find(name, params.version);
        if (!canary) throw fail('NOT_FOUND', `no version ${params.version} of '${name}' (register it, or pass source)`, { name, version: params.version });
        if (canary.hash === baseline.hash) throw fail('INVALID_INPUT', `${name} ${params.version} is the current version already`, { name, version: params.version });
        if (this.d.gen.recordOf(canary.hash).hasMigrate) {
          throw fail('INVALID_INPUT', `${name} ${params.version} has a migrate(): it cannot share traffic with ${baseline.version} (activate it instead)`, { name, version: params.version });
        }
        const gates = await this.gate(principal, name, params.version, params.replay);
        const id = `ro_${nanoid(10)}`;
        const at = this.now();
        const rowAt = (generation: number): RolloutRow => ({
          id,
          name,
          version: canary.version,
          hash: canary.hash,
          baseline: baseline.version,
          baselineHash: baseline.hash,
          status: 'running',
          steps,
          stepS: params.stepS ?? ROLLOUT_DEFAULTS.stepS,
          minCalls: params.minCalls ?? ROLLOUT_DEFAULTS.minCalls,
          maxErrorRateDelta: params.maxErrorRateDelta ?? ROLLOUT_DEFAULTS.maxErrorRateDelta,
          maxP99Ratio: params.maxP99Ratio ?? ROLLOUT_DEFAULTS.maxP99Ratio,
          step: 0,
          history: [{ step: 0, weight: steps[0], generation, startedAt: at, endedAt: null, extensions: 0, verdict: null }],
          principal: principal.name,
          principalId: principal.id,
          startedAt: at,
          endedAt: null,
          reason: null,
        });
        let row: RolloutRow | undefined;
        const generation = await this.d.pipeline.commitRollout({
          principal,
          changes: [stepChange(rowAt(0), null)],
          gates,
          row: (g) => (row = rowAt(g)),
          gatedOn,
        });
        if (generation === 'stale' || !row) {
          if (round + 1 >= GATE_ROUNDS) throw fail('OVERLOADED', `the graph changed under this rollout ${GATE_ROUNDS} times while its gates ran; try again`, { limit: 'gateRounds', max: GATE_ROUNDS });
          continue;
        }
        this.track(row, at);
        this.emit('rollout.step', row, null);
        return this.info(row);
      }
    } finally {
      this.starting.delete(params.name);
    }
  }

  get(name?: string): RolloutsGetResult {
    return { items: this.d.store.rollouts.list(name, LIST_LIMIT).map((r) => this.info(this.active.get(r.name)?.row.id === r.id ? this.active.get(r.name)!.row : r)) };
  }

  async abort(principal: Principal, name: string): Promise<RolloutInfo> {
    const a = this.running(principal, name);
    return this.transition(a, async () => this.info(await this.end(a, principal, 'aborted', null, `aborted by ${principal.name}`)));
  }

  async promote(principal: Principal, name: string): Promise<RolloutInfo> {
    const a = this.running(principal, name);
    return this.transition(a, async () => this.info(await this.promoteNow(a, principal, null, `promoted by ${principal.name}`)));
  }

  // ---------------------------------------------------------------- the state machine

  private running(principal: Principal, name: string): Active {
    assertName(name);
    this.d.prep.checkOwner(principal, name);
    const a = this.active.get(name);
    if (!a) throw fail('NOT_FOUND', `no rollout of '${name}' is running`, { name });
    return a;
  }

  private track(row: RolloutRow, windowStart: number): void {
    const a: Active = { row, windowStart, timer: undefined, chain: Promise.resolve() };
    this.active.set(row.name, a);
    this.d.samples.watch(row.hash, row.name, row.version);
    this.d.samples.watch(row.baselineHash, row.name, row.baseline);
    this.schedule(a);
  }

  private schedule(a: Active): void {
    clearTimeout(a.timer);
    if (this.stopped) return;
    a.timer = setTimeout(() => void this.transition(a, () => this.judgeStep(a)).catch((e: unknown) => this.failed(a, e)), a.row.stepS * 1000);
    a.timer.unref();
  }

  /** Runs transitions of one rollout one at a time; a rollout that ended meanwhile is left alone. */
  private transition<T>(a: Active, fn: () => Promise<T>): Promise<T> {
    const run = a.chain.then(() => {
      if (this.active.get(a.row.name) !== a) throw fail('NOT_FOUND', `no rollout of '${a.row.name}' is running`, { name: a.row.name });
      return fn();
    });
    a.chain = run.catch(() => undefined);
    return run;
  }

  /** A timer's transition failed (e.g. the store): try again at the next step's end. */
  private failed(a: Active, e: unknown): void {
    if (this.active.get(a.row.name) !== a || this.stopped) return;
    process.stderr.write(`substrate: rollout ${a.row.id} of ${a.row.name}: ${e instanceof Error ? e.message : String(e)}\n`);
    this.schedule(a);
  }

  private async judgeStep(a: Active): Promise<void> {
    const row = a.row;
    const until = this.now();
    const verdict = judge(row, this.d.windows.window(row.hash, a.windowStart, until), this.d.windows.window(row.baselineHash, a.windowStart, until), (until - a.windowStart) / 1000);
    const cur = row.history[row.history.length - 1];
    if (verdict.verdict === 'fail') {
      await this.end(a, principalOf(row), 'aborted', verdict, verdict.reasons.join('; '));
    } else if (verdict.verdict === 'inconclusive') {
      if (cur.extensions >= MAX_EXTENSIONS) {
        await this.end(a, principalOf(row), 'aborted', verdict, `inconclusive after ${MAX_EXTENSIONS} extensions: ${verdict.reasons.join('; ')}`);
        return;
      }
      // Not a change of the split: the row is updated without a generation.
      a.row = { ...row, history: [...row.history.slice(0, -1), { ...cur, extensions: cur.extensions + 1, verdict }] };
      this.d.store.rollouts.put(a.row);
      this.schedule(a);
    } else if (row.steps[row.step + 1] === 100 || row.step + 1 >= row.steps.length) {
      await this.promoteNow(a, principalOf(row), verdict, 'every step passed');
    } else {
      const at = this.now();
      const next = row.step + 1;
      let stored: RolloutRow | undefined;
      const rowAt = (generation: number): RolloutRow => ({
        ...row,
        step: next,
        history: [...row.history.slice(0, -1), { ...cur, endedAt: at, verdict }, { step: next, weight: row.steps[next], generation, startedAt: at, endedAt: null, extensions: 0, verdict: null }],
      });
      await this.d.pipeline.commitRollout({ principal: principalOf(row), changes: [stepChange(rowAt(0), verdict)], gates: [], row: (g) => (stored = rowAt(g)), });
      a.row = stored!;
      a.windowStart = at;
      this.emit('rollout.step', a.row, verdict);
      this.schedule(a);
    }
  }

  /** The canary becomes current, gated again on the graph of now (other names may have changed). */
  private async promoteNow(a: Active, principal: Principal, verdict: RolloutVerdict | null, reason: string): Promise<RolloutRow> {
    const row = a.row;
    for (let round = 0; round < GATE_ROUNDS; round++) {
      const gatedOn = this.d.gen.graph;
      let gates: GateResult[];
      try {
        gates = await this.gate(principal, row.name, row.version);
      } catch (e) {
        // The canary no longer passes its gates on the current graph: it never becomes current.
        return this.end(a, principal, 'aborted', verdict, `promotion refused: ${e instanceof Error ? e.message : String(e)}`);
      }
      const ended = this.ended(row, 'promoted', verdict, reason);
      const change: ChangeSummary = {
        op: 'activate',
        name: row.name,
        version: row.version,
        hash: row.hash,
        previous: row.baseline,
        activated: true,
        rollout: { id: row.id, step: row.step, weight: 100, status: 'promoted', verdict },
      };
      const generation = await this.d.pipeline.commitRollout({
        principal,
        changes: [change],
        gates,
        row: () => ended,
        planned: [{ op: 'activate', name: row.name, version: row.version }],
        gatedOn,
      });
      if (generation === 'stale') continue;
      this.untrack(a);
      this.emit('rollout.promoted', ended, verdict, generation);
      return ended;
    }
    return this.end(a, principal, 'aborted', verdict, `promotion refused: the graph changed ${GATE_ROUNDS} times while its gates ran`);
  }

  /** All traffic back to the baseline: a generation without this canary. */
  private async end(a: Active, principal: Principal, status: 'aborted', verdict: RolloutVerdict | null, reason: string): Promise<RolloutRow> {
    const ended = this.ended(a.row, status, verdict, reason);
    const change = stepChange(ended, verdict);
    const generation = await this.d.pipeline.commitRollout({ principal, changes: [change], gates: [], row: () => ended });
    this.untrack(a);
    this.emit('rollout.aborted', ended, verdict, generation === 'stale' ? undefined : generation);
    return ended;
  }

  private ended(row: RolloutRow, status: 'promoted' | 'aborted', verdict: RolloutVerdict | null, reason: string): RolloutRow {
    const at = this.now();
    const cur = row.history[row.history.length - 1];
    return { ...row, status, endedAt: at, reason, history: [...row.history.slice(0, -1), { ...cur, endedAt: at, verdict: verdict ?? cur.verdict }] };
  }

  private untrack(a: Active): void {
    clearTimeout(a.timer);
    this.active.delete(a.row.name);
    this.d.samples.unwatch(a.row.hash);
    this.d.samples.unwatch(a.row.baselineHash);
  }

  /** The gates of an activate of `version` (commit-pipeline's dry run); GATE_FAILED when one fails. */
  /** The gates of an activate of the canary (and its replay when asked), tried as a dry run. A
   *  dry run reports replay without refusing, so the refusal is made here. */
  private async gate(principal: Principal, name: string, version: string, replay?: RolloutParams['replay']): Promise<GateResult[]> {
    const dry = await this.d.pipeline.apply(principal, { changes: [{ op: 'activate', name, version }], dryRun: true, ...(replay ? { replay } : {}) });
    throwIfGatesFailed(dry.gates, false, 0);
    if (replay && dry.replay) throwIfReplayFailed(dry.replay, replay.maxChanged);
    return dry.gates;
  }

  private emit(type: (typeof ROLLOUT_EVENT_TYPES)[number], row: RolloutRow, verdict: RolloutVerdict | null, generation = this.d.gen.generation): void {
    const ev: RolloutEvent = {
      type,
      generation,
      id: row.id,
      name: row.name,
      version: row.version,
      baseline: row.baseline,
      step: row.step,
      weight: weightOf(row),
      verdict,
      principal: row.principal,
      at: new Date(this.now()).toISOString(),
    };
    this.d.events.emit('event', ev);
  }

  private info(row: RolloutRow): RolloutInfo {
    const a = this.active.get(row.name);
    const live = a && a.row.id === row.id ? a : undefined;
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    const view = (w: VersionWindow, version: string) => ({ version, calls: w.calls, errors: w.errors, errorRate: rate(w), p99: w.p99 });
    let next: string;
    if (row.status === 'promoted') next = `${row.version} is current; nothing to do`;
    else if (row.status === 'aborted') next = `all traffic is on ${row.baseline}; read the verdict's reasons, fix ${row.name} and roll out a new version`;
    else {
      const left = live ? Math.max(0, Math.round(live.windowStart / 1000 + row.stepS - this.now() / 1000)) : row.stepS;
      next = `step ${row.step + 1} of ${row.steps.length} (${row.steps[row.step]}%): verdict in about ${left}s; rollouts/abort or rollouts/promote to decide now`;
    }
    return {
      id: row.id,
      name: row.name,
      version: row.version,
      baseline: row.baseline,
      status: row.status,
      step: row.step,
      weight: weightOf(row),
      steps: row.steps,
      stepS: row.stepS,
      minCalls: row.minCalls,
      maxErrorRateDelta: row.maxErrorRateDelta,
      maxP99Ratio: row.maxP99Ratio,
      history: row.history.map((h) => ({ ...h, startedAt: iso(h.startedAt)!, endedAt: iso(h.endedAt) })),
      principal: row.principal,
      startedAt: iso(row.startedAt)!,
      endedAt: iso(row.endedAt),
      reason: row.reason,
      live: live
        ? {
            canary: view(this.d.windows.window(row.hash, live.windowStart), row.version),
            baseline: view(this.d.windows.window(row.baselineHash, live.windowStart), row.baseline),
            windowS: Math.round((this.now() - live.windowStart) / 100) / 10,
          }
        : null,
      next,
    };
  }
}

// ---------------------------------------------------------------- pure parts

/** Steps strictly increasing in (0, 100], ending with 100 (appended when missing). */
export function normalizeSteps(steps: readonly number[]): number[] {
  const out = [...steps];
  if (out.at(-1) !== 100) out.push(100);
  for (let i = 0; i < out.length; i++) {
    if (!(out[i] > 0 && out[i] <= 100) || (i > 0 && out[i] <= out[i - 1])) {
      throw fail('INVALID_INPUT', `rollout steps must be increasing percentages in (0, 100]; got ${JSON.stringify(steps)}`, { steps: [...steps] });
    }
  }
  if (out.length < 2) throw fail('INVALID_INPUT', 'a rollout needs a step below 100 (100 makes the canary current)', { steps: [...steps] });
  return out;
}

function rate(w: VersionWindow): number {
  return w.calls === 0 ? 0 : w.errors / w.calls;
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

/** The verdict of one step: too few calls of either version is inconclusive, else every check must
 *  pass. The p99s are floored at P99_FLOOR_MS before their ratio is taken. */
export function judge(row: Pick<RolloutRow, 'step' | 'steps' | 'minCalls' | 'maxErrorRateDelta' | 'maxP99Ratio'>, canary: VersionWindow, baseline: VersionWindow, windowS: number): RolloutVerdict {
  const checks: VerdictCheck[] = [];
  const reasons: string[] = [];
  const enough = canary.calls >= row.minCalls && baseline.calls >= row.minCalls;
  checks.push({ id: 'minCalls', canary: canary.calls, baseline: baseline.calls, threshold: row.minCalls, ok: enough });
  if (!enough) reasons.push(`too few calls to judge: canary ${canary.calls}, current ${baseline.calls}, each needs ${row.minCalls}`);
  const delta = rate(canary) - rate(baseline);
  const errOk = delta <= row.maxErrorRateDelta;
  checks.push({ id: 'errorRateDelta', canary: round4(rate(canary)), baseline: round4(rate(baseline)), threshold: row.maxErrorRateDelta, ok: errOk });
  if (!errOk) reasons.push(`error rate ${pct(rate(canary))} vs ${pct(rate(baseline))}: +${pct(delta)} > ${pct(row.maxErrorRateDelta)}`);
  const ratio = Math.max(canary.p99, P99_FLOOR_MS) / Math.max(baseline.p99, P99_FLOOR_MS);
  const p99Ok = ratio <= row.maxP99Ratio;
  checks.push({ id: 'p99Ratio', canary: round4(canary.p99), baseline: round4(baseline.p99), threshold: row.maxP99Ratio, ok: p99Ok });
  if (!p99Ok) reasons.push(`p99 ${canary.p99.toFixed(1)} ms vs ${baseline.p99.toFixed(1)} ms: ratio ${ratio.toFixed(2)} > ${row.maxP99Ratio}`);
  // Enough calls decide; with too few, a failing check is not evidence yet.
  const verdict = !enough ? 'inconclusive' : errOk && p99Ok ? 'pass' : 'fail';
  return { verdict, step: row.step, weight: row.steps[row.step], windowS: Math.round(windowS * 10) / 10, checks, reasons };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function weightOf(row: RolloutRow): number {
  return row.status === 'promoted' ? 100 : row.status === 'aborted' ? 0 : row.steps[row.step];
}

function principalOf(row: RolloutRow): Principal {
  // Automatic transitions are journaled under the principal that started the rollout.
  return { id: row.principalId, name: row.principal, role: 'operator' };
}

/** The journal's change for a step or an abort (the promotion is an activate, see promoteNow). */
function stepChange(row: RolloutRow, verdict: RolloutVerdict | null): ChangeSummary {
  return {
    op: 'rollout',
    name: row.name,
    version: row.version,
    hash: row.hash,
    previous: row.baseline,
    activated: false,
    rollout: { id: row.id, step: row.step, weight: weightOf(row), status: row.status, verdict },
  };
}
