// The checks of one egress request hop (kernel/egress.ts runs them for every hop of a fetch):
// the URL and its scheme, a manifest `effects.http` entry that matches host, port and method, a
// current grant of the owner that does too (operators: the entry is the grant), and the class of
// every address the host resolves to. Each refusal is a typed error naming the URL and what is
// missing; nothing here touches the network except the lookup it is given.

import { isIP } from 'node:net';
import { addressClass } from '../capabilities/addresses.ts';
import { matchesDestination, methodAllowed, namesLiterally, parseDestination, urlHost, urlPort, type Destination } from '../capabilities/destinations.ts';
import { nanoid } from 'nanoid';
import type { EffectRecord, EgressCaller, EgressRequest, HttpEffect } from '../capabilities/effects.ts';
import { fail, type SubstrateError } from '../capabilities/errors.ts';
import type { Manifest } from '../capabilities/types.ts';

/** One `http` grant of a principal, as the policy hands it over. */
export interface HttpGrant {
  id: string;
  /** A destination pattern (capabilities/destinations.ts). */
  target: string;
  /** Upper-case; absent: all. */
  methods?: string[];
}

/** The owner of a capability version: whose grants count, and whom the journal names. */
export interface EgressOwner {
  id: string;
  name: string;
}

export type Lookup = (host: string) => Promise<Array<{ address: string; family: number }>>;

/** Methods no capability makes: they are not requests but tunnels or diagnostics. */
const REFUSED_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Where a hop goes: its URL and the host and port patterns compare. */
export interface Target {
  url: URL;
  host: string;
  port: number;
  method: string;
  /** The URL of the hop that redirected here (absent for the first). */
  from?: string;
}

function label(t: { method: string; url: string; from?: string }): string {
  return t.from === undefined ? `fetch ${t.method} ${t.url}` : `redirect of ${t.from} to ${t.url}`;
}

function forbidden(t: Target, why: string, data: { [k: string]: unknown }): SubstrateError {
  return fail('EFFECT_FORBIDDEN', `${label({ method: t.method, url: t.url.href, ...(t.from !== undefined ? { from: t.from } : {}) })} is forbidden: ${why}`, {
    url: t.url.href,
    method: t.method,
    ...(t.from !== undefined ? { redirectedFrom: t.from } : {}),
    ...data,
  });
}

/** The method as WHATWG normalizes it (the six standard ones upper-cased), or a typed error. */
export function normalMethod(method: string, rawUrl: string): string {
  const url = rawUrl.slice(0, 200);
  if (typeof method !== 'string' || !TOKEN.test(method)) throw fail('EFFECT_FAILED', `fetch ${url}: invalid method`, { url, reason: 'invalid method' });
  const upper = method.toUpperCase();
  if (REFUSED_METHODS.has(upper)) throw fail('EFFECT_FORBIDDEN', `fetch ${upper} ${url} is forbidden: method ${upper} is not allowed`, { url, method: upper, reason: 'method not allowed' });
  return upper;
}

/** Longest URL a request may have (what common servers and CDNs accept). */
export const MAX_URL_LENGTH = 8192;

/** Parses the URL of a hop and checks its scheme. The fragment is dropped (it is never sent, and
 *  WHATWG's Response.url has none). */
export function parseTarget(raw: string, method: string, from?: string): Target {
  let url: URL | null = null;
  const tooLong = raw.length > MAX_URL_LENGTH;
  try {
    if (!tooLong) url = new URL(raw);
  } catch {
    url = null;
  }
  if (url === null) {
    const reason = tooLong ? `URL longer than ${MAX_URL_LENGTH} characters` : 'invalid URL';
    const shown = tooLong ? `${raw.slice(0, 200)}…` : raw;
    throw fail('EFFECT_FAILED', `${label({ method, url: shown, ...(from !== undefined ? { from } : {}) })} failed: ${reason}`, {
      url: shown,
      method,
      reason,
      ...(from !== undefined ? { redirectedFrom: from } : {}),
    });
  }
  url.hash = '';
  const t: Target = { url, host: urlHost(url), port: urlPort(url), method, ...(from !== undefined ? { from } : {}) };
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw forbidden(t, `only http: and https: URLs can be fetched, not ${url.protocol}`, { reason: 'scheme not allowed', scheme: url.protocol.slice(0, -1) });
  }
  if (url.username !== '' || url.password !== '') {
    // WHATWG fetch refuses credentials in the URL too; secrets are how a capability authenticates.
    throw forbidden(t, 'a URL with a user name or password cannot be fetched (use a secret)', { reason: 'credentials in URL' });
  }
  return t;
}

function parsed(pattern: string): Destination | null {
  const d = parseDestination(pattern);
  return typeof d === 'string' ? null : d;
}

function shellWord(s: string): string {
  return /^[A-Za-z0-9_.:-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** What a hop may do: the manifest entries it matches (their secrets apply) and whether the
 *  grant (operators: an entry) names its host literally (then non-public addresses are allowed). */
export interface Authorization {
  entries: HttpEffect[];
  literal: boolean;
}

/** The manifest entry and the current grant a hop needs, or EFFECT_FORBIDDEN naming what is missing. */
export function authorize(t: Target, who: { name: string; version: string; manifest: Manifest; owner: EgressOwner; grants: HttpGrant[] | 'all' }): Authorization {
  const declared = who.manifest.effects?.http ?? [];
  const byHost = declared.filter((e) => {
    const d = parsed(e.host);
    return d !== null && matchesDestination(d, t.host, t.port);
  });
  const target = t.url.port ? `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}` : t.host;
  if (byHost.length === 0) {
    throw forbidden(t, `${who.name}@${who.version} declares no effects.http entry for ${target} (add it to the manifest)`, {
      reason: 'not declared',
      missing: { kind: 'effects.http', target },
    });
  }
  const entries = byHost.filter((e) => methodAllowed(t.method, e.methods));
  if (entries.length === 0) {
    throw forbidden(t, `${who.name}@${who.version} declares ${target} without method ${t.method} in effects.http`, {
      reason: 'method not declared',
      missing: { kind: 'effects.http', target, methods: [t.method] },
    });
  }
  if (who.grants === 'all') {
    return { entries, literal: entries.some((e) => { const d = parsed(e.host); return d !== null && namesLiterally(d, t.host); }) };
  }
  const grants = who.grants.filter((g) => {
    const d = parsed(g.target);
    return d !== null && matchesDestination(d, t.host, t.port);
  });
  const granted = grants.filter((g) => methodAllowed(t.method, g.methods));
  if (granted.length === 0) {
    // The grant registration would have needed: the declared entry itself (granting it restores
    // what the manifest declares), with its methods when it lists them.
    const entry = entries[0] as HttpEffect;
    const methods = entry.methods ?? (grants.length > 0 ? [t.method] : undefined);
    const command = `substrate grant add ${shellWord(who.owner.id)} http ${shellWord(entry.host)}${methods ? ` --methods ${methods.join(',')}` : ''}`;
    throw forbidden(t, `${who.owner.name} (owner of ${who.name}) holds no http grant for ${target}${grants.length > 0 ? ` with method ${t.method}` : ''}; an operator can run: ${command}`, {
      reason: 'not granted',
      principal: who.owner.id,
      missing: { kind: 'http', target: entry.host, ...(methods ? { methods } : {}) },
      command,
    });
  }
  return { entries, literal: granted.some((g) => { const d = parsed(g.target); return d !== null && namesLiterally(d, t.host); }) };
}

export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves the hop's host (IP literals are not looked up) and checks the class of every address;
 *  returns them all, the only addresses the connection may use. A timeout is the caller's signal. */
export async function resolveChecked(t: Target, literal: boolean, lookup: Lookup, signal: AbortSignal): Promise<CheckedAddress[]> {
  let addresses: Array<{ address: string; family: number }>;
  const family = isIP(t.host);
  if (family !== 0) {
    addresses = [{ address: t.host, family }];
  } else {
    try {
      addresses = await abortable(lookup(t.host), signal);
    } catch (e) {
      if (signal.aborted) throw e;
      const code = (e as { code?: unknown }).code;
      const reason = `DNS lookup of ${t.host} failed${typeof code === 'string' ? ` (${code})` : ''}`;
      throw fail('EFFECT_FAILED', `${label({ method: t.method, url: t.url.href, ...(t.from !== undefined ? { from: t.from } : {}) })} failed: ${reason}`, { url: t.url.href, reason });
    }
    if (addresses.length === 0) {
      const reason = `DNS lookup of ${t.host} returned no address`;
      throw fail('EFFECT_FAILED', `fetch ${t.method} ${t.url.href} failed: ${reason}`, { url: t.url.href, reason });
    }
  }
  if (!literal) {
    for (const a of addresses) {
      const cls = addressClass(a.address) ?? 'reserved';
      if (cls === 'public') continue;
      const what = family !== 0 ? `${t.host} is` : `${t.host} resolves to ${a.address},`;
      throw forbidden(t, `${what} a ${cls} address; only a grant naming ${t.host} literally (not through *.) may reach it`, {
        reason: `${cls} address`,
        address: a.address,
        addressClass: cls,
      });
    }
  }
  return addresses.map((a) => ({ address: a.address, family: isIP(a.address) === 6 ? 6 : 4 }));
}

/** Rejects with the signal's reason when it aborts first. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

/** A journal record of one request as it starts: nothing known yet but who asks and what. */
export function startRecord(caller: EgressCaller, request: EgressRequest, at: number, invocationId: string, owner: EgressOwner | null): EffectRecord {
  const url = String(request.url).slice(0, MAX_URL_LENGTH);
  return {
    id: `eff_${nanoid(12)}`,
    at,
    invocationId,
    name: caller.name,
    version: caller.version,
    hash: caller.hash,
    principal: owner?.id ?? '',
    principalName: owner?.name ?? '',
    method: typeof request.method === 'string' ? request.method.toUpperCase() : '',
    url,
    finalUrl: url,
    status: null,
    error: null,
    requestBytes: 0,
    responseBytes: 0,
    durationMs: 0,
    replayed: false,
    response: null,
  };
}
