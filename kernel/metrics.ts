// Metrics per capability version (the contract's "Evaluation", docs/evaluation.md "Metrics"): what
// every root invocation of a version ended with — calls, errors by type, its duration, re-runs and
// lost conflicts, egress requests, whether it ran as a job — counted in memory, per version hash,
// at the end of each root invocation (invocation.ts calls `record`). Nothing is written to disk.
//
// Cost on the invocation path: one Map lookup and a handful of increments into three places — the
// totals since start, a ring of 1 s buckets over the last FINE_SPAN_MS and a ring of 10 s buckets
// over the last hour — so a window query (`window`, which a rollout asks to compare canary and
// baseline over the same interval) adds up at most a few hundred buckets and never scans calls.
//
// Durations go into a log histogram: 4 bins per octave from 1/16 ms (a bin is at most 19% wide), so
// a percentile is its bin's interpolated position, within that width of the exact value; the bin
// edges include every power of two of milliseconds, which are the Prometheus buckets (metrics-prom.ts).
// A window's bounds are rounded out to whole buckets of the ring that serves it.

import semver from 'semver';
import { fail } from '../capabilities/errors.ts';
import type { VersionWindow } from '../capabilities/evaluation.ts';
import type { Graph } from '../capabilities/graph.ts';
import type { ParamsOf, ResultOf } from '../capabilities/protocol/methods.ts';

/** What one root invocation ended with. */
export interface CallOutcome {
  hash: string;
  name: string;
  version: string;
  durationMs: number;
  /** The error type it failed with; absent: it succeeded. */
  errorType?: string;
  /** Runs of the tree after the first (each after a lost state conflict). */
  reruns: number;
  /** State conflicts lost (a re-run each, and one more when it ended in STATE_CONFLICT). */
  conflicts: number;
  /** Requests the tree sent to egress (refused ones included; journal replays to re-runs not). */
  egress: number;
  /** It ran as a job (job-runner.ts). */
  job: boolean;
}

/** Lower edge of the first finite bin; everything faster is bin 0. */
export const HIST_MIN_MS = 1 / 16;
export const BINS_PER_OCTAVE = 4;
/** Bin count: bin 0 is [0, HIST_MIN_MS), bin i is [MIN·2^((i-1)/4), MIN·2^(i/4)); the last also
 *  holds everything slower (2^20 ms, 17 minutes, is beyond any call's timeout). */
export const BINS = 1 + 24 * BINS_PER_OCTAVE;

/** The upper edge of bin i in ms. */
export function binUpperMs(i: number): number {
  return HIST_MIN_MS * 2 ** (i / BINS_PER_OCTAVE);
}

function binOf(ms: number): number {
  if (!(ms >= HIST_MIN_MS)) return 0;
  return Math.min(BINS - 1, Math.floor(BINS_PER_OCTAVE * Math.log2(ms / HIST_MIN_MS)) + 1);
}

const FINE_MS = 1000;
/** The fine ring's span: a window starting within it is counted in 1 s buckets. */
export const FINE_SPAN_MS = 5 * 60_000;
const COARSE_MS = 10_000;
/** How far back a window can reach (older buckets are reused). */
export const COARSE_SPAN_MS = 60 * 60_000;

/** The counts of one bucket of time (or of all time). */
export class Counts {
  calls = 0;
  errors = 0;
  errorsByType: Map<string, number> | null = null;
  reruns = 0;
  conflicts = 0;
  egress = 0;
  jobs = 0;
  sumMs = 0;
  maxMs = 0;
  readonly hist = new Uint32Array(BINS);

  constructor(public start = 0) {}

  add(o: CallOutcome, bin: number): void {
    this.calls++;
    if (o.errorType !== undefined) {
      this.errors++;
      const m = (this.errorsByType ??= new Map());
      m.set(o.errorType, (m.get(o.errorType) ?? 0) + 1);
    }
    this.reruns += o.reruns;
    this.conflicts += o.conflicts;
    this.egress += o.egress;
    if (o.job) this.jobs++;
    this.sumMs += o.durationMs;
    if (o.durationMs > this.maxMs) this.maxMs = o.durationMs;
    this.hist[bin]++;
  }

  merge(c: Counts): void {
    this.calls += c.calls;
    this.errors += c.errors;
    if (c.errorsByType) {
      const m = (this.errorsByType ??= new Map());
      for (const [t, n] of c.errorsByType) m.set(t, (m.get(t) ?? 0) + n);
    }
    this.reruns += c.reruns;
    this.conflicts += c.conflicts;
    this.egress += c.egress;
    this.jobs += c.jobs;
    this.sumMs += c.sumMs;
    if (c.maxMs > this.maxMs) this.maxMs = c.maxMs;
    for (let i = 0; i < BINS; i++) this.hist[i] += c.hist[i];
  }

  /** The p-th percentile in ms (0 without calls), at most the slowest call counted. */
  percentile(p: number): number {
    if (this.calls === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.calls));
    let seen = 0;
    for (let i = 0; i < BINS; i++) {
      const n = this.hist[i];
      if (n === 0) continue;
      if (seen + n >= rank) {
        const lo = i === 0 ? 0 : binUpperMs(i - 1);
        const hi = binUpperMs(i);
        const at = lo + ((hi - lo) * (rank - seen)) / n;
        return round3(Math.min(at, this.maxMs));
      }
      seen += n;
    }
    return round3(this.maxMs);
  }

  view(name: string, version: string): VersionWindow {
    return {
      name,
      version,
      calls: this.calls,
      errors: this.errors,
      errorsByType: this.errorsByType ? Object.fromEntries([...this.errorsByType].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) : {},
      p50: this.percentile(50),
      p95: this.percentile(95),
      p99: this.percentile(99),
      reruns: this.reruns,
      conflicts: this.conflicts,
      egress: this.egress,
      jobs: this.jobs,
    };
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Buckets of `bucketMs` over the last `slots` of them; a slot is reused when its time comes round. */
class Ring {
  private readonly slots: Array<Counts | undefined>;

  constructor(
    readonly bucketMs: number,
    readonly size: number,
  ) {
    this.slots = new Array<Counts | undefined>(size);
  }

  at(now: number): Counts {
    const start = now - (now % this.bucketMs);
    const i = Math.floor(start / this.bucketMs) % this.size;
    let c = this.slots[i];
    if (!c || c.start !== start) this.slots[i] = c = new Counts(start);
    return c;
  }

  /** The buckets whose interval meets [since, until], added up into `into`. */
  sum(since: number, until: number, now: number, into: Counts): void {
    const oldest = now - (now % this.bucketMs) - (this.size - 1) * this.bucketMs;
    for (const c of this.slots) {
      if (c && c.start >= oldest && c.start + this.bucketMs > since && c.start <= until) into.merge(c);
    }
  }
}

interface VersionMetrics {
  name: string;
  version: string;
  total: Counts;
  fine: Ring;
  coarse: Ring;
}

/** A version's totals since the kernel started (Prometheus, metrics/get without windowS). */
export interface VersionTotals {
  hash: string;
  name: string;
  version: string;
  counts: Counts;
}

export class Metrics {
  private readonly versions = new Map<string, VersionMetrics>();

  constructor(private readonly now: () => number = Date.now) {}

  /** One root invocation ended. */
  record(o: CallOutcome): void {
    let v = this.versions.get(o.hash);
    if (!v) {
      v = { name: o.name, version: o.version, total: new Counts(), fine: new Ring(FINE_MS, FINE_SPAN_MS / FINE_MS + 1), coarse: new Ring(COARSE_MS, COARSE_SPAN_MS / COARSE_MS + 1) };
      this.versions.set(o.hash, v);
    }
    const bin = binOf(o.durationMs);
    const now = this.now();
    v.total.add(o, bin);
    v.fine.at(now).add(o, bin);
    v.coarse.at(now).add(o, bin);
  }

  /** What one version did from `sinceMs` to `untilMs` (default now), epoch ms; bounds are rounded
   *  out to whole buckets (1 s within the last FINE_SPAN_MS, else 10 s; at most an hour back). An
   *  unknown version: all zero, name and version ''. */
  window(hash: string, sinceMs: number, untilMs?: number): VersionWindow {
    const v = this.versions.get(hash);
    if (!v) return new Counts().view('', '');
    const now = this.now();
    const until = untilMs ?? now;
    const into = new Counts();
    (now - sinceMs <= FINE_SPAN_MS - FINE_MS ? v.fine : v.coarse).sum(sinceMs, until, now, into);
    return into.view(v.name, v.version);
  }

  /** Since the kernel started. */
  total(hash: string): VersionWindow | undefined {
    const v = this.versions.get(hash);
    return v ? v.total.view(v.name, v.version) : undefined;
  }

  /** Every version seen since start, with its totals (live objects: read, do not keep). */
  all(): VersionTotals[] {
    return [...this.versions].map(([hash, v]) => ({ hash, name: v.name, version: v.version, counts: v.total }));
  }

  has(hash: string): boolean {
    return this.versions.has(hash);
  }
}

export type MetricsGetParams = NonNullable<ParamsOf<'metrics/get'>>;
export type MetricsGetResult = ResultOf<'metrics/get'>;

/** metrics/get: every version with calls since start, and every current version (zero counts), of
 *  one name or all, over the last windowS seconds or since start (uptimeMs); by name, current
 *  first, then newest version. */
export function metricsGet(metrics: Metrics | null, graph: Graph, p: MetricsGetParams, uptimeMs: number, now = Date.now()): MetricsGetResult {
  if (p.version !== undefined && p.name === undefined) throw fail('INVALID_INPUT', 'metrics/get: version needs name', { what: 'version' });
  const spanMs = p.windowS !== undefined ? p.windowS * 1000 : Math.max(1, uptimeMs);
  const since = now - spanMs;
  const hashes = new Map<string, { name: string; version: string }>();
  for (const v of metrics?.all() ?? []) hashes.set(v.hash, { name: v.name, version: v.version });
  for (const [name, hash] of graph.currentHashes()) {
    const v = graph.version(hash);
    if (v && !hashes.has(hash)) hashes.set(hash, { name, version: v.version });
  }
  const items: MetricsGetResult['items'] = [];
  for (const [hash, nv] of hashes) {
    if (p.name !== undefined && nv.name !== p.name) continue;
    if (p.version !== undefined && nv.version !== p.version) continue;
    const w = (p.windowS !== undefined ? metrics?.window(hash, since, now) : metrics?.total(hash)) ?? new Counts().view('', '');
    const { name: _n, version: _v, ...counts } = w;
    items.push({ name: nv.name, version: nv.version, hash, current: graph.currentHashes().get(nv.name) === hash, ...counts, callsPerS: Math.round((w.calls / (spanMs / 1000)) * 1000) / 1000 });
  }
  if (p.name !== undefined && items.length === 0 && graph.versionsOf(p.name).length === 0) {
    throw fail('NOT_FOUND', `no capability '${p.name}'`, { name: p.name });
  }
  items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : Number(b.current) - Number(a.current) || semver.compare(b.version, a.version)));
  return { windowS: Math.round(spanMs) / 1000, since: new Date(since).toISOString(), items };
}
