// The worker's half of fetch for one call tree (call-tree.ts's Binding answers the isolate's
// `fetch` op here): the checks the sandbox can make before anything leaves it (the calling
// version declares effects.http, the run has an egress hook, the URL parses, its scheme is http or
// https) and the tree-wide limits of effectLimits(calling manifest.effects), then the request goes
// to the kernel through the run's egress function (worker.ts -> pool.ts -> RunHooks.egress). The
// destination's match against effects.http and the owner's grants, secrets, DNS checks, redirects
// and the journal are the kernel's (kernel/egress.ts).
//
// Errors: EFFECT_FORBIDDEN { url, reason } (nothing declared, no hook, a scheme other than http:
// or https:); EFFECT_FAILED { url, reason: 'invalid URL' | 'malformed request' }; limits in the
// exceeded() family, as the tree's other limits: OVERLOADED { url, what: 'requests' | 'requests in
// flight', limit } and PAYLOAD_TOO_LARGE { url, what: 'request body', limit, size }.

import { exceeded, fail, type SubstrateError } from '../capabilities/errors.ts';
import { effectLimits, type EgressCaller, type EgressRequest, type EgressResult } from '../capabilities/effects.ts';
import { answer } from './wire.ts';
import type { VersionPayload } from './protocol.ts';

/** What the worker hands a run to reach the kernel: resolves with the kernel's result, or never
 *  when the run ends first. */
export type EgressFn = (caller: EgressCaller, request: EgressRequest) => Promise<EgressResult>;

/** The egress state of one call tree: shared by every call of the tree, nested ones included. */
export interface TreeEgress {
  egress: EgressFn | undefined;
  invocationId: string;
  /** The tree's absolute deadline (epoch ms): every request's. */
  deadline: number;
  /** Requests sent to the kernel so far, and those not answered yet. */
  requests: number;
  inFlight: number;
}

const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The isolate's request JSON (sandbox/runtime/fetch.ts) as an EgressRequest, or null. */
function parseRequest(json: unknown): EgressRequest | null {
  if (typeof json !== 'string') return null;
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object') return null;
  const r = v as { method?: unknown; url?: unknown; headers?: unknown; body?: unknown };
  if (typeof r.method !== 'string' || !METHOD.test(r.method) || typeof r.url !== 'string') return null;
  if (r.body !== null && typeof r.body !== 'string') return null;
  if (!Array.isArray(r.headers)) return null;
  const headers: Array<[string, string]> = [];
  for (const h of r.headers as unknown[]) {
    if (!Array.isArray(h) || h.length !== 2 || typeof h[0] !== 'string' || typeof h[1] !== 'string') return null;
    headers.push([h[0], h[1]]);
  }
  return { method: r.method, url: r.url, headers, body: r.body };
}

/** The bytes a base64 text decodes to (the isolate writes canonical base64). */
function base64Bytes(b64: string): number {
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return Math.floor((b64.length * 3) / 4) - pad;
}

function urlOf(json: unknown): string {
  try {
    const u = typeof json === 'string' ? (JSON.parse(json) as { url?: unknown }).url : undefined;
    return typeof u === 'string' ? u.slice(0, 2048) : '';
  } catch {
    return '';
  }
}

/** One fetch of the call of `payload` in the tree: an answer for the isolate (bridge.answer). */
export function treeFetch(tree: TreeEgress, payload: VersionPayload, requestJson: unknown): string | Promise<string> {
  const { name, version, hash, manifest } = payload;
  const refuse = (e: SubstrateError) => answer.error(e.toWire());
  const effects = manifest.effects;
  if (!effects || effects.http.length === 0) {
    const url = urlOf(requestJson);
    return refuse(fail('EFFECT_FORBIDDEN', `${name}@${version} declares no effects.http, so it cannot fetch ${url}`, { url, reason: 'no effects.http declared', name }));
  }
  if (!tree.egress) {
    const url = urlOf(requestJson);
    return refuse(fail('EFFECT_FORBIDDEN', `this run of ${name}@${version} may not reach the network (no egress), so it cannot fetch ${url}`, { url, reason: 'no egress for this run', name }));
  }
  const request = parseRequest(requestJson);
  if (!request) {
    const url = urlOf(requestJson);
    return refuse(fail('EFFECT_FAILED', `fetch of ${url}: malformed request`, { url, reason: 'malformed request' }));
  }
  const url = request.url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return refuse(fail('EFFECT_FAILED', `fetch of ${url.slice(0, 2048)}: invalid URL`, { url: url.slice(0, 2048), reason: 'invalid URL' }));
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return refuse(fail('EFFECT_FORBIDDEN', `fetch of ${url}: only http: and https: URLs can be fetched, not ${parsed.protocol}`, { url, reason: `scheme ${parsed.protocol} is not http: or https:` }));
  }
  const limits = effectLimits(effects);
  const size = request.body === null ? 0 : base64Bytes(request.body);
  if (size > limits.requestBodyBytes) {
    return refuse(exceeded('size', `the request body is ${size} bytes, the limit is ${limits.requestBodyBytes}`, { what: 'request body', limit: limits.requestBodyBytes, size, url }));
  }
  if (tree.requests >= limits.requests) {
    return refuse(exceeded('work', `the invocation made ${tree.requests} requests, the limit is ${limits.requests}`, { what: 'requests', limit: limits.requests, url }));
  }
  if (tree.inFlight >= limits.inFlight) {
    return refuse(exceeded('work', `the invocation has ${tree.inFlight} requests in flight, the limit is ${limits.inFlight}`, { what: 'requests in flight', limit: limits.inFlight, url }));
  }
  tree.requests++;
  tree.inFlight++;
  const caller: EgressCaller = { invocationId: tree.invocationId, hash, name, version, deadline: tree.deadline };
  return tree.egress(caller, request).then(
    (result) => {
      tree.inFlight--;
      return result.ok ? answer.value(JSON.stringify(result.response)) : answer.error(result.error);
    },
    (e: unknown) => {
      tree.inFlight--;
      const reason = e instanceof Error ? e.message : String(e);
      return answer.error(fail('EFFECT_FAILED', `fetch of ${url}: ${reason}`, { url, reason }).toWire());
    },
  );
}
