// GET /metrics: the per-version totals of kernel/metrics.ts in the Prometheus text exposition
// format, through prom-client on a Registry of its own (never the global one: tests and embedders
// may run several kernels in one process). Nothing is counted here: every scrape reads the
// metrics as they stand (prom-client `collect`), so the invocation path never touches prom-client.
// Operators only (kernel/server.ts answers 401 without a valid token; this answers 403 for others).
//
// The duration histogram's buckets are the powers of two of milliseconds from 1/4 ms to 65.5 s —
// edges of kernel/metrics.ts's bins, so the cumulative counts are exact.

import type http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Principal } from '../capabilities/types.ts';
import { BINS, BINS_PER_OCTAVE, HIST_MIN_MS, type Metrics } from './metrics.ts';

/** Octaves of HIST_MIN_MS at which a Prometheus bucket ends: 2^-2 ms ... 2^16 ms. */
const LE_OCTAVES = Array.from({ length: 19 }, (_, i) => i + 2);

export interface PromSource {
  metrics: Metrics | null;
  generation: () => number;
  /** Records not kept because they were too large (kernel/records.ts). */
  recordsDropped: () => number;
}

type Labels = Record<string, string>;
type Value = { value: number; labels: Labels; metricName?: string };

/** A histogram prom-client formats but this file fills: prom-client's Histogram can only observe
 *  one value at a time, and the counts already exist. */
function durationHistogram(src: PromSource) {
  const name = 'substrate_call_duration_seconds';
  const get = () => {
    const values: Value[] = [];
    for (const v of src.metrics?.all() ?? []) {
      const labels = { name: v.name, version: v.version };
      let cum = 0;
      let bin = 0;
      for (const octave of LE_OCTAVES) {
        // Bin i ends at HIST_MIN_MS·2^(i/4): the bucket ending at 2^octave·MIN takes bins 0..4·octave.
        const last = Math.min(BINS - 1, octave * BINS_PER_OCTAVE);
        for (; bin <= last; bin++) cum += v.counts.hist[bin];
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: String((HIST_MIN_MS * 2 ** octave) / 1000) }, value: cum });
      }
      values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: v.counts.calls });
      values.push({ metricName: `${name}_sum`, labels, value: v.counts.sumMs / 1000 });
      values.push({ metricName: `${name}_count`, labels, value: v.counts.calls });
    }
    return { name, help: 'Duration of root invocations, by capability version', type: 'histogram' as const, aggregator: 'sum' as const, values };
  };
  return { name, help: 'Duration of root invocations, by capability version', type: 'histogram', aggregator: 'sum', get, reset: () => undefined };
}

export function promRegistry(src: PromSource): Registry {
  const registry = new Registry();
  const perVersion = (metric: string, help: string, pick: (c: NonNullable<ReturnType<Metrics['all']>>[number]['counts']) => number) =>
    new Counter({
      name: metric,
      help,
      labelNames: ['name', 'version'],
      registers: [registry],
      collect() {
        this.reset();
        for (const v of src.metrics?.all() ?? []) {
          const n = pick(v.counts);
          this.inc({ name: v.name, version: v.version }, n);
        }
      },
    });
  perVersion('substrate_calls_total', 'Root invocations that ended, by capability version (jobs included)', (c) => c.calls);
  perVersion('substrate_reruns_total', 'Runs again after a lost state conflict', (c) => c.reruns);
  perVersion('substrate_conflicts_total', 'State conflicts lost (incl. those ending in STATE_CONFLICT)', (c) => c.conflicts);
  perVersion('substrate_egress_requests_total', 'Requests sent to egress by the call trees of the version', (c) => c.egress);
  perVersion('substrate_jobs_total', 'Root invocations that were runs of a job', (c) => c.jobs);
  new Counter({
    name: 'substrate_errors_total',
    help: 'Root invocations that failed, by capability version and error type',
    labelNames: ['name', 'version', 'type'],
    registers: [registry],
    collect() {
      this.reset();
      for (const v of src.metrics?.all() ?? []) {
        for (const [type, n] of v.counts.errorsByType ?? []) this.inc({ name: v.name, version: v.version, type }, n);
      }
    },
  });
  new Gauge({
    name: 'substrate_generation',
    help: 'The current generation',
    registers: [registry],
    collect() {
      this.set(src.generation());
    },
  });
  new Counter({
    name: 'substrate_records_dropped_total',
    help: 'Call records not kept because they were larger than the limit',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.recordsDropped());
    },
  });
  // Duck-typed as prom-client's metric interface (name, help, type, get): see durationHistogram.
  registry.registerMetric(durationHistogram(src) as unknown as Parameters<Registry['registerMetric']>[0]);
  return registry;
}

/** The /metrics route (kernel/server.ts): the principal is authenticated already. */
export function prometheusRoute(src: PromSource): (req: http.IncomingMessage, res: http.ServerResponse, principal: Principal) => Promise<void> {
  const registry = promRegistry(src);
  return async (req, res, principal) => {
    if (principal.role !== 'operator') {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('GET /metrics needs an operator token\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' });
      res.end('GET /metrics\n');
      return;
    }
    const text = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : text);
  };
}
