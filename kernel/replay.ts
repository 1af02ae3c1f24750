// Replay before commit (the contract's "Evaluation", docs/evaluation.md "Replay"): each changed
// capability's candidate runs on the recorded calls of the version it replaces, hermetically, and
// the current version runs on the same records as the noise filter.
//
// Which: every name whose current version the changeset replaces by another (register or activate;
// a removal has no candidate). Its current version's newest `samples` records (kernel.records).
// Hermetic: state reads are served from the record (sandbox replay state mode: a read the record
// lacks makes the run unreplayable), writes go nowhere (the transaction is never committed), egress
// is served the record's responses (egress-replay.ts: a request it lacks makes the run
// unreplayable). The current version runs on the graph it is current in, the candidate on the
// candidate graph, so a changed dependency counts for its dependents' candidates only.
//
// Per record, in this order: the record says it cannot be replayed (replayable false) →
// unreplayable; the current version's re-run read outside the record, or answered otherwise than
// recorded → unstable (not counted); the candidate read or fetched outside the record →
// unreplayable; else same or changed. "Answered the same": jsonEqual outputs, or errors of the same
// type. `errors` counts the counted samples (same + changed) the candidate answered with an error.
//
// Limits: one time budget per changeset (replayBudgetMs, as the gates'); each run also ends at its
// version's timeoutMs; records not replayed when it runs out are `skipped`. Runs happen outside the
// commit lock like gates (commit-pipeline.ts applyPrepared); a summary is reused in a later round
// while its key (both versions and both call trees' resolutions) is unchanged.

import type { Plan } from '../capabilities/changeset.ts';
import { jsonEqual } from '../capabilities/equal.ts';
import { fail } from '../capabilities/errors.ts';
import type { CallRecord, ReplaySummary } from '../capabilities/evaluation.ts';
import type { Graph } from '../capabilities/graph.ts';
import { mapLimit } from '../capabilities/map-limit.ts';
import type { Json, Manifest } from '../capabilities/types.ts';
import type { SandboxPool } from '../sandbox/pool.ts';
import type { RunResult } from '../sandbox/protocol.ts';
import type { ProgressFn } from './api.ts';
import { treeEgress } from './egress-policy.ts';
import { replaySession } from './egress-replay.ts';

/** Wall-clock time all replays of one changeset may take together (the gates have their own). */
export const MAX_REPLAY_MS_PER_CHANGESET = 120_000;
export const REPLAY_DEFAULT_SAMPLES = 100;
/** At most the records a version keeps (RECORDS_PER_VERSION). */
export const REPLAY_MAX_SAMPLES = 1000;
/** Changed samples shown per capability, and the JSON characters of each value shown. */
export const REPLAY_EXAMPLES = 5;
export const REPLAY_EXAMPLE_CHARS = 4096;
const PROGRESS_STEPS = 50;

export interface ReplayOptions {
  samples?: number;
  maxChanged?: number;
}

/** Records replayed per capability: `samples` (default 100), at most REPLAY_MAX_SAMPLES. */
export function replaySamples(o: ReplayOptions): number {
  return Math.min(REPLAY_MAX_SAMPLES, Math.max(0, Math.floor(o.samples ?? REPLAY_DEFAULT_SAMPLES)));
}

/** One capability to replay: the version replaced and its candidate. */
export interface ReplayTarget {
  name: string;
  fromHash: string;
  from: string;
  toHash: string;
  to: string;
}

export function replayTargets(before: Graph, plan: Plan): ReplayTarget[] {
  const out: ReplayTarget[] = [];
  for (const s of plan.setCurrent) {
    const cur = before.current(s.name);
    const next = s.hash === null ? undefined : plan.candidate.version(s.hash);
    if (!cur || !next || cur.hash === next.hash) continue;
    out.push({ name: s.name, fromHash: cur.hash, from: cur.version, toHash: next.hash, to: next.version });
  }
  return out;
}

/** What makes a summary valid for a later round: both versions and both trees' resolutions. */
export function replayKey(current: Graph, candidate: Graph, t: ReplayTarget, samples: number): string {
  return JSON.stringify([t.fromHash, t.toHash, samples, current.links(t.fromHash), candidate.links(t.toHash)]);
}

export interface ReplayRun {
  summaries: ReplaySummary[];
  /** The key of each summary (replayKey), in order. */
  keys: string[];
}

export async function runReplay(opts: {
  pool: SandboxPool;
  /** The graph the replaced versions are current in, and the one the changeset would produce. */
  current: Graph;
  candidate: Graph;
  targets: ReplayTarget[];
  records: (hash: string, limit: number) => CallRecord[];
  options: ReplayOptions;
  generation: number;
  concurrency: number;
  manifestOf: (hash: string) => Manifest;
  budget: { end: number; ms: number };
  reuse?: Map<string, ReplaySummary>;
  onProgress?: ProgressFn;
}): Promise<ReplayRun> {
  const samples = replaySamples(opts.options);
  const keys = opts.targets.map((t) => replayKey(opts.current, opts.candidate, t, samples));
  const summaries: ReplaySummary[] = [];
  for (const [i, t] of opts.targets.entries()) {
    const reused = opts.reuse?.get(keys[i]);
    if (reused) {
      summaries.push(reused);
      continue;
    }
    const records = samples === 0 ? [] : opts.records(t.fromHash, samples).slice(0, samples);
    opts.onProgress?.({ phase: 'replay', capability: t.name, version: t.to, done: 0, total: records.length });
    let done = 0;
    // At most PROGRESS_STEPS notifications per capability, however many records.
    const every = Math.max(1, Math.ceil(records.length / PROGRESS_STEPS));
    const verdicts = await mapLimit(records, opts.concurrency, async (rec) => {
      const v = await replayOne(opts, t, rec);
      if (++done % every === 0 || done === records.length) opts.onProgress?.({ phase: 'replay', capability: t.name, version: t.to, done, total: records.length });
      return v;
    });
    summaries.push(summarize(t, records, verdicts));
  }
  return { summaries, keys };
}

type Verdict = { kind: 'same' | 'unstable' | 'unreplayable' | 'skipped'; error?: boolean } | { kind: 'changed'; after: Json; error: boolean };

async function replayOne(opts: Parameters<typeof runReplay>[0], t: ReplayTarget, rec: CallRecord): Promise<Verdict> {
  if (!rec.replayable) return { kind: 'unreplayable' };
  const { end } = opts.budget;
  if (Date.now() >= end) return { kind: 'skipped' };
  const [cur, cand] = await Promise.all([
    runOn(opts, opts.current, t.fromHash, t.from, rec, opts.generation, end),
    runOn(opts, opts.candidate, t.toHash, t.to, rec, opts.generation + 1, end),
  ]);
  // A run the budget cut short (its deadline was the budget's end) says nothing about the version.
  const cut = (r: { result: RunResult; clamped: boolean }) => r.clamped && !r.result.ok && r.result.error.type === 'TIMEOUT';
  if (cut(cur) || cut(cand)) return { kind: 'skipped' };
  if (cur.unreplayable || !sameAsRecord(rec, cur.result)) return { kind: 'unstable' };
  if (cand.unreplayable) return { kind: 'unreplayable' };
  const error = !cand.result.ok;
  return sameAsRecord(rec, cand.result) ? { kind: 'same', error } : { kind: 'changed', after: outcome(cand.result), error };
}

async function runOn(
  opts: Parameters<typeof runReplay>[0],
  graph: Graph,
  hash: string,
  version: string,
  rec: CallRecord,
  generation: number,
  end: number,
): Promise<{ result: RunResult; unreplayable: boolean; clamped: boolean }> {
  const manifest = opts.manifestOf(hash);
  const links = graph.links(hash);
  const own = Date.now() + manifest.limits.timeoutMs;
  const deadline = Math.min(own, end);
  const http = replaySession(rec.egress, (h) => (Object.hasOwn(links, h) ? opts.manifestOf(h) : null));
  const result = await opts.pool.run(
    {
      root: hash,
      entry: 'default',
      input: rec.input,
      invocationId: `replay-${rec.id}-${version}`.slice(0, 120),
      generation,
      links,
      state: { mode: 'replay', reads: rec.reads },
      deadline,
      origin: { kind: 'replay', capability: rec.name, version, test: `record ${rec.id}` },
    },
    treeEgress(links, deadline, manifest.limits.timeoutMs, () => http),
  );
  return { result, unreplayable: result.unreplayable !== undefined || http.misses.length > 0, clamped: own > end };
}

function sameAsRecord(rec: CallRecord, r: RunResult): boolean {
  if (rec.error) return !r.ok && r.error.type === rec.error.type;
  return r.ok && jsonEqual(rec.output ?? null, r.output);
}

/** An outcome as an example shows it: the output, or `{ error: { type, message } }`. */
function outcome(r: RunResult): Json {
  return r.ok ? r.output : { error: { type: r.error.type, message: r.error.message } };
}

function recorded(rec: CallRecord): Json {
  return rec.error ? { error: { type: rec.error.type, message: rec.error.message } } : (rec.output ?? null);
}

/** A value shown in an example, at most REPLAY_EXAMPLE_CHARS of JSON: a larger one becomes
 *  `{ truncated: true, chars, preview }` (the first characters of its JSON text). */
export function bounded(v: Json): Json {
  const text = JSON.stringify(v);
  if (text.length <= REPLAY_EXAMPLE_CHARS) return v;
  return { truncated: true, chars: text.length, preview: text.slice(0, REPLAY_EXAMPLE_CHARS) };
}

function summarize(t: ReplayTarget, records: CallRecord[], verdicts: Verdict[]): ReplaySummary {
  const s: ReplaySummary = { name: t.name, from: t.from, to: t.to, samples: records.length, same: 0, changed: 0, errors: 0, unstable: 0, unreplayable: 0, examples: [] };
  verdicts.forEach((v, i) => {
    if (v.kind === 'skipped') s.skipped = (s.skipped ?? 0) + 1;
    else s[v.kind]++;
    if ((v.kind === 'same' || v.kind === 'changed') && v.error) s.errors++;
    if (v.kind === 'changed' && s.examples.length < REPLAY_EXAMPLES) {
      s.examples.push({ input: bounded(records[i].input), before: bounded(recorded(records[i])), after: bounded(v.after) });
    }
  });
  return s;
}

/** REPLAY_FAILED when some capability changed more samples than `maxChanged` allows. */
export function throwIfReplayFailed(summaries: ReplaySummary[], maxChanged: number | undefined): void {
  if (maxChanged === undefined) return;
  const over = summaries.filter((s) => s.changed > maxChanged);
  if (over.length === 0) return;
  const f = over[0];
  const which = over.map((s) => `${s.name} ${s.from} → ${s.to}: ${s.changed} of ${s.samples}`).join('; ');
  throw fail('REPLAY_FAILED', `replay changed more answers than maxChanged ${maxChanged} allows (${which}); nothing was committed`, {
    capability: f.name,
    from: f.from,
    to: f.to,
    changed: f.changed,
    maxChanged,
    replay: summaries as unknown as Json,
    next: `maxChanged exceeded: inspect the examples (input, before, after) of ${over.map((s) => s.name).join(', ')}; if the changes are intended, apply again with a higher maxChanged or without it, else fix the candidate`,
  });
}
