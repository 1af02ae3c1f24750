// What a rollout compares: per version, over a window of time, root calls, errors and the p99 of
// their durations (capabilities/evaluation.ts VersionWindow). The controller asks a WindowSource:
// the kernel's metrics (kernel/metrics.ts, `kernel.metrics.window`), or, when metrics are off, this
// file's RolloutSamples: it keeps the outcome of each root call of the versions a running rollout
// watches (canary and baseline), and nothing of any other version, so it costs one Map lookup per
// invocation otherwise.

import type { VersionWindow } from '../capabilities/evaluation.ts';

export interface WindowSource {
  window(hash: string, sinceMs: number, untilMs?: number): VersionWindow;
}

interface Sample {
  at: number;
  ok: boolean;
  errorType: string | undefined;
  ms: number;
}

/** Samples kept per watched version; past it the oldest go (a step's window needs far fewer). */
const MAX_SAMPLES = 200_000;

export class RolloutSamples implements WindowSource {
  private readonly watched = new Map<string, { name: string; version: string; samples: Sample[] }>();

  constructor(private readonly now: () => number = Date.now) {}

  watch(hash: string, name: string, version: string): void {
    if (!this.watched.has(hash)) this.watched.set(hash, { name, version, samples: [] });
  }

  unwatch(hash: string): void {
    this.watched.delete(hash);
  }

  /** One root call finished (invocation.ts `observe`). */
  observe(hash: string, ok: boolean, durationMs: number, errorType?: string): void {
    const w = this.watched.get(hash);
    if (!w) return;
    w.samples.push({ at: this.now(), ok, errorType, ms: durationMs });
    if (w.samples.length > MAX_SAMPLES) w.samples.splice(0, w.samples.length - MAX_SAMPLES);
  }

  window(hash: string, sinceMs: number, untilMs = Number.POSITIVE_INFINITY): VersionWindow {
    const w = this.watched.get(hash);
    const inWindow = (w?.samples ?? []).filter((s) => s.at >= sinceMs && s.at <= untilMs);
    const errorsByType: { [type: string]: number } = {};
    let errors = 0;
    for (const s of inWindow) {
      if (s.ok) continue;
      errors++;
      const t = s.errorType ?? 'UNKNOWN';
      errorsByType[t] = (errorsByType[t] ?? 0) + 1;
    }
    const ms = inWindow.map((s) => s.ms).sort((a, b) => a - b);
    const pct = (p: number) => (ms.length === 0 ? 0 : ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)]);
    return {
      name: w?.name ?? '',
      version: w?.version ?? '',
      calls: inWindow.length,
      errors,
      errorsByType,
      p50: pct(50),
      p95: pct(95),
      p99: pct(99),
      reruns: 0,
      conflicts: 0,
      egress: 0,
      jobs: 0,
    };
  }
}
