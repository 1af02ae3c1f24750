// The measuring kit every bench shares: bounded sequential and pipelined loops with warm-up, latency
// percentiles, the machine the figures were taken on, and the table of figures beside their
// baselines and targets that each bench prints (and hands to bench/run.ts as one JSON line).

import os from 'node:os';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of latency samples (ms). */
export function summarize(samples: number[]): Summary {
  if (samples.length === 0) return { count: 0, mean: NaN, p50: NaN, p95: NaN, p99: NaN, max: NaN };
  const s = Float64Array.from(samples).sort();
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  let sum = 0;
  for (const v of s) sum += v;
  return { count: s.length, mean: sum / s.length, p50: at(50), p95: at(95), p99: at(99), max: s[s.length - 1] };
}

export interface LoopOptions {
  /** Stop measuring after this long (ms). */
  maxMs: number;
  /** …or after this many completed calls, whichever comes first. */
  maxCount: number;
  /** Run the same loop this long first and throw its figures away. */
  warmupMs?: number;
  /** Also push every measured latency here. */
  collect?: number[];
}

export interface LoopResult {
  /** Completed calls per second over the measured window. */
  perSec: number;
  lat: Summary;
  completed: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
}

/** Keeps `inFlight` calls outstanding (each lane starts its next call when its last one settles)
 *  until the time or count bound; `inFlight` 1 is the sequential case. */
export async function loop(fn: (lane: number, seq: number) => Promise<unknown>, inFlight: number, opts: LoopOptions): Promise<LoopResult> {
  if (opts.warmupMs && opts.warmupMs > 0) {
    await runLanes(fn, inFlight, { maxMs: opts.warmupMs, maxCount: Number.MAX_SAFE_INTEGER });
  }
  return runLanes(fn, inFlight, opts);
}

async function runLanes(fn: (lane: number, seq: number) => Promise<unknown>, inFlight: number, opts: LoopOptions): Promise<LoopResult> {
  const samples: number[] = [];
  let started = 0;
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const end = t0 + opts.maxMs;
  const lane = async (l: number) => {
    while (started < opts.maxCount && performance.now() < end) {
      const seq = started++;
      const s = performance.now();
      try {
        await fn(l, seq);
        const d = performance.now() - s;
        samples.push(d);
        opts.collect?.push(d);
      } catch (e) {
        errors++;
        firstError ??= describeError(e);
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, (_, l) => lane(l)));
  const elapsedMs = performance.now() - t0;
  return { perSec: (samples.length / elapsedMs) * 1000, lat: summarize(samples), completed: samples.length, errors, firstError, elapsedMs };
}

/** Measures two loads in alternating windows, so both see the same state of the machine (other
 *  work, CPU idle states); figures merged over all windows of each. */
export async function interleaved(
  a: (lane: number, seq: number) => Promise<unknown>,
  b: (lane: number, seq: number) => Promise<unknown>,
  inFlight: number,
  opts: { rounds: number; windowMs: number; warmupMs: number },
): Promise<[LoopResult, LoopResult]> {
  await runLanes(a, inFlight, { maxMs: opts.warmupMs, maxCount: Number.MAX_SAFE_INTEGER });
  await runLanes(b, inFlight, { maxMs: opts.warmupMs, maxCount: Number.MAX_SAFE_INTEGER });
  const acc = [a, b].map(() => ({ samples: [] as number[], completed: 0, errors: 0, firstError: undefined as string | undefined, ms: 0 }));
  for (let r = 0; r < opts.rounds; r++) {
    for (const [i, fn] of [a, b].entries()) {
      const x = acc[i];
      const res = await runLanes(fn, inFlight, { maxMs: opts.windowMs, maxCount: Number.MAX_SAFE_INTEGER, collect: x.samples });
      x.completed += res.completed;
      x.errors += res.errors;
      x.firstError ??= res.firstError;
      x.ms += res.elapsedMs;
    }
  }
  const out = acc.map((x) => ({ perSec: (x.completed / x.ms) * 1000, lat: summarize(x.samples), completed: x.completed, errors: x.errors, firstError: x.firstError, elapsedMs: x.ms }));
  return [out[0], out[1]];
}

export function describeError(e: unknown): string {
  if (e && typeof e === 'object') {
    const o = e as { type?: unknown; message?: unknown };
    return `${typeof o.type === 'string' ? o.type + ': ' : ''}${String(o.message ?? e)}`;
  }
  return String(e);
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const s = performance.now();
  const value = await fn();
  return { ms: performance.now() - s, value };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the machine

export interface Machine {
  cpu: string;
  cpus: number;
  memoryGiB: number;
  os: string;
  node: string;
  isolatedVm: string;
  ws: string;
  /** 1/5/15-minute load averages when the bench started: other work on the machine skews figures. */
  loadAvg: number[];
}

function packageVersion(name: string): string {
  try {
    const require = createRequire(import.meta.url);
    const pkgPath = require.resolve(`${name}/package.json`);
    return (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    isolatedVm: packageVersion('isolated-vm'),
    ws: packageVersion('ws'),
    loadAvg: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

// ---------------------------------------------------------------- the report

export type Unit = 'ms' | 'calls/s' | 'count' | 'ratio' | '%';

export interface Figure {
  figure: string;
  value: number;
  unit: Unit;
  baseline?: { label: string; value: number };
  /** value / baseline.value */
  ratio?: number;
  target?: { text: string; met: boolean };
}

export interface BenchResult {
  bench: string;
  date: string;
  machine: Machine;
  figures: Figure[];
  notes: string[];
}

export const RESULT_PREFIX = '@@bench-result ';

export class Report {
  private readonly figures: Figure[] = [];
  private readonly notes: string[] = [];
  private readonly started = new Date();
  private readonly machine = machine();

  constructor(private readonly bench: string) {}

  add(figure: string, value: number, unit: Unit, opts: { baseline?: { label: string; value: number }; target?: { text: string; met: (value: number, ratio: number | undefined) => boolean } } = {}): Figure {
    const ratio = opts.baseline && opts.baseline.value !== 0 ? value / opts.baseline.value : undefined;
    const f: Figure = { figure, value, unit };
    if (opts.baseline) f.baseline = opts.baseline;
    if (ratio !== undefined) f.ratio = ratio;
    if (opts.target) f.target = { text: opts.target.text, met: opts.target.met(value, ratio) };
    this.figures.push(f);
    log(`  ${figure}: ${fmt(value, unit)}${f.baseline ? `  (baseline ${f.baseline.label}: ${fmt(f.baseline.value, unit)}, ratio ${fmtRatio(ratio)})` : ''}${f.target ? `  target ${f.target.text}: ${f.target.met ? 'MET' : 'MISSED'}` : ''}`);
    return f;
  }

  note(text: string): void {
    this.notes.push(text);
    log(`  note: ${text}`);
  }

  finish(): BenchResult {
    const result: BenchResult = { bench: this.bench, date: this.started.toISOString(), machine: this.machine, figures: this.figures, notes: this.notes };
    process.stdout.write('\n' + renderTable(result) + '\n');
    process.stdout.write(RESULT_PREFIX + JSON.stringify(result) + '\n');
    return result;
  }
}

export function log(line: string): void {
  process.stdout.write(line + '\n');
}

export function fmt(v: number, unit: Unit): string {
  if (!Number.isFinite(v)) return String(v);
  switch (unit) {
    case 'ms':
      return `${v < 1 ? v.toFixed(3) : v < 100 ? v.toFixed(2) : v.toFixed(0)} ms`;
    case 'calls/s':
      return `${Math.round(v).toLocaleString('en-US')}/s`;
    case 'count':
      return Math.round(v).toLocaleString('en-US');
    case 'ratio':
      return v.toFixed(3);
    case '%':
      return `${v.toFixed(1)} %`;
  }
}

export function fmtRatio(r: number | undefined): string {
  return r === undefined ? '–' : `${r < 10 ? r.toFixed(2) : r.toFixed(1)}×`;
}

export function machineLine(m: Machine): string {
  return `${m.cpu} × ${m.cpus}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, isolated-vm ${m.isolatedVm}, ws ${m.ws}, load average at start ${m.loadAvg.join(' ')}`;
}

/** A plain-text table (also valid Markdown). */
export function renderTable(r: BenchResult): string {
  const head = ['figure', 'value', 'baseline', 'ratio', 'target', 'met?'];
  const rows = r.figures.map((f) => [
    f.figure,
    fmt(f.value, f.unit),
    f.baseline ? `${f.baseline.label}: ${fmt(f.baseline.value, f.unit)}` : '–',
    fmtRatio(f.ratio),
    f.target?.text ?? '–',
    f.target ? (f.target.met ? 'yes' : 'NO') : '–',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  return [
    `## bench/${r.bench} — ${r.date}`,
    `machine: ${machineLine(r.machine)}`,
    '',
    line(head),
    '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|',
    ...rows.map(line),
    ...(r.notes.length ? ['', ...r.notes.map((n) => `- ${n}`)] : []),
  ].join('\n');
}

// ---------------------------------------------------------------- who used the CPU

/** User + system CPU seconds a process has used so far (Linux /proc; undefined elsewhere). */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name; clock ticks of 1/100 s.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Direct children of a process (Linux /proc). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** CPU seconds the whole machine has been busy (all cores, Linux /proc/stat). */
export function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return (user + nice + system + irq + softirq + steal) / 100;
  } catch {
    return undefined;
  }
}

/** Samples the CPU of named processes around a stretch of work: share of one core each (100 % =
 *  one core busy for the whole stretch). A process that appeared meanwhile (a replaced or recycled
 *  worker) counts all its CPU; one that exited meanwhile is listed as such. */
export class CpuProbe {
  private start = new Map<number, { label: string; secs: number }>();
  private t0 = 0;
  private busy0: number | undefined;

  constructor(private readonly pids: () => Array<[label: string, pid: number]>) {}

  begin(): void {
    this.t0 = performance.now();
    this.busy0 = machineBusySeconds();
    this.start = new Map();
    for (const [label, pid] of this.pids()) {
      const secs = cpuSeconds(pid);
      if (secs !== undefined) this.start.set(pid, { label, secs });
    }
  }

  end(): Array<{ label: string; percent: number }> {
    const secs = (performance.now() - this.t0) / 1000;
    const out: Array<{ label: string; percent: number }> = [];
    const now = new Map(this.pids().map(([label, pid]) => [pid, label]));
    for (const [pid, s0] of this.start) {
      const s1 = cpuSeconds(pid);
      if (s1 === undefined || !now.has(pid)) out.push({ label: `${s0.label} (exited meanwhile)`, percent: NaN });
      else out.push({ label: s0.label, percent: (100 * (s1 - s0.secs)) / secs });
    }
    for (const [pid, label] of now) {
      if (this.start.has(pid)) continue;
      const s1 = cpuSeconds(pid);
      if (s1 !== undefined) out.push({ label: `${label} (started meanwhile)`, percent: (100 * s1) / secs });
    }
    // Everything else the machine did meanwhile: other work competing for the same cores.
    const busy1 = machineBusySeconds();
    if (this.busy0 !== undefined && busy1 !== undefined) {
      const ours = out.reduce((n, o) => n + (Number.isFinite(o.percent) ? o.percent : 0), 0);
      out.push({ label: 'other processes', percent: Math.max(0, (100 * (busy1 - this.busy0)) / secs - ours) });
    }
    return out;
  }
}

export function cpuLine(samples: Array<{ label: string; percent: number }>): string {
  return samples.map((s) => (Number.isFinite(s.percent) ? `${s.label} ${Math.round(s.percent)} %` : s.label)).join(', ');
}
