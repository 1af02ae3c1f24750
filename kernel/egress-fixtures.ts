// Egress for gates, migrations' tests and dry runs (docs/effects.md, "Gates, migrations and dry
// runs"): nothing leaves the machine. A request is served the first `http` fixture of the test
// whose method (absent: any) and URL (exact, after `new URL` normalization) match; any other
// request fails with EFFECT_FORBIDDEN "no http fixture for GET https://…" and is listed in
// `unfixtured`, which the gate reads to fail the test even when the capability caught the error.
//
// Checks: the URL, its scheme and the calling version's manifest `effects.http` entry (host, port,
// method) apply as live (a capability may not fetch what it does not declare, even in a test);
// grants, DNS and address classes do not (nothing is reached, and a gate runs before the version's
// grants matter). Request body size applies. A fixture's response is final: a 3xx fixture is
// returned as it is, not followed. A string body is sent as it is (text/plain unless the fixture
// sets content-type); any other JSON value as its JSON text (application/json).

import { STATUS_CODES } from 'node:http';
import { effectLimits, type EffectRecord, type EgressCaller, type EgressRequest, type EgressResponse, type EgressResult, type HttpFixture } from '../capabilities/effects.ts';
import { asSubstrateError, fail } from '../capabilities/errors.ts';
import type { Manifest } from '../capabilities/types.ts';
import { authorize, normalMethod, parseTarget, startRecord } from './egress-check.ts';

export interface FixtureOptions {
  fixtures: HttpFixture[];
  manifestOf(hash: string): Manifest | null;
  /** The invocation id the records carry (default "gate"). */
  invocationId?: string;
  now?: () => number;
  onRecord?: (r: EffectRecord) => void;
}

export interface FixtureSession {
  perform(caller: EgressCaller, request: EgressRequest): Promise<EgressResult>;
  /** A no-op: fixtures are served the same on every attempt. */
  nextAttempt(): void;
  readonly records: readonly EffectRecord[];
  /** "METHOD URL" of each request no fixture matched, in order. */
  readonly unfixtured: readonly string[];
}

function fixtureResponse(f: HttpFixture, url: string): EgressResponse {
  const status = f.response.status ?? 200;
  const headers: Array<[string, string]> = Object.entries(f.response.headers ?? {}).map(([n, v]) => [n.toLowerCase(), String(v)]);
  const raw = f.response.body;
  const text = raw === undefined ? '' : typeof raw === 'string' ? raw : JSON.stringify(raw);
  if (raw !== undefined && !headers.some(([n]) => n === 'content-type')) {
    headers.push(['content-type', typeof raw === 'string' ? 'text/plain;charset=UTF-8' : 'application/json']);
  }
  return { status, statusText: STATUS_CODES[status] ?? '', headers, url, redirected: false, body: Buffer.from(text, 'utf8').toString('base64') };
}

function normalUrl(u: string): string | null {
  try {
    const url = new URL(u);
    url.hash = '';
    return url.href;
  } catch {
    return null;
  }
}

export function fixtureSession(opts: FixtureOptions): FixtureSession {
  const records: EffectRecord[] = [];
  const unfixtured: string[] = [];
  const now = opts.now ?? Date.now;
  const fixtures = opts.fixtures.map((f) => ({ f, method: f.request.method?.toUpperCase(), url: normalUrl(f.request.url) }));

  const serve = (caller: EgressCaller, request: EgressRequest, record: EffectRecord): EgressResponse => {
    const method = normalMethod(request.method, String(request.url));
    record.method = method;
    const target = parseTarget(String(request.url), method);
    const url = target.url.href;
    record.url = url;
    record.finalUrl = url;
    const manifest = opts.manifestOf(caller.hash);
    if (manifest === null) throw fail('EFFECT_FORBIDDEN', `fetch ${url} is forbidden: version ${caller.hash} of ${caller.name} is not known`, { url, reason: 'unknown version' });
    authorize(target, { name: caller.name, version: caller.version, manifest, owner: { id: '', name: '' }, grants: 'all' });
    const limit = effectLimits(manifest.effects).requestBodyBytes;
    record.requestBytes = request.body === null ? 0 : Buffer.byteLength(request.body, 'base64');
    if (record.requestBytes > limit) {
      const reason = `request body exceeds ${limit} bytes`;
      throw fail('EFFECT_FAILED', `fetch ${method} ${url} failed: ${reason}`, { url, reason, limit });
    }
    const hit = fixtures.find((x) => (x.method === undefined || x.method === method) && x.url === url);
    if (!hit) {
      unfixtured.push(`${method} ${url}`);
      throw fail('EFFECT_FORBIDDEN', `no http fixture for ${method} ${url} (a test declares the responses its requests get in tests[].http)`, { url, method, reason: 'no fixture' });
    }
    return fixtureResponse(hit.f, url);
  };

  return {
    records,
    unfixtured,
    nextAttempt() {},
    perform(caller, request) {
      const at = now();
      const record = startRecord(caller, request, at, opts.invocationId ?? 'gate', null);
      let result: EgressResult;
      try {
        const response = serve(caller, request, record);
        record.status = response.status;
        record.responseBytes = Buffer.byteLength(response.body, 'base64');
        record.response = response;
        result = { ok: true, response };
      } catch (e) {
        const err = asSubstrateError(e, 'EFFECT_FAILED');
        record.error = err.message;
        result = { ok: false, error: err.toWire() };
      }
      record.durationMs = now() - at;
      records.push(record);
      opts.onRecord?.(record);
      return Promise.resolve(result);
    },
  };
}
