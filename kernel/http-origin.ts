// Which web pages may talk to the kernel: the `Origin` and `Host` checks applied to every HTTP
// request and every WebSocket upgrade, before authentication. An `Origin` header is sent by
// browsers only; one that is not allowed means a page of another site is calling (the MCP
// specification requires 403 then). On a loopback bind, a `Host` that does not name the loopback
// means DNS rebinding: a page whose own name resolves to 127.0.0.1 is calling as if same-origin.
// Pages of allowed origins get the CORS headers that let them read the answers.

import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import os from 'node:os';
import { fail, SubstrateError } from '../capabilities/errors.ts';
import { JSONRPC_CODES } from '../capabilities/jsonrpc-codes.ts';

/** Host names a loopback-bound kernel answers to (as `URL.hostname` writes them). */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'] as const;

/** Request headers of the Streamable HTTP transport (and the token) a page may send. */
const ALLOWED_REQUEST_HEADERS = 'authorization, content-type, accept, mcp-session-id, mcp-protocol-version, last-event-id';
/** Response headers a page must be able to read: the session id above all. */
const EXPOSED_HEADERS = 'mcp-session-id, mcp-protocol-version, www-authenticate';

export interface OriginPolicyOptions {
  /** The address the server was asked to bind (`127.0.0.1`, `localhost`, `0.0.0.0`, a LAN IP…). */
  bindHost: string;
  /** The port it is listening on. */
  port: number;
  /** Origins allowed beyond the kernel's own, each `scheme://host[:port]`. */
  allowedOrigins?: readonly string[];
}

/** Why a request was refused: answered with `status` and a JSON-RPC error without id. */
export interface OriginRefusal {
  status: 403;
  message: string;
  data: { type: 'FORBIDDEN'; header: 'origin' | 'host'; value: string | null };
}

/** `scheme://host[:port]` as browsers serialize it (lower case, no default port), or a
 *  SubstrateError (INVALID_INPUT) saying what is wrong with `value`. */
export function normalizeOrigin(value: string): string {
  const bad = (why: string): SubstrateError =>
    fail('INVALID_INPUT', `invalid origin ${JSON.stringify(value)}: ${why} (expected scheme://host[:port], e.g. http://localhost:5173)`, { origin: value });
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw bad('not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('the scheme must be http or https');
  if (url.username || url.password) throw bad('an origin has no user name or password');
  if (url.pathname !== '/' || url.search || url.hash || /[?#]/.test(value)) throw bad('an origin has no path, query or fragment');
  return url.origin;
}

/** The origins in `SUBSTRATE_ALLOWED_ORIGINS` (separated by commas or white space), normalized. */
export function parseOriginList(text: string | undefined): string[] {
  return (text ?? '')
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(normalizeOrigin);
}

/** True for an address that only this machine can reach. */
export function isLoopbackBind(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return urlHostname(h) === '[::1]' || /^::ffff:127\./.test(h);
  return false;
}

export class OriginPolicy {
  /** Every allowed origin, the kernel's own first. */
  readonly origins: readonly string[];
  /** Host names accepted in `Host` (lower case, IPv6 in brackets); undefined: any (not loopback). */
  readonly hostNames: readonly string[] | undefined;
  private readonly allowed: Set<string>;

  constructor(opts: OriginPolicyOptions) {
    const extra = (opts.allowedOrigins ?? []).map(normalizeOrigin);
    const own = ownHostNames(opts.bindHost).map((h) => `http://${h}:${opts.port}`);
    this.origins = [...new Set([...own, ...extra])];
    this.allowed = new Set(this.origins);
    // Only a loopback bind knows every name it may be reached by; elsewhere (a LAN address, a
    // wildcard bind behind a proxy or a DNS name) tokens are the protection, as the docs say.
    this.hostNames = isLoopbackBind(opts.bindHost) ? [...new Set([...LOOPBACK_NAMES, urlHostname(opts.bindHost)])] : undefined;
  }

  /** null when the request may proceed, else why not. */
  check(headers: IncomingHttpHeaders): OriginRefusal | null {
    if (this.hostNames) {
      const host = headers.host;
      const name = host === undefined ? undefined : hostNameOf(host);
      if (name === undefined || !this.hostNames.includes(name)) {
        return refuse('host', host ?? null, host === undefined
          ? 'a Host header is required'
          : `the Host header ${JSON.stringify(host)} does not name this machine's loopback (${this.hostNames.join(', ')}): refused as a possible DNS rebinding`);
      }
    }
    const origin = headers.origin;
    if (origin === undefined) return null;
    let normalized: string | undefined;
    try {
      normalized = normalizeOrigin(origin);
    } catch {
      normalized = undefined; // `null` (sandboxed frames, file: pages) and anything unparseable
    }
    if (normalized !== undefined && this.allowed.has(normalized)) return null;
    return refuse('origin', origin, `the origin ${JSON.stringify(origin)} is not allowed to call this kernel; an operator can allow it with \`substrate start --allow-origin ${normalized ?? '<origin>'}\` (or SUBSTRATE_ALLOWED_ORIGINS)`);
  }
}

/** What an allowed page needs to read the answers cross-origin (CORS): the request's `Origin`
 *  echoed, and the MCP headers it must see. Nothing for a request without Origin. Call after
 *  `check` accepted the request. */
export function corsHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const origin = headers.origin;
  if (origin === undefined) return {};
  return { 'access-control-allow-origin': origin, vary: 'Origin', 'access-control-expose-headers': EXPOSED_HEADERS };
}

/** A CORS preflight (OPTIONS with Access-Control-Request-Method), which carries no credentials and
 *  is answered before authentication; its answer lets the page send the MCP request itself. */
export function isPreflight(method: string | undefined, headers: IncomingHttpHeaders): boolean {
  return method === 'OPTIONS' && headers.origin !== undefined && headers['access-control-request-method'] !== undefined;
}

export function preflightHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  return {
    ...corsHeaders(headers),
    'access-control-allow-methods': 'GET, POST, DELETE',
    'access-control-allow-headers': ALLOWED_REQUEST_HEADERS,
    'access-control-max-age': '600',
  };
}

/** The JSON-RPC error body (no id) of a refusal, the same on `/mcp`, `/` and every route. */
export function refusalBody(r: OriginRefusal): string {
  return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: JSONRPC_CODES.SERVER_ERROR, message: r.message, data: r.data } });
}

function refuse(header: 'origin' | 'host', value: string | null, message: string): OriginRefusal {
  return { status: 403, message, data: { type: 'FORBIDDEN', header, value } };
}

/** The names under which pages served by this kernel would be reached (for its own origins). */
function ownHostNames(bindHost: string): string[] {
  if (isLoopbackBind(bindHost)) return [...LOOPBACK_NAMES, urlHostname(bindHost)];
  const h = bindHost.replace(/^\[|\]$/g, '');
  if (h !== '0.0.0.0' && h !== '::') return [urlHostname(bindHost)];
  // A wildcard bind answers on every interface: each address is one of its own origins.
  const names: string[] = [...LOOPBACK_NAMES];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv6' && a.scopeid) continue; // link-local: no origin a browser would send
      names.push(urlHostname(a.address));
    }
  }
  return names;
}

/** `host` as URL.hostname writes it (lower case, IPv6 bracketed). */
function urlHostname(host: string): string {
  const h = host.replace(/^\[|\]$/g, '');
  try {
    return new URL(`http://${isIP(h) === 6 ? `[${h}]` : h}/`).hostname;
  } catch {
    return h.toLowerCase();
  }
}

/** The host name of a Host header (`name[:port]`), or undefined if it is not one. Strict: no
 *  user info, path or spaces, which URL parsing alone would quietly drop. */
function hostNameOf(header: string): string | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]@/?#\\]+)(?::\d{1,5})?$/.exec(header);
  return m ? urlHostname(m[1]) : undefined;
}
