// The pool's side of the `fetch` messages a worker sends for a run: each is answered with the run's
// egress hook (run-hooks.ts), a hook that throws (or answers nonsense) with EFFECT_FAILED, and a run
// that is over (done, its worker gone) not at all.

import { fail } from '../capabilities/errors.ts';
import type { EgressResult } from '../capabilities/effects.ts';
import type { FromWorker } from './protocol.ts';
import type { WorkerHandle } from './worker-handle.ts';

type FetchMessage = Extract<FromWorker, { t: 'fetch' }>;

function failed(url: string, reason: string): EgressResult {
  return { ok: false, error: fail('EFFECT_FAILED', `fetch of ${url}: ${reason}`, { url, reason }).toWire() };
}

function isResult(r: unknown): r is EgressResult {
  if (r === null || typeof r !== 'object') return false;
  const v = r as { ok?: unknown; response?: unknown; error?: unknown };
  return v.ok === true ? v.response !== null && typeof v.response === 'object' : v.ok === false && v.error !== null && typeof v.error === 'object';
}

/** Answers one `fetch` message of worker `h` with its run's egress hook. */
export function answerFetch(h: WorkerHandle, m: FetchMessage): void {
  const p = h.pending.get(m.id);
  if (!p || p.kind !== 'run') return;
  const url = typeof m.request?.url === 'string' ? m.request.url : '';
  const reply = (result: EgressResult) => {
    // Only into the run that asked, and only while it is pending on a live worker.
    if (h.pending.get(m.id) !== p || h.exited) return;
    h.send({ t: 'fetched', id: m.id, req: m.req, result });
  };
  const egress = p.hooks?.egress;
  if (!egress) {
    reply({ ok: false, error: fail('EFFECT_FORBIDDEN', `fetch of ${url}: this run may not reach the network (no egress)`, { url, reason: 'no egress for this run' }).toWire() });
    return;
  }
  let answered: Promise<EgressResult>;
  try {
    answered = Promise.resolve(egress.call(p.hooks, m.caller, m.request));
  } catch (e) {
    answered = Promise.reject(e);
  }
  answered.then(
    (r) => reply(isResult(r) ? r : failed(url, 'the egress hook gave no result')),
    (e: unknown) => reply(failed(url, e instanceof Error ? e.message : String(e))),
  );
}
