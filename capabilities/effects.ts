// The plain data of effects (the contract's "Effects: reaching the world"): what a manifest declares,
// the limits of a call tree's egress, and the shape of one request and its response as they travel
// isolate -> worker -> kernel and back. The kernel performs every request (kernel/egress.ts); the
// sandbox only ever sees these records. No behaviour here beyond the limits' arithmetic.

import type { WireError } from './errors.ts';
import type { Effects } from './types.ts';

export type { Effects, HttpEffect, HttpFixture } from './types.ts';


/** Egress limits of one call tree (kernel-wide defaults; a manifest may only lower them). */
export interface EffectLimits {
  /** Requests one call tree may make in all. */
  requests: number;
  /** Requests one call tree may have in flight at once. */
  inFlight: number;
  /** Bytes of one request body. */
  requestBodyBytes: number;
  /** Bytes of one response body (after decompression). */
  responseBodyBytes: number;
}

export const EFFECT_LIMITS: EffectLimits = {
  requests: 50,
  inFlight: 6,
  requestBodyBytes: 1024 * 1024,
  responseBodyBytes: 8 * 1024 * 1024,
};

/** A request ends this long (at most a tenth of the call's timeoutMs) before the call's deadline,
 *  so that the capability gets EFFECT_FAILED { reason: 'timeout' } while it can still act on it,
 *  instead of the whole call ending in TIMEOUT. */
export const REQUEST_DEADLINE_MARGIN_MS = 100;

export function requestDeadline(callDeadline: number, timeoutMs: number): number {
  return callDeadline - Math.min(REQUEST_DEADLINE_MARGIN_MS, Math.floor(timeoutMs / 10));
}

/** Response bytes (as base64 text) one call tree keeps for replay to its re-runs. */
export const JOURNAL_BYTES_PER_TREE = 32 * 1024 * 1024;

/** Redirects the kernel follows for one request, each hop checked again. */
export const MAX_REDIRECTS = 5;


/** A manifest's limits: the kernel's, lowered where the manifest says so. */
export function effectLimits(effects: Effects | undefined): EffectLimits {
  const l = effects?.limits;
  if (!l) return EFFECT_LIMITS;
  return {
    requests: Math.min(EFFECT_LIMITS.requests, l.requests ?? Infinity),
    inFlight: Math.min(EFFECT_LIMITS.inFlight, l.inFlight ?? Infinity),
    requestBodyBytes: Math.min(EFFECT_LIMITS.requestBodyBytes, l.requestBodyBytes ?? Infinity),
    responseBodyBytes: Math.min(EFFECT_LIMITS.responseBodyBytes, l.responseBodyBytes ?? Infinity),
  };
}

/** One request as the sandbox hands it to the kernel. Header names are lower-case; `body` is
 *  base64 (null: none). */
export interface EgressRequest {
  method: string;
  url: string;
  headers: Array<[name: string, value: string]>;
  body: string | null;
}

/** One response as the kernel hands it back: after redirects, secrets redacted, body base64. */
export interface EgressResponse {
  status: number;
  statusText: string;
  headers: Array<[name: string, value: string]>;
  /** The final URL (after redirects). */
  url: string;
  redirected: boolean;
  body: string;
}

export type EgressResult = { ok: true; response: EgressResponse } | { ok: false; error: WireError };

/** Who asks: the call of the tree that called fetch. */
export interface EgressCaller {
  /** The root invocation's id (the tree's; also the journal's key). */
  invocationId: string;
  /** The version hash, name and version of the capability whose code called fetch. */
  hash: string;
  name: string;
  version: string;
  /** The tree's absolute deadline (epoch ms): the request must end by then. */
  deadline: number;
}


/** One entry of the effect journal (effects/list; docs/effects.md): one request of a call tree,
 *  as the kernel made it or served it from the journal on a re-run. Never holds a secret: request
 *  headers are not recorded, and the response is the redacted one the sandbox saw. */
export interface EffectRecord {
  id: string;
  at: number;
  /** The root invocation of the tree. */
  invocationId: string;
  /** The capability (and version) whose code made the request, and its owner. */
  name: string;
  version: string;
  hash: string;
  principal: string;
  principalName: string;
  method: string;
  /** The URL the capability asked for, and the final one after redirects. */
  url: string;
  finalUrl: string;
  /** Null when the request failed (then `error` says why). */
  status: number | null;
  error: string | null;
  requestBytes: number;
  responseBytes: number;
  durationMs: number;
  /** True when a re-run was served this response from the journal instead of the network. */
  replayed: boolean;
  /** The redacted response (base64 body) that re-runs and replays are served; null for failures
   *  and when retention dropped it. */
  response: EgressResponse | null;
}
