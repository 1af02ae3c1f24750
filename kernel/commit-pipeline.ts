// The commit pipeline: register, apply, rollback and remove as one path — prepare (prepare.ts)
// → plan → gates (gates.ts) outside the lock → under the lock: re-validate, migrate, commit to
// the store, install the new generation (generation.ts) → announce events.
//
// Invariants: changesets commit one at a time (serialize) but gate concurrently; a changeset
// commits only when every gate its plan needs, on the graph it commits onto, has passed (a result
// is reused across rounds only when its gateKey is unchanged); the store commit, the new current
// pointers and the migrations' state writes are one SQLite transaction, so a crash leaves the old
// generation or the new one, never a mixture. Invocations never wait for the lock.

import type { EventEmitter } from 'node:events';
import { nanoid } from 'nanoid';
import { exceeded, fail } from '../capabilities/errors.ts';
import { planChangeset, selectGateTests, type Plan, type PlannedChange } from '../capabilities/changeset.ts';
import type { Graph } from '../capabilities/graph.ts';
import { assertName } from '../capabilities/names.ts';
import { previousVersion, type JournalChange } from '../capabilities/previous-version.ts';
import type { TxnRecord } from '../capabilities/run-types.ts';
import type { Json, Principal, VersionRecord } from '../capabilities/types.ts';
import { KERNEL_LIMITS } from '../capabilities/types.ts';
import type { StoreApi } from '../store/types.ts';
import type { RolloutRow } from '../store/rollouts.ts';
import { splitOf } from '../store/rollouts.ts';
import type { SandboxPool } from '../sandbox/pool.ts';
import { checkTxnRows } from '../sandbox/transaction.ts';
import type { COMMIT_EVENT_TYPES } from '../capabilities/protocol/constants.ts';
import type {
  ApplyParams,
  ApplyResult,
  ChangeParams,
  ChangeSummary,
  GateResult,
  KernelEvent,
  ProgressFn,
  RegisterParams,
  RegisterResult,
  RollbackParams,
  RollbackResult,
} from './api.ts';
import { gateKey, MAX_GATE_ROUNDS, runGates, throwIfGatesFailed } from './gates.ts';
import { replayKey, replaySamples, replayTargets, runReplay, throwIfReplayFailed, type ReplayOptions } from './replay.ts';
import type { CallRecord, ReplaySummary } from '../capabilities/evaluation.ts';
import type { Generation } from './generation.ts';
import type { GrantRules } from './grants.ts';
import type { Preparation, PreparedVersion } from './prepare.ts';

/** Journal entries read per page when looking for the version before the current one. */
const HISTORY_PAGE = 200;

export interface PipelineOptions {
  gateConcurrency: number;
  gateBudgetMs: number;
  /** Time all replays of one changeset may take (replay.ts); replays run gateConcurrency at once. */
  replayBudgetMs: number;
  /** The newest records of a version, newest first (kernel.records), for replay. */
  records: (hash: string, limit: number) => CallRecord[];
}

export class CommitPipeline {
  /** Changesets commit one at a time (migrations and the store commit, not gates). */
  private changeQueue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: StoreApi,
    private readonly pool: SandboxPool,
    private readonly gen: Generation,
    private readonly grants: GrantRules,
    private readonly prep: Preparation,
    private readonly events: EventEmitter,
    private readonly opts: PipelineOptions,
  ) {}

  /** Set by the rollout controller (rollouts.ts): throws ROLLOUT_ACTIVE for a name whose current
   *  version a rollout is changing. Checked before the gates and again under the lock. */
  guard: (names: readonly string[]) => void = () => undefined;

  async register(principal: Principal, params: RegisterParams, onProgress?: ProgressFn): Promise<RegisterResult> {
    const change: ChangeParams = { op: 'register', source: params.source, manifest: params.manifest, language: params.language, activate: params.activate };
    const { prepared, planned } = await this.prep.prepare(principal, [change], 'register');
    const p = prepared[0];
    const res = await this.applyPrepared(principal, planned, prepared, false, onProgress);
    return {
      name: p.record.name,
      version: p.record.version,
      hash: p.record.hash,
      activated: this.gen.graph.current(p.record.name)?.hash === p.record.hash,
      generation: res.generation,
      gates: res.gates,
    };
  }

  async apply(principal: Principal, params: ApplyParams, onProgress?: ProgressFn): Promise<ApplyResult> {
    if (!Array.isArray(params.changes) || params.changes.length === 0) {
      throw fail('INVALID_MANIFEST', 'a changeset needs at least one change', { changes: 0 });
    }
    const { prepared, planned } = await this.prep.prepare(principal, params.changes, 'apply');
    return this.applyPrepared(principal, planned, prepared, params.dryRun === true, onProgress, false, params.replay);
  }

  async rollback(principal: Principal, params: RollbackParams, onProgress?: ProgressFn): Promise<RollbackResult> {
    assertName(params.name);
    this.prep.checkOwner(principal, params.name);
    this.guard([params.name]);
    const cur = this.gen.graph.current(params.name);
    const target = params.to !== undefined ? params.to : previousVersion(this.journalChanges(params.name), params.name, cur?.version ?? null);
    if (target === undefined) {
      throw fail('NOT_FOUND', `'${params.name}' has no earlier version to roll back to`, { name: params.name });
    }
    if (!this.gen.graph.find(params.name, target)) {
      throw fail('NOT_FOUND', `no version ${target} of '${params.name}'`, { name: params.name, version: target });
    }
    const planned: PlannedChange[] = [{ op: 'activate', name: params.name, version: target }];
    const res = await this.applyPrepared(principal, planned, [], false, onProgress, true);
    return { name: params.name, version: target, generation: res.generation };
  }

  async remove(principal: Principal, name: string): Promise<{ name: string; generation: number }> {
    assertName(name);
    this.prep.checkOwner(principal, name);
    const res = await this.applyPrepared(principal, [{ op: 'remove', name }], [], false, undefined);
    return { name, generation: res.generation };
  }

  /** The journal's change summaries touching `name`, newest first, read a page at a time. */
  private *journalChanges(name: string): Generator<JournalChange[]> {
    let cursor: number | undefined;
    for (;;) {
      const rows = this.store.history({ name, limit: HISTORY_PAGE, before: cursor });
      for (const row of rows) yield row.changes;
      if (rows.length < HISTORY_PAGE) return;
      cursor = rows[rows.length - 1].seq;
    }
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.changeQueue.then(fn, fn);
    this.changeQueue = run.catch(() => undefined);
    return run;
  }

  /** Plans and gates outside the commit lock, then re-validates, migrates and commits under it
   *  (serialize). When another changeset committed meanwhile, the plan is made again on the new
   *  graph; gate results whose test and resolved versions are unchanged are reused (gates.ts
   *  gateKey), the others run again outside the lock. So one changeset's long gates never hold up
   *  another's commit (docs/upgrades.md, "Concurrent changesets"). */
  private async applyPrepared(
    principal: Principal,
    planned: PlannedChange[],
    prepared: PreparedVersion[],
    dryRun: boolean,
    onProgress: ProgressFn | undefined,
    rollback = false,
    replay?: ReplayOptions,
  ): Promise<ApplyResult> {
    // Changes that would move a current pointer (an upload without activate moves none).
    const moving = planned.filter((c) => c.op !== 'register' || c.activate).map((c) => (c.op === 'register' ? c.version.name : c.name));
    if (!dryRun) this.guard(moving);
    // Not stored yet (another changeset in flight may have prepared the same version: each holds it).
    const fresh = [...new Map(prepared.filter((p) => !this.store.getVersion(p.record.hash)).map((p) => [p.record.hash, p.record])).values()];
    this.gen.hold(fresh);
    const budget = { end: Date.now() + this.opts.gateBudgetMs, ms: this.opts.gateBudgetMs };
    const reuse = new Map<string, GateResult>();
    const manifestOf = (h: string) => this.gen.manifestOf(h);
    // Replay (replay.ts): its own budget, from its first round; summaries reused by replayKey.
    let replayBudget: { end: number; ms: number } | undefined;
    const replayReuse = new Map<string, ReplaySummary>();
    const replayOf = async (current: Graph, plan: Plan): Promise<ReplaySummary[]> => {
      replayBudget ??= { end: Date.now() + this.opts.replayBudgetMs, ms: this.opts.replayBudgetMs };
      const r = await runReplay({
        pool: this.pool,
        current,
        candidate: plan.candidate,
        targets: replayTargets(current, plan),
        records: this.opts.records,
        options: replay ?? {},
        generation: this.gen.generation,
        concurrency: this.opts.gateConcurrency,
        manifestOf,
        budget: replayBudget,
        reuse: replayReuse,
        onProgress,
      });
      r.keys.forEach((k, i) => replayReuse.set(k, r.summaries[i]));
      return r.summaries;
    };
    const withReplay = (summaries: ReplaySummary[] | undefined) => (summaries ? { replay: summaries } : {});
    try {
      for (let round = 0; ; round++) {
        const gated = this.gen.graph;
        const plan0 = planChangeset(gated, planned);
        const unstored0 = fresh.filter((r) => !this.store.getVersion(r.hash));
        if (plan0.setCurrent.length === 0 && unstored0.length === 0 && !dryRun) {
          return { generation: this.gen.generation, dryRun: false, changes: summarize(gated, plan0, planned), touched: plan0.touched, gates: [], ...withReplay(replay && []) };
        }
        const tests0 = selectGateTests(plan0, manifestOf);
        const run = await runGates({
          pool: this.pool,
          candidate: plan0.candidate,
          tests: tests0,
          generation: this.gen.generation + 1,
          concurrency: this.opts.gateConcurrency,
          dryRun,
          onProgress,
          timeoutOf: (h) => manifestOf(h).limits.timeoutMs,
          manifestOf,
          budget,
          reuse,
        });
        tests0.forEach((t, i) => run.results[i].passed && reuse.set(gateKey(plan0.candidate, t), run.results[i]));
        if (!dryRun) throwIfGatesFailed(run.results, run.overBudget, budget.ms);
        // After the gates pass (a dry run replays whatever they said), outside the lock like them.
        const replayed = replay ? await replayOf(gated, plan0) : undefined;
        if (dryRun) {
          return { generation: this.gen.generation, dryRun: true, changes: summarize(gated, plan0, planned), touched: plan0.touched, gates: run.results, ...withReplay(replayed) };
        }
        if (replayed) throwIfReplayFailed(replayed, replay?.maxChanged);
        const committed = await this.serialize(async (): Promise<ApplyResult | null> => {
          const before = this.gen.graph;
          this.guard(moving);
          let plan = plan0;
          let gates = run.results;
          let replays = replayed;
          if (before !== gated) {
            // Re-validate against the graph it would now produce: every gate it needs has passed,
            // every replay it needs has run (and passed maxChanged, checked when it ran).
            plan = planChangeset(before, planned);
            const tests = selectGateTests(plan, manifestOf);
            const reused = tests.map((t) => reuse.get(gateKey(plan.candidate, t)));
            if (reused.some((g) => g === undefined)) return null;
            gates = reused as GateResult[];
            if (replay && replayed) {
              const again = replayTargets(before, plan).map((t) => replayReuse.get(replayKey(before, plan.candidate, t, replaySamples(replay))));
              if (again.some((r) => r === undefined)) return null;
              replays = again as ReplaySummary[];
            }
          }
          const newVersions = this.prep.recheckNew(principal, fresh);
          const summaries = summarize(before, plan, planned);
          if (plan.setCurrent.length === 0 && newVersions.length === 0) {
            return { generation: this.gen.generation, dryRun: false, changes: summaries, touched: plan.touched, gates, ...withReplay(replays) };
          }
          for (let attempt = 0; ; attempt++) {
            const state = await this.runMigrations(before, plan, principal, onProgress);
            if (state) checkTxnRows(state.writes.length);
            onProgress?.({ phase: 'commit', done: 0, total: 1 });
            const generation = this.store.commit({
              principal,
              newVersions,
              setCurrent: plan.setCurrent,
              bumpGeneration: plan.setCurrent.length > 0,
              changes: summaries,
              gates,
              state,
            });
            // Not passed yet (one kernel per store until issue 17's adoption lands).
            if (generation === 'stale') throw fail('STATE_CONFLICT', 'the stored generation moved under this changeset', {});
            if (generation === 'conflict') {
              if (attempt >= KERNEL_LIMITS.maxConflictReruns) {
                throw fail('STATE_CONFLICT', 'migrations kept conflicting with concurrent invocations', { reruns: attempt });
              }
              continue;
            }
            // Superseded versions: disposed by the workers once the calls pinned to them drain.
            const retired = this.gen.install(plan.candidate, generation);
            if (retired.length) this.pool.retire(retired);
            this.announce(principal, summaries, generation, rollback);
            return { generation, dryRun: false, changes: summaries, touched: plan.touched, gates, ...withReplay(replays) };
          }
        });
        if (committed) return committed;
        if (round + 1 >= MAX_GATE_ROUNDS) {
          throw exceeded('work', `the graph changed under this changeset ${MAX_GATE_ROUNDS} times while its gates ran; try again`, { limit: 'gateRounds', max: MAX_GATE_ROUNDS });
        }
      }
    } finally {
      this.gen.release(fresh);
    }
  }

  /** A rollout's own commit (kernel/rollouts.ts), under the lock: a step, its promotion (`planned`:
   *  the activate of the canary, gated by the caller on `gatedOn`) or its abort, as one journaled
   *  generation with the rollout's row (`row` of the new generation); the new traffic split is
   *  what the stored running rollouts say after it. 'stale' when the graph changed since `gatedOn`
   *  (the caller gates again). No migrations: a rollout never has any. */
  commitRollout(input: {
    principal: Principal;
    changes: ChangeSummary[];
    gates: GateResult[];
    row: (generation: number) => RolloutRow;
    planned?: PlannedChange[];
    gatedOn?: Graph;
  }): Promise<number | 'stale'> {
    return this.serialize(async () => {
      const before = this.gen.graph;
      if (input.gatedOn && input.gatedOn !== before) return 'stale';
      const plan = input.planned ? planChangeset(before, input.planned) : undefined;
      const generation = this.store.commit({
        principal: input.principal,
        newVersions: [],
        setCurrent: plan?.setCurrent ?? [],
        bumpGeneration: true,
        changes: input.changes,
        gates: input.gates,
        // Commits are serialized here, so the generation it gets is the next one.
        rollout: input.row(this.store.generation() + 1),
      });
      if (generation === 'conflict' || generation === 'stale') throw fail('STATE_CONFLICT', 'a rollout commit without state cannot conflict', {});
      const retired = this.gen.install(plan?.candidate ?? before, generation, splitOf(this.store.rollouts.running()));
      if (retired.length) this.pool.retire(retired);
      if (plan) this.announce(input.principal, input.changes, generation, false);
      else this.events.emit('commit', { generation });
      return generation;
    });
  }

  /** Runs `migrate` of every version that becomes current, on live state, against the candidate
   *  graph. Their writes are applied inside the commit transaction, validated like any other. */
  private async runMigrations(before: Graph, plan: Plan, principal: Principal, onProgress?: ProgressFn): Promise<TxnRecord | undefined> {
    const becoming = plan.setCurrent.filter((s) => s.hash !== null && before.current(s.name)?.hash !== s.hash);
    const withMigrate = becoming.filter((s) => this.gen.recordOf(s.hash as string).hasMigrate);
    if (withMigrate.length === 0) return undefined;
    const merged: TxnRecord = { reads: [], nsReads: [], writes: [] };
    let done = 0;
    for (const s of withMigrate) {
      const hash = s.hash as string;
      const rec: VersionRecord = this.gen.recordOf(hash);
      onProgress?.({ phase: 'migrate', capability: rec.name, version: rec.version, done, total: withMigrate.length });
      const links = plan.candidate.links(hash);
      const access = this.grants.runAccess(links, principal);
      const result = await this.pool.run({
        root: hash,
        entry: 'migrate',
        input: { from: before.current(s.name)?.version ?? null },
        invocationId: `migrate-${nanoid(8)}`,
        generation: this.gen.generation + 1,
        links,
        state: { mode: 'live' },
        shared: access.shared,
      });
      if (!result.ok) {
        throw fail('MIGRATION_FAILED', `migrate of ${rec.name} ${rec.version} failed: ${result.error.message}`, {
          capability: rec.name,
          version: rec.version,
          error: result.error as unknown as Json,
        });
      }
      this.grants.checkTxn(access, result.txn);
      merged.reads.push(...result.txn.reads);
      merged.nsReads.push(...result.txn.nsReads);
      merged.writes.push(...result.txn.writes);
      done++;
    }
    return merged;
  }

  /** One event per change: a register is `registered` (and also `activated` when it became
   *  current), an activate `activated` (or `rolledBack` when the changeset is a rollback). */
  private announce(principal: Principal, changes: ChangeSummary[], generation: number, rolledBack: boolean): void {
    const at = new Date().toISOString();
    for (const c of changes) {
      const base = { generation, name: c.name, version: c.version, previous: c.previous, principal: principal.name, at };
      const types: Array<(typeof COMMIT_EVENT_TYPES)[number]> =
        c.op === 'remove' ? ['capability.removed']
        : rolledBack ? ['capability.rolledBack']
        : c.op === 'register' ? (c.activated ? ['capability.registered', 'capability.activated'] : ['capability.registered'])
        : ['capability.activated'];
      for (const type of types) this.events.emit('event', { type, ...base } satisfies KernelEvent);
    }
    this.events.emit('commit', { generation });
  }
}

/** What each planned change did, for the result, the journal and the events. */
function summarize(before: Graph, plan: Plan, planned: PlannedChange[]): ChangeSummary[] {
  const out: ChangeSummary[] = [];
  for (const c of planned) {
    if (c.op === 'register') {
      out.push({
        op: 'register',
        name: c.version.name,
        version: c.version.version,
        hash: c.version.hash,
        previous: before.current(c.version.name)?.version ?? null,
        activated: plan.setCurrent.some((s) => s.name === c.version.name && s.hash === c.version.hash) || (c.activate && before.current(c.version.name)?.hash === c.version.hash),
      });
    } else if (c.op === 'activate') {
      const v = plan.candidate.find(c.name, c.version);
      out.push({ op: 'activate', name: c.name, version: c.version, hash: v?.hash ?? null, previous: before.current(c.name)?.version ?? null, activated: true });
    } else {
      out.push({ op: 'remove', name: c.name, version: null, hash: null, previous: before.current(c.name)?.version ?? null, activated: false });
    }
  }
  return out;
}
