// The kernel's egress performer (the contract's "Effects: reaching the world"; docs/effects.md):
// for one call tree (an EgressSession per root invocation) it decides and performs each request a
// capability's `fetch` sent over from the sandbox, and keeps the tree's effect journal for re-runs.
//
// One request, in order: the URL and its scheme (http/https; no credentials in the URL); the
// manifest of the calling version declares an `effects.http` entry matching host, port and method;
// a CURRENT grant of its owner matches too (read from the policy on every request, so a revoke bites
// the next one; operators: the entry is the grant); the tree's request count and the request body
// size; then, unless a previous attempt of this tree made the identical request (replayed), the
// host is resolved by the kernel and every address classed (capabilities/addresses.ts): a
// non-public one is refused unless the matching grant names the host or IP literally; the
// connection goes to that very address (kernel/egress-http.ts) with TLS checked against the host
// name; secrets named by the matching entries and whose hosts match are set as headers; redirects
// are followed here (MAX_REDIRECTS), each hop checked like a new request (303, and 301/302 of a
// POST, become a GET without body; a cross-origin hop drops the capability's Authorization); every
// secret the tree used is redacted from the response (kernel/egress-redact.ts) before it is
// recorded and returned. Everything fails as EFFECT_FORBIDDEN (not allowed) or EFFECT_FAILED
// ({ url, reason }: network, timeout, limits); perform() never throws.
//
// Decisions:
// - Ports: a pattern without a port matches every port (destinations.ts); nothing else is refused.
// - Encoding: the kernel sends `accept-encoding: gzip, deflate, br` (the capability's is dropped)
//   and decodes gzip/deflate/br itself; the body limit counts decoded bytes. Unknown encodings are
//   passed through with their content-encoding header.
// - Headers the capability may not set (dropped, as browsers drop forbidden headers): host,
//   content-length, connection, transfer-encoding, keep-alive, proxy-connection, te, trailer,
//   upgrade, expect, accept-encoding, and any header a secret of the hop sets (the kernel's wins).
//   `user-agent` defaults to "substrate". Hop-by-hop headers are stripped from responses.
// - The init's `redirect: 'manual' | 'error'` is not honoured: the kernel always follows (checked).
// - In-flight: requests past effectLimits().inFlight wait for a slot (within the deadline); past
//   effectLimits().requests per attempt of the tree they fail EFFECT_FAILED { limit }.
//   Limits are the calling version's manifest's.
// - Journal: a request's identity is (calling version, method, URL, the headers the capability
//   set, body). nextAttempt() rewinds: each identical request is served the responses recorded
//   for it in earlier attempts, in order; past those it goes out (and its response joins them).
//   Failures are recorded (status null) but never replayed. A replay checks manifest and grant
//   again (a revoke bites) but not DNS. Refused requests are recorded too (the audit trail).
// - Gates and dry runs use fixtureSession (kernel/egress-fixtures.ts), also Egress.fixtures.

import dns from 'node:dns';
import { createHash } from 'node:crypto';
import { effectLimits, JOURNAL_BYTES_PER_TREE, MAX_REDIRECTS, type EffectLimits, type EffectRecord, type EgressCaller, type EgressRequest, type EgressResponse, type EgressResult } from '../capabilities/effects.ts';
import { fail, SubstrateError } from '../capabilities/errors.ts';
import type { Manifest } from '../capabilities/types.ts';
import { abortable, authorize, normalMethod, parseTarget, resolveChecked, startRecord, type EgressOwner, type HttpGrant, type Lookup } from './egress-check.ts';
import { fixtureSession } from './egress-fixtures.ts';
import { ACCEPT_ENCODING, HopError, sendHop } from './egress-http.ts';
import { headerValue, Redactor, secretsFor, type EgressSecret } from './egress-redact.ts';

export type { EgressOwner, HttpGrant, Lookup } from './egress-check.ts';
export type { EgressSecret } from './egress-redact.ts';
export { fixtureSession, type FixtureSession, type FixtureOptions } from './egress-fixtures.ts';

/** What egress asks the kernel (the lead implements it from the store and grants). Read on every
 *  request: nothing is cached here. */
export interface EgressPolicy {
  manifestOf(hash: string): Manifest | null;
  /** The owner of the version (whose grants count; the journal names it). */
  ownerOf(hash: string): EgressOwner | null;
  /** The owner's current http grants; 'all' for an operator (the manifest entry is the grant). */
  grantsOf(hash: string): HttpGrant[] | 'all';
  secret(name: string): EgressSecret | null;
}

export interface EgressOptions {
  policy: EgressPolicy;
  /** Resolves a host name to all its addresses (default dns.promises.lookup, all: true). */
  lookup?: Lookup;
  now?: () => number;
  /** Every record as it is made (the store persists it). */
  onRecord?: (r: EffectRecord) => void;
  /** Trusted CAs instead of Node's defaults (tests, private CAs). */
  ca?: string | Buffer | Array<string | Buffer>;
}

/** What invocation.ts calls: a live session, or a gate's fixture session. */
export interface EffectPerformer {
  perform(caller: EgressCaller, request: EgressRequest): Promise<EgressResult>;
  /** Before a re-run of the tree after a state conflict. */
  nextAttempt(): void;
  readonly records: readonly EffectRecord[];
}

const defaultLookup: Lookup = (host) => dns.promises.lookup(host, { all: true });

/** Request headers the kernel owns (see the top comment). */
const KERNEL_HEADERS = new Set(['host', 'content-length', 'connection', 'transfer-encoding', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect', 'accept-encoding']);
/** Headers describing a body, dropped when a redirect turns the request into a bodiless GET (WHATWG). */
const BODY_HEADERS = new Set(['content-type', 'content-encoding', 'content-language', 'content-location']);
/** setTimeout's largest delay; a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const VALID_HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export class Egress {
  static readonly fixtures = fixtureSession;

  constructor(private readonly opts: EgressOptions) {}

  /** A session for one call tree (root invocation); keep it across the tree's re-runs. */
  session(invocationId: string): EgressSession {
    return new EgressSession(invocationId, this.opts);
  }
}

interface Who {
  name: string;
  version: string;
  manifest: Manifest;
  owner: EgressOwner;
  grants: HttpGrant[] | 'all';
  limits: EffectLimits;
}

export class EgressSession implements EffectPerformer {
  private readonly list: EffectRecord[] = [];
  /** Responses by request identity, in the order they were recorded; `next` rewinds per attempt. */
  private readonly journal = new Map<string, { responses: EgressResponse[]; next: number }>();
  private readonly redactor = new Redactor();
  private readonly lookup: Lookup;
  private readonly now: () => number;
  private requests = 0;
  /** Base64 bytes of the responses kept for re-runs (JOURNAL_BYTES_PER_TREE). */
  private kept = 0;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly invocationId: string,
    private readonly opts: EgressOptions,
  ) {
    this.lookup = opts.lookup ?? defaultLookup;
    this.now = opts.now ?? Date.now;
  }

  get records(): readonly EffectRecord[] {
    return this.list;
  }

  /** Before a re-run of the tree (state conflict): identical requests are served from the journal. */
  nextAttempt(): void {
    for (const j of this.journal.values()) j.next = 0;
    this.requests = 0;
  }

  async perform(caller: EgressCaller, request: EgressRequest): Promise<EgressResult> {
    const started = this.now();
    const owner = this.opts.policy.ownerOf(caller.hash);
    const record = startRecord(caller, request, started, this.invocationId, owner);
    const controller = new AbortController();
    const remaining = caller.deadline - started;
    const timer = setTimeout(() => controller.abort(fail('EFFECT_FAILED', `fetch ${record.url} failed: timeout`, { url: record.url, reason: 'timeout' })), Math.min(Math.max(0, remaining), MAX_TIMER_MS));
    try {
      const response = await this.run(caller, request, owner, record, controller.signal);
      record.status = response.status;
      record.finalUrl = response.url;
      record.responseBytes = Buffer.byteLength(response.body, 'base64');
      record.response = response;
      return { ok: true, response };
    } catch (e) {
      const thrown: unknown = controller.signal.aborted ? controller.signal.reason : e;
      // Anything not typed is a bug or a malformed request from the worker: EFFECT_FAILED, with
      // no kernel stack in what goes back to the sandbox.
      const err =
        thrown instanceof SubstrateError
          ? thrown
          : fail('EFFECT_FAILED', `fetch ${record.url.slice(0, 200)} failed: ${thrown instanceof Error ? thrown.message : String(thrown)}`, { url: record.url.slice(0, 200), reason: thrown instanceof Error ? thrown.message : String(thrown) });
      const safe = new SubstrateError(err.type, this.redactor.text(err.message), this.redactor.data(err.data));
      record.error = safe.message;
      return { ok: false, error: safe.toWire() };
    } finally {
      clearTimeout(timer);
      record.durationMs = this.now() - started;
      this.list.push(record);
      try {
        this.opts.onRecord?.(record);
      } catch {
        // Persisting is the store's business; perform() still answers the sandbox.
      }
    }
  }

  private who(caller: EgressCaller, owner: EgressOwner | null, url: string): Who {
    const manifest = this.opts.policy.manifestOf(caller.hash);
    if (manifest === null || owner === null) {
      throw fail('EFFECT_FORBIDDEN', `fetch ${url} is forbidden: version ${caller.hash} of ${caller.name} is not known`, { url, reason: 'unknown version' });
    }
    return { name: caller.name, version: caller.version, manifest, owner, grants: this.opts.policy.grantsOf(caller.hash), limits: effectLimits(manifest.effects) };
  }

  private async run(caller: EgressCaller, request: EgressRequest, owner: EgressOwner | null, record: EffectRecord, signal: AbortSignal): Promise<EgressResponse> {
    if (caller.deadline <= this.now()) throw fail('EFFECT_FAILED', `fetch ${String(request.url)} failed: timeout`, { url: String(request.url), reason: 'timeout' });
    const method = normalMethod(request.method, String(request.url));
    record.method = method;
    const who = this.who(caller, owner, String(request.url));
    let target = parseTarget(String(request.url), method);
    record.url = target.url.href;
    let auth = authorize(target, who);
    const body = request.body === null ? null : Buffer.from(request.body, 'base64');
    record.requestBytes = body?.length ?? 0;
    const url = target.url.href;
    if (body && (method === 'GET' || method === 'HEAD')) throw fail('EFFECT_FAILED', `fetch ${method} ${url} failed: a ${method} request cannot have a body`, { url, reason: `${method} with a body` });
    if (body && body.length > who.limits.requestBodyBytes) {
      const reason = `request body exceeds ${who.limits.requestBodyBytes} bytes`;
      throw fail('EFFECT_FAILED', `fetch ${method} ${url} failed: ${reason}`, { url, reason, limit: who.limits.requestBodyBytes });
    }
    if (this.requests >= who.limits.requests) {
      const reason = `the call tree made ${who.limits.requests} requests, its limit`;
      throw fail('EFFECT_FAILED', `fetch ${method} ${url} failed: ${reason}`, { url, reason, limit: who.limits.requests });
    }
    this.requests++;
    const headers = capabilityHeaders(request.headers, url);

    const key = identity(caller.hash, method, url, headers, request.body);
    const entry = this.journal.get(key);
    if (entry && entry.next < entry.responses.length) {
      record.replayed = true;
      return entry.responses[entry.next++] as EgressResponse;
    }

    await this.slot(signal, who.limits.inFlight);
    try {
      let hopMethod = method;
      let hopBody = body;
      let hopHeaders = headers;
      for (let hop = 0; ; hop++) {
        const addresses = await resolveChecked(target, auth.literal, this.lookup, signal);
        const secrets = secretsFor(auth.entries, target.host, target.port, (n) => this.opts.policy.secret(n), target.url.href);
        for (const s of secrets) this.redactor.add(s);
        const secretHeaders = new Set(secrets.map((s) => s.header.toLowerCase()));
        const sent: Array<[string, string]> = [
          ...hopHeaders.filter(([n]) => !secretHeaders.has(n)),
          ['accept-encoding', ACCEPT_ENCODING],
          ...(hopHeaders.some(([n]) => n === 'user-agent') ? [] : [['user-agent', 'substrate'] as [string, string]]),
          ...(hopBody ? [['content-length', String(hopBody.length)] as [string, string]] : []),
          ...secrets.map((s): [string, string] => [s.header.toLowerCase(), headerValue(s)]),
        ];
        let res;
        try {
          res = await sendHop({ url: target.url, method: hopMethod, headers: sent, body: hopBody, addresses, signal, maxResponseBytes: who.limits.responseBodyBytes, ...(this.opts.ca !== undefined ? { ca: this.opts.ca } : {}) });
        } catch (e) {
          if (!(e instanceof HopError)) throw e;
          if (signal.aborted) throw signal.reason;
          const hopUrl = target.url.href;
          throw fail('EFFECT_FAILED', `fetch ${method} ${url} failed${hopUrl !== url ? ` at ${hopUrl}` : ''}: ${e.reason}`, {
            url,
            ...(hopUrl !== url ? { hopUrl } : {}),
            reason: e.reason,
            ...(e.limit !== undefined ? { limit: e.limit } : {}),
          });
        }
        const location = res.headers.find(([n]) => n === 'location')?.[1];
        if (!REDIRECTS.has(res.status) || location === undefined) {
          const response = this.response(res, target.url.href, hop > 0);
          this.remember(key, response);
          return response;
        }
        if (hop >= MAX_REDIRECTS) {
          const reason = `more than ${MAX_REDIRECTS} redirects`;
          throw fail('EFFECT_FAILED', `fetch ${method} ${url} failed: ${reason}`, { url, reason, limit: MAX_REDIRECTS });
        }
        let next: string;
        try {
          next = new URL(location, target.url).href;
        } catch {
          const reason = 'a redirect with an invalid Location';
          throw fail('EFFECT_FAILED', `fetch ${method} ${url} failed: ${reason}`, { url, reason, hopUrl: target.url.href });
        }
        if (res.status === 303 ? hopMethod !== 'GET' && hopMethod !== 'HEAD' : (res.status === 301 || res.status === 302) && hopMethod === 'POST') {
          hopMethod = 'GET';
          hopBody = null;
          hopHeaders = hopHeaders.filter(([n]) => !BODY_HEADERS.has(n));
        }
        const previous = target;
        target = parseTarget(next, hopMethod, previous.url.href);
        if (target.url.origin !== previous.url.origin) hopHeaders = hopHeaders.filter(([n]) => n !== 'authorization');
        auth = authorize(target, who);
      }
    } finally {
      this.release();
    }
  }

  /** The response as the sandbox gets it: every secret of the tree redacted; joins the journal. */
  private response(res: { status: number; statusText: string; headers: Array<[string, string]>; body: Buffer }, finalUrl: string, redirected: boolean): EgressResponse {
    const body = this.redactor.bytes(res.body);
    let headers = res.headers.map(([n, v]): [string, string] => [n, this.redactor.headerText(v)]);
    if (body !== res.body && headers.some(([n]) => n === 'content-length')) headers = headers.map(([n, v]): [string, string] => [n, n === 'content-length' ? String(body.length) : v]);
    return { status: res.status, statusText: this.redactor.headerText(res.statusText), headers, url: this.redactor.text(finalUrl), redirected, body: body.toString('base64') };
  }

  /** Remembers a live response under its request's identity, past what this attempt replayed. */
  private remember(key: string, response: EgressResponse): void {
    // A tree may fetch up to 50 × 8 MiB; what it keeps for its re-runs is bounded apart from that,
    // so many concurrent trees cannot hold the kernel's memory. Past the budget a re-run makes the
    // request again (docs/effects.md, "What it cannot").
    this.kept += response.body.length;
    if (this.kept > JOURNAL_BYTES_PER_TREE) return;
    const entry = this.journal.get(key) ?? { responses: [], next: 0 };
    entry.responses.push(response);
    entry.next = entry.responses.length;
    this.journal.set(key, entry);
  }

  /** Waits for one of the tree's in-flight slots (the calling version's limit). */
  private async slot(signal: AbortSignal, limit: number): Promise<void> {
    while (this.inFlight >= limit) {
      await abortable(new Promise<void>((r) => this.waiting.push(r)), signal);
    }
    this.inFlight++;
  }

  private release(): void {
    this.inFlight--;
    // Every waiter re-checks: one that timed out meanwhile must not swallow the wake-up.
    for (const wake of this.waiting.splice(0)) wake();
  }
}

function capabilityHeaders(raw: Array<[string, string]>, url: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const pair of Array.isArray(raw) ? raw : []) {
    const [name, value] = pair;
    if (typeof name !== 'string' || typeof value !== 'string' || !VALID_HEADER_NAME.test(name) || /[\r\n]/.test(value) || value.includes('\u0000')) {
      const reason = typeof name === 'string' && VALID_HEADER_NAME.test(name) ? `invalid value for header ${name}` : 'invalid header name';
      throw fail('EFFECT_FAILED', `fetch ${url} failed: ${reason}`, { url, reason });
    }
    const lower = name.toLowerCase();
    if (!KERNEL_HEADERS.has(lower)) out.push([lower, value]);
  }
  return out;
}

/** The identity of a request for the journal: who, method, URL, the capability's headers, body. */
function identity(hash: string, method: string, url: string, headers: Array<[string, string]>, body: string | null): string {
  const sorted = [...headers].sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  return createHash('sha256').update(JSON.stringify([hash, method, url, sorted, body])).digest('hex');
}
