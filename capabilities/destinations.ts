// Destination patterns of `http` grants and `effects.http` entries (the contract's "Grants" table):
// `host`, `host:port`, `*.host` (any subdomain, not the host itself), an IP literal (`10.0.0.5`,
// `[::1]`, `::1`), each optionally with `:port`. Without a port a pattern matches every port (as
// Deno's --allow-net does). Host names compare case-insensitively, without a trailing dot.
// Pure logic: parsing, matching a URL's host and port, and whether one pattern lies within another
// (a manifest entry within its owner's grant).

import { isIP } from 'node:net';

export interface Destination {
  /** Lower-case host name or IP literal (IPv6 without brackets); for a wildcard, the suffix after `*.`. */
  host: string;
  wildcard: boolean;
  /** Absent: any port. */
  port?: number;
  /** True when `host` is an IP literal. */
  ip: boolean;
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

function normalHost(h: string): string {
  const lower = h.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** An IPv6 address as WHATWG URLs write it (compressed, lower-case, `::ffff:7f00:1`), so a pattern
 *  spelled `0:0:0:0:0:0:0:1` or `::FFFF:127.0.0.1` compares equal to a URL's host. */
export function canonicalIPv6(ip: string): string {
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase(); // a zone id (fe80::1%eth0): no URL has one, so it never matches anyway
  }
}

function hostProblem(host: string): string | null {
  if (host.length === 0) return 'has no host';
  if (host.length > 253) return 'has a host longer than 253 characters';
  if (isIP(host)) return null;
  for (const label of host.split('.')) if (!LABEL.test(label)) return `has an invalid host name label ${JSON.stringify(label)}`;
  return null;
}

/** Parses a pattern, or returns why it is not one. */
export function parseDestination(pattern: string): Destination | string {
  if (typeof pattern !== 'string' || pattern.length === 0) return 'must be a non-empty string';
  if (pattern.length > 300) return 'must be at most 300 characters';
  if (/[\s/?#@]/.test(pattern)) return 'must be a host, host:port, *.host or an IP literal (no scheme, path, user or spaces)';
  let rest = pattern;
  let port: number | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return 'has an unclosed [';
    const after = rest.slice(close + 1);
    const inner = rest.slice(1, close);
    if (isIP(inner) !== 6) return 'has brackets around something that is not an IPv6 address';
    if (after !== '' && !after.startsWith(':')) return 'has text after ]';
    if (after !== '') {
      const p = portOf(after.slice(1));
      if (typeof p === 'string') return p;
      port = p;
    }
    return { host: canonicalIPv6(inner), wildcard: false, ip: true, ...(port !== undefined ? { port } : {}) };
  }
  if (isIP(rest) === 6) return { host: canonicalIPv6(rest), wildcard: false, ip: true };
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    const p = portOf(rest.slice(colon + 1));
    if (typeof p === 'string') return p;
    port = p;
    rest = rest.slice(0, colon);
  }
  let wildcard = false;
  if (rest.startsWith('*.')) {
    wildcard = true;
    rest = rest.slice(2);
  }
  if (rest.includes('*')) return 'may use * only as a whole first label (*.example.com)';
  const host = normalHost(rest);
  const problem = hostProblem(host);
  if (problem) return problem;
  const ip = isIP(host) !== 0;
  if (ip && wildcard) return 'cannot put *. before an IP address';
  return { host, wildcard, ip, ...(port !== undefined ? { port } : {}) };
}

function portOf(s: string): number | string {
  if (!/^[0-9]{1,5}$/.test(s)) return 'has an invalid port';
  const n = Number(s);
  if (n < 1 || n > 65535) return 'has a port outside 1-65535';
  return n;
}

/** The host of a URL as patterns compare it: lower-case, IPv6 without brackets, no trailing dot. */
export function urlHost(url: URL): string {
  const h = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return normalHost(h);
}

/** The port a URL connects to (its explicit port, else the scheme's default). */
export function urlPort(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/** The canonical text of a destination: what grants and secrets store, so equal patterns compare equal. */
export function formatDestination(d: Destination): string {
  const host = d.ip && d.host.includes(':') ? `[${d.host}]` : `${d.wildcard ? '*.' : ''}${d.host}`;
  return d.port === undefined ? host : `${host}:${d.port}`;
}

/** Whether `host` (normalized, see urlHost) and `port` fall within the destination. */
export function matchesDestination(d: Destination, host: string, port: number): boolean {
  if (d.port !== undefined && d.port !== port) return false;
  if (d.wildcard) return host.endsWith('.' + d.host) && host.length > d.host.length + 1;
  return host === d.host;
}

/** Whether the destination names this host literally (not through `*.`): the condition under which
 *  a request may reach a loopback, private, link-local or multicast address. */
export function namesLiterally(d: Destination, host: string): boolean {
  return !d.wildcard && d.host === host;
}

/** Whether every request `inner` allows is allowed by `outer` (a manifest entry within a grant). */
export function destinationWithin(inner: Destination, outer: Destination): boolean {
  if (outer.port !== undefined && inner.port !== outer.port) return false;
  if (!outer.wildcard) return !inner.wildcard && inner.host === outer.host;
  // *.a.com covers x.a.com and *.x.a.com, not a.com and not *.a.com's own parent.
  return inner.host.endsWith('.' + outer.host) || (inner.wildcard && inner.host === outer.host);
}

/** Methods as patterns carry them: upper-case, absent = all. */
export function methodsWithin(inner: readonly string[] | undefined, outer: readonly string[] | undefined): boolean {
  if (outer === undefined) return true;
  if (inner === undefined) return false;
  return inner.every((m) => outer.includes(m));
}

export function methodAllowed(method: string, methods: readonly string[] | undefined): boolean {
  return methods === undefined || methods.includes(method);
}

/** The HTTP methods a pattern may list (CONNECT and TRACE are not requests a capability makes). */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
