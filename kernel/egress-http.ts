// One HTTP exchange of the kernel's egress (kernel/egress.ts decides whether and where; this file
// only talks): node:http / node:https to exactly the address the checks approved, never a second
// DNS resolution (the `lookup` hook returns that address), TLS verified against the URL's host name
// (servername and the certificate check use the host, not the address), no redirects (the caller
// follows them). Connections are kept alive and reused only among requests to the same host, port
// and set of checked addresses (one keep-alive Agent per such key, an LRU of them): a pooled socket
// is connected to an address that was checked for exactly that host, so reuse never skips a check.
// The response body is read up to the limit, then decoded (gzip, deflate, br)
// with the same limit on the decoded size, so a compressed bomb stops at the limit too.
//
// Why node:http and not undici: it is built in (no dependency for the one client the kernel
// needs), its `lookup` option pins the address, and it sends exactly the headers it is given.

import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import zlib from 'node:zlib';
import { LRUCache } from 'lru-cache';
import { urlHost, urlPort } from '../capabilities/destinations.ts';

/** Keep-alive agents by (scheme, host, port, checked addresses, CA): at most this many. */
const MAX_AGENTS = 256;
const agents = new LRUCache<string, http.Agent>({ max: MAX_AGENTS, dispose: (a) => a.destroy() });
const caIds = new WeakMap<object, number>();
let nextCaId = 1;

function caKey(ca: Hop['ca']): string {
  if (ca === undefined) return '';
  if (typeof ca === 'string') return ca;
  let id = caIds.get(ca);
  if (id === undefined) caIds.set(ca, (id = nextCaId++));
  return `#${id}`;
}

/** The agent whose sockets may carry this hop: same key, same checked addresses. */
function agentFor(h: Hop, host: string, https_: boolean): http.Agent {
  const key = `${h.url.protocol}//${host}:${urlPort(h.url)}|${h.addresses.map((a) => a.address).join(',')}|${caKey(h.ca)}`;
  let agent = agents.get(key);
  if (!agent) {
    const opts = { keepAlive: true, maxSockets: 64, maxFreeSockets: 16, timeout: 30_000 };
    agent = https_ ? new https.Agent(opts) : new http.Agent(opts);
    agents.set(key, agent);
  }
  return agent;
}

export interface Hop {
  url: URL;
  method: string;
  /** Lower-case names; the final set (capability's, the kernel's, secrets). */
  headers: Array<[string, string]>;
  body: Buffer | null;
  /** The checked addresses, the only ones the connection may go to (tried in order). */
  addresses: Array<{ address: string; family: 4 | 6 }>;
  signal: AbortSignal;
  maxResponseBytes: number;
  /** Trusted CAs instead of Node's defaults (tests, private CAs). */
  ca?: string | Buffer | Array<string | Buffer>;
}

export interface HopResponse {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

/** A failed exchange: `reason` is what EFFECT_FAILED's data says (never a header value). */
export class HopError extends Error {
  constructor(
    readonly reason: string,
    readonly limit?: number,
  ) {
    super(reason);
  }
}

/** Response headers about this connection, not the message (RFC 9110 7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/** What the kernel accepts, and decodes itself. */
export const ACCEPT_ENCODING = 'gzip, deflate, br';

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH|ERR_OSSL_)/;

/** The reason EFFECT_FAILED gives for a socket, TLS or parser error. */
export function networkReason(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err.code === 'string' ? err.code : undefined;
  const message = typeof err.message === 'string' ? err.message : String(e);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (ECONNREFUSED)';
    case 'ECONNRESET':
      return 'connection reset (ECONNRESET)';
    case 'ETIMEDOUT':
      return 'connection timed out (ETIMEDOUT)';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `host unreachable (${code})`;
    case 'EPIPE':
      return 'connection closed while sending (EPIPE)';
  }
  if (code && TLS_CODES.test(code)) return `TLS: ${message} (${code})`;
  if (code?.startsWith('HPE_')) return `invalid HTTP response: ${message} (${code})`;
  return code ? `${message} (${code})` : message;
}

function headerObject(headers: Array<[string, string]>): { [name: string]: string } {
  const out: { [name: string]: string } = {};
  for (const [n, v] of headers) out[n] = n in out ? `${out[n]}${n === 'cookie' ? '; ' : ', '}${v}` : v;
  return out;
}

function responseHeaders(raw: string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([(raw[i] as string).toLowerCase(), raw[i + 1] as string]);
  const named = new Set(
    pairs
      .filter(([n]) => n === 'connection')
      .flatMap(([, v]) => v.split(','))
      .map((s) => s.trim().toLowerCase()),
  );
  return pairs.filter(([n]) => !HOP_BY_HOP.has(n) && !named.has(n));
}

type Decoder = (buf: Buffer, opts: zlib.ZlibOptions, cb: (e: Error | null, out: Buffer) => void) => void;

function decode(body: Buffer, encoding: string, max: number): Promise<Buffer | null> {
  const run = (fn: Decoder | ((b: Buffer, o: zlib.BrotliOptions, cb: (e: Error | null, out: Buffer) => void) => void)): Promise<Buffer> =>
    new Promise((resolve, reject) => (fn as Decoder)(body, { maxOutputLength: Math.max(1, max) }, (e, out) => (e ? reject(e) : resolve(out))));
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return run(zlib.gunzip);
    case 'deflate':
      // Servers send both zlib-wrapped and raw deflate under this name; browsers accept both.
      return run(zlib.inflate).catch((e: unknown) => ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ? Promise.reject(e) : run(zlib.inflateRaw)));
    case 'br':
      return run(zlib.brotliDecompress);
    default:
      return Promise.resolve(null);
  }
}

/** Pins the connection to the checked addresses, whichever form of lookup the socket asks for
 *  (all of them for Node's happy-eyeballs connect, else the first). */
function pinnedLookup(addresses: Array<{ address: string; family: 4 | 6 }>) {
  return (_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void): void => {
    const first = addresses[0] as { address: string; family: 4 | 6 };
    if (opts.all) cb(null, addresses);
    else cb(null, first.address, first.family);
  };
}

/** Sends one request and reads its whole response (no redirect following). */
export function sendHop(h: Hop): Promise<HopResponse> {
  return new Promise<HopResponse>((resolve, reject) => {
    if (h.signal.aborted) return reject(new HopError('timeout'));
    const host = urlHost(h.url);
    const https_ = h.url.protocol === 'https:';
    const options: https.RequestOptions = {
      protocol: h.url.protocol,
      hostname: host,
      port: urlPort(h.url),
      path: `${h.url.pathname}${h.url.search}`,
      method: h.method,
      headers: headerObject(h.headers),
      agent: agentFor(h, host, https_),
      lookup: pinnedLookup(h.addresses) as unknown as http.RequestOptions['lookup'],
      ...(https_ ? { ...(isIP(host) === 0 ? { servername: host } : {}), ...(h.ca !== undefined ? { ca: h.ca } : {}) } : {}),
    };
    let settled = false;
    const finish = (err: HopError | null, res?: HopResponse): void => {
      if (settled) return;
      settled = true;
      h.signal.removeEventListener('abort', onAbort);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(res as HopResponse);
    };
    const onAbort = (): void => finish(new HopError('timeout'));
    let req: http.ClientRequest;
    try {
      req = (https_ ? https : http).request(options);
    } catch (e) {
      return reject(new HopError(networkReason(e)));
    }
    h.signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e) => finish(new HopError(networkReason(e))));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const tooBig = (): HopError => new HopError(`response body exceeds ${h.maxResponseBytes} bytes`, h.maxResponseBytes);
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > h.maxResponseBytes) return finish(tooBig());
        chunks.push(c);
      });
      res.on('aborted', () => finish(new HopError('connection closed before the response ended')));
      res.on('error', (e) => finish(new HopError(networkReason(e))));
      res.on('end', () => {
        if (settled) return;
        const raw = Buffer.concat(chunks);
        let headers = responseHeaders(res.rawHeaders);
        const status = res.statusCode ?? 0;
        const encoding = (res.headers['content-encoding'] ?? '').trim().toLowerCase();
        const bodyless = h.method === 'HEAD' || status === 204 || status === 304 || raw.length === 0;
        const base = { status, statusText: res.statusMessage ?? '' };
        if (bodyless || encoding === '' || encoding === 'identity') return finish(null, { ...base, headers, body: raw });
        decode(raw, encoding, h.maxResponseBytes).then(
          (out) => {
            if (out === null) return finish(null, { ...base, headers, body: raw }); // an encoding we do not know: passed on as it is
            headers = headers.filter(([n]) => n !== 'content-encoding' && n !== 'content-length');
            finish(null, { ...base, headers, body: out });
          },
          (e: unknown) =>
            finish((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ? tooBig() : new HopError(`invalid ${encoding} response body: ${(e as Error).message}`)),
        );
      });
    });
    if (h.body) req.end(h.body);
    else req.end();
  });
}
