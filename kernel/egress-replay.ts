// Egress of a replay run (kernel/replay.ts): nothing leaves the machine. Each request is served the
// response the recorded call got for the same request — same method, URL (after `new URL`
// normalization) and body — taking the record's exchanges in order, each at most once (a request
// made twice gets the second recorded answer the second time). A request the record has no (more)
// answer for fails with EFFECT_FORBIDDEN and is listed in `misses`, which makes the sample
// `unreplayable` even when the capability caught the error.
//
// Checks as for gates (egress-fixtures.ts): the URL, its scheme and the calling version's manifest
// `effects.http` entry apply (a candidate may not fetch what it does not declare); grants, DNS,
// address classes and limits other than the request body's do not (nothing is reached). Nothing is
// written to the effect journal: a replay is not traffic.

import { effectLimits, type EffectRecord, type EgressCaller, type EgressRequest, type EgressResponse, type EgressResult } from '../capabilities/effects.ts';
import { asSubstrateError, fail } from '../capabilities/errors.ts';
import type { CallRecord } from '../capabilities/evaluation.ts';
import type { Manifest } from '../capabilities/types.ts';
import { authorize, normalMethod, parseTarget } from './egress-check.ts';
import type { EffectPerformer } from './egress.ts';

export interface ReplaySession extends EffectPerformer {
  /** "METHOD URL" of each request the record had no answer for, in order. */
  readonly misses: readonly string[];
}

/** The identity a request is matched by; null when it does not parse (it can match nothing). */
function identity(method: string, url: string, body: string | null): string | null {
  try {
    const m = normalMethod(method, url);
    return JSON.stringify([m, parseTarget(url, m).url.href, body ?? '']);
  } catch {
    return null;
  }
}

export function replaySession(exchanges: CallRecord['egress'], manifestOf: (hash: string) => Manifest | null): ReplaySession {
  const byKey = new Map<string, EgressResponse[]>();
  for (const { request, response } of exchanges) {
    const key = identity(request.method, request.url, request.body);
    if (key === null) continue;
    const list = byKey.get(key) ?? [];
    list.push(response);
    byKey.set(key, list);
  }
  const misses: string[] = [];

  const serve = (caller: EgressCaller, request: EgressRequest): EgressResponse => {
    const method = normalMethod(request.method, String(request.url));
    const target = parseTarget(String(request.url), method);
    const url = target.url.href;
    const manifest = manifestOf(caller.hash);
    if (manifest === null) throw fail('EFFECT_FORBIDDEN', `fetch ${url} is forbidden: version ${caller.hash} of ${caller.name} is not known`, { url, reason: 'unknown version' });
    authorize(target, { name: caller.name, version: caller.version, manifest, owner: { id: '', name: '' }, grants: 'all' });
    const limit = effectLimits(manifest.effects).requestBodyBytes;
    if (request.body !== null && Buffer.byteLength(request.body, 'base64') > limit) {
      const reason = `request body exceeds ${limit} bytes`;
      throw fail('EFFECT_FAILED', `fetch ${method} ${url} failed: ${reason}`, { url, reason, limit });
    }
    const key = JSON.stringify([method, url, request.body ?? '']);
    const answer = byKey.get(key)?.shift();
    if (!answer) {
      misses.push(`${method} ${url}`);
      throw fail('EFFECT_FORBIDDEN', `no recorded response for ${method} ${url} (a replay serves only the requests the recorded call made)`, { url, method, reason: 'not in the record' });
    }
    return answer;
  };

  return {
    misses,
    records: [] as readonly EffectRecord[],
    nextAttempt() {},
    perform(caller, request): Promise<EgressResult> {
      try {
        return Promise.resolve({ ok: true, response: serve(caller, request) });
      } catch (e) {
        return Promise.resolve({ ok: false, error: asSubstrateError(e, 'EFFECT_FAILED').toWire() });
      }
    },
  };
}
