// The live view: what the kernel reports now, reloaded at every event (and by hand): recent logs
// (roles that may read them), jobs, schedules, and, where this kernel has the methods, rollouts
// (rollouts/get) and calls per second, errors and latency per version (metrics/get, over the last
// minute). Everything shown is what the API answers; the page
// computes no rate or verdict of its own.

import { useEffect, useRef, useState } from 'preact/hooks';
import { canManage } from './rpc.ts';
import { ErrorBox, Json, useSession, when } from './common.tsx';
import type { LogLine } from './types.ts';

interface Job {
  id: string;
  name: string;
  status: string;
  attempt: number;
  createdAt: string;
  error: { type: string; message: string } | null;
}
interface Schedule {
  name: string;
  version: string;
  index: number;
  cron: string;
  timezone: string;
  paused: boolean;
  nextRun: string | null;
}
interface Rollout {
  id: string;
  name: string;
  version: string;
  baseline: string;
  status: string;
  weight: number;
  steps: number[];
  step: number;
  next: string;
  history: { step: number; weight: number; verdict: { verdict: string; reasons: string[] } | null }[];
}

interface VersionMetrics {
  name: string;
  version: string;
  current: boolean;
  calls: number;
  errors: number;
  errorsByType: Record<string, number>;
  p50: number;
  p99: number;
  callsPerS: number;
}
interface Metrics {
  windowS: number;
  items: VersionMetrics[];
}

/** The window metrics/get is asked for: "per second" means over the last minute. */
const METRICS_WINDOW_S = 60;

interface Snapshot {
  logs: LogLine[] | null;
  jobs: Job[];
  schedules: Schedule[];
  rollouts: Rollout[] | undefined;
  metrics: Metrics | undefined;
}

export function LiveView() {
  const { rpc, principal, events } = useSession();
  const [snap, setSnap] = useState<Snapshot | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [manual, setManual] = useState(0);
  const loading = useRef(false);

  useEffect(() => {
    // Events can come in bursts: one load at a time, the last one wins.
    if (loading.current) return;
    loading.current = true;
    const logs = canManage(principal) ? rpc.call<{ items: LogLine[] }>('logs/recent', { limit: 50 }).then((r) => r.items) : Promise.resolve(null);
    Promise.all([
      logs,
      rpc.call<{ items: Job[] }>('jobs/list', { limit: 50 }).then((r) => r.items),
      rpc.call<{ items: Schedule[] }>('schedules/list').then((r) => r.items),
      rpc.optional<{ items: Rollout[] }>('rollouts/get').then((r) => r?.items),
      rpc.optional<Metrics>('metrics/get', { windowS: METRICS_WINDOW_S }),
    ])
      .then(([l, jobs, schedules, rollouts, metrics]) => {
        setSnap({ logs: l, jobs, schedules, rollouts, metrics });
        setError(null);
      })
      .catch(setError)
      .finally(() => {
        loading.current = false;
      });
  }, [rpc, principal, events, manual]);

  return (
    <section class="pane live">
      <h2>
        Live{' '}
        <button type="button" class="link" onClick={() => setManual((n) => n + 1)} data-testid="refresh">
          refresh
        </button>
      </h2>
      <ErrorBox error={error} />
      {!snap ? <p class="muted">Loading…</p> : null}
      {snap?.metrics !== undefined ? (
        <div class="card" data-testid="metrics">
          <h3>Invocations, last {Math.round(snap.metrics.windowS)} s (metrics/get)</h3>
          {Array.isArray(snap.metrics.items) ? (
            <table>
              <thead>
                <tr>
                  <th>capability</th>
                  <th>calls/s</th>
                  <th>calls</th>
                  <th>errors</th>
                  <th>errors by type</th>
                  <th>p50 ms</th>
                  <th>p99 ms</th>
                </tr>
              </thead>
              <tbody>
                {snap.metrics.items.map((m) => (
                  <tr key={`${m.name}@${m.version}`}>
                    <td>
                      {m.name} v{m.version}
                      {m.current ? '' : <span class="muted small"> (not current)</span>}
                    </td>
                    <td>{m.callsPerS.toFixed(2)}</td>
                    <td>{m.calls}</td>
                    <td class={m.errors ? 'status-failed' : ''}>{m.errors}</td>
                    <td class="small">
                      {Object.entries(m.errorsByType)
                        .map(([t, n]) => `${t} ${n}`)
                        .join(', ')}
                    </td>
                    <td>{m.p50.toFixed(1)}</td>
                    <td>{m.p99.toFixed(1)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <Json value={snap.metrics} />
          )}
        </div>
      ) : null}
      {snap?.rollouts !== undefined ? (
        <div class="card" data-testid="rollouts">
          <h3>Rollouts</h3>
          {snap.rollouts.length ? (
            <table>
              <thead>
                <tr>
                  <th>capability</th>
                  <th>canary / baseline</th>
                  <th>status</th>
                  <th>weight</th>
                  <th>steps and verdicts</th>
                  <th>next</th>
                </tr>
              </thead>
              <tbody>
                {snap.rollouts.map((r) => (
                  <tr key={r.id}>
                    <td>{r.name}</td>
                    <td>
                      v{r.version} / v{r.baseline}
                    </td>
                    <td>{r.status}</td>
                    <td>{r.weight}%</td>
                    <td class="small">{r.history.map((h) => `${h.weight}%: ${h.verdict ? h.verdict.verdict : '…'}`).join(' → ')}</td>
                    <td class="small">{r.next}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p class="muted small">No rollouts.</p>
          )}
        </div>
      ) : null}
      {snap ? (
        <div class="card" data-testid="jobs">
          <h3>Jobs</h3>
          {snap.jobs.length ? (
            <table>
              <thead>
                <tr>
                  <th>id</th>
                  <th>capability</th>
                  <th>status</th>
                  <th>attempts</th>
                  <th>created</th>
                  <th>last error</th>
                </tr>
              </thead>
              <tbody>
                {snap.jobs.map((j) => (
                  <tr key={j.id}>
                    <td>
                      <code>{j.id}</code>
                    </td>
                    <td>{j.name}</td>
                    <td class={`status status-${j.status}`}>{j.status}</td>
                    <td>{j.attempt}</td>
                    <td class="small">{when(j.createdAt)}</td>
                    <td class="small">{j.error ? `${j.error.type}: ${j.error.message}` : ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p class="muted small">No jobs.</p>
          )}
        </div>
      ) : null}
      {snap ? (
        <div class="card" data-testid="schedules">
          <h3>Schedules</h3>
          {snap.schedules.length ? (
            <table>
              <thead>
                <tr>
                  <th>capability</th>
                  <th>cron</th>
                  <th>next run</th>
                  <th>paused</th>
                </tr>
              </thead>
              <tbody>
                {snap.schedules.map((s) => (
                  <tr key={`${s.name}/${s.index}`}>
                    <td>
                      {s.name} v{s.version}
                    </td>
                    <td>
                      <code>{s.cron}</code> <span class="muted small">{s.timezone}</span>
                    </td>
                    <td class="small">{s.nextRun ? when(s.nextRun) : '—'}</td>
                    <td>{s.paused ? 'paused' : ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p class="muted small">No schedules.</p>
          )}
        </div>
      ) : null}
      {snap?.logs ? (
        <div class="card" data-testid="logs">
          <h3>Recent logs</h3>
          {snap.logs.length ? (
            <ul class="plain logs">
              {snap.logs.map((l, i) => (
                <li key={i}>
                  <span class="muted small">{when(l.at)}</span> <span class={`level level-${l.level}`}>{l.level}</span> <strong>{l.name}</strong>@{l.version} {l.message}
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted small">No log lines yet.</p>
          )}
        </div>
      ) : null}
    </section>
  );
}
