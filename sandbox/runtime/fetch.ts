// The fetch global: builds a Request (an input URL that does not parse goes to the host as it is,
// which refuses it with EFFECT_FAILED), sends it as one EgressRequest (capabilities/effects.ts:
// lower-case header names, base64 body) through the transport the bridge links in (the hidden
// __sb_fetch global, SB_FETCH_GLOBAL, which the bridge takes and deletes before capability code
// runs), and turns the kernel's EgressResponse into a Response with immutable headers. The
// transport attributes the request to a call and rejects with the kernel's typed errors (type and
// data, as ctx.call's). Bodies are buffered whole both ways; `init.signal` is ignored.
import { JSONParse, JSONStringify, PromiseCtor, PromisePrototypeThen, ArrayIsArray, TypeErrorCtor } from './primordials.ts';
import { EFFECT_LIMITS } from '../../capabilities/effects.ts';
import { bytesToBase64, base64ToBytes } from './base64.ts';
import { Request, requestRecord, isRequest, withLenientURL, fetchedResponse, type Response } from './request-response.ts';
import type { HeaderPairs } from './headers.ts';

/** The bridge's half: sends the request's JSON text for the current call and resolves with the
 *  answer's JSON text (an EgressResponse), or rejects with a typed error. `bodyBytes` lets the
 *  bridge refuse a body over the kernel's limit before anything crosses. */
export type FetchTransport = (requestJson: string, url: string, bodyBytes: number) => Promise<unknown>;

let transport: FetchTransport | null = null;

/** Called once, by the bridge (through the hidden global); later calls change nothing. */
export function linkFetch(t: unknown): void {
  if (transport === null && typeof t === 'function') transport = t as FetchTransport;
}

// JSON text built by hand from strings: JSON.stringify of a string primitive consults no toJSON,
// whatever capability code put on the prototypes.
function requestJson(method: string, url: string, headers: HeaderPairs, body: string | null): string {
  let h = '';
  for (let i = 0; i < headers.length; i++) {
    h += (i === 0 ? '[' : ',[') + JSONStringify(headers[i][0]) + ',' + JSONStringify(headers[i][1]) + ']';
  }
  return '{"method":' + JSONStringify(method) + ',"url":' + JSONStringify(url) + ',"headers":[' + h + '],"body":' + (body === null ? 'null' : '"' + body + '"') + '}';
}

function malformed(): TypeError {
  return new TypeErrorCtor('fetch: malformed response from the host');
}

function toResponse(text: unknown): Response {
  if (typeof text !== 'string') throw malformed();
  const v = JSONParse(text);
  if (v === null || typeof v !== 'object') throw malformed();
  const status = v.status;
  const statusText = v.statusText;
  const headers = v.headers;
  const url = v.url;
  const body = v.body;
  if (typeof status !== 'number' || typeof statusText !== 'string' || !ArrayIsArray(headers) || typeof url !== 'string' || typeof body !== 'string') throw malformed();
  const list: HeaderPairs = [];
  for (let i = 0; i < headers.length; i++) {
    const pair = headers[i];
    if (!ArrayIsArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') throw malformed();
    list[list.length] = [pair[0], pair[1]];
  }
  const bytes = base64ToBytes(body);
  if (bytes === null) throw malformed();
  return fetchedResponse({ __proto__: null, status, statusText, headers: list, url, redirected: v.redirected === true, body: bytes });
}

export function fetch(input, init: unknown = undefined): Promise<Response> {
  try {
    if (arguments.length === 0) throw new TypeErrorCtor("fetch: 1 argument required, but only 0 present.");
    const request = isRequest(input) && init === undefined ? input as Request : withLenientURL(() => new Request(input, init));
    const r = requestRecord(request);
    if (transport === null) throw new TypeErrorCtor('fetch is not available here');
    // A body over the kernel's limit is not encoded: the bridge refuses it by its size.
    const tooLarge = r.body !== null && r.body.length > EFFECT_LIMITS.requestBodyBytes;
    const json = requestJson(r.method, r.url, r.headers, r.body === null || tooLarge ? null : bytesToBase64(r.body));
    const sent = transport(json, r.url, r.body === null ? 0 : r.body.length);
    return new PromiseCtor((resolve, reject) => {
      PromisePrototypeThen(sent, (text) => {
        try { resolve(toResponse(text)); } catch (e) { reject(e); }
      }, reject);
    });
  } catch (e) {
    return new PromiseCtor((_resolve, reject) => reject(e));
  }
}
