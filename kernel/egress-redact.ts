// Secrets on egress (the contract's "Secrets"): which secrets a hop carries, the header each sets,
// and the redaction of every secret a call tree used from what the sandbox sees.
//
// Redaction replaces, in response header values, the body (bytes) and anything else handed back
// (final URL, error text): the value, its formatted header value (`Bearer v`), and the forms an
// echoing API commonly writes it in — percent-encoded and JSON-escaped. Longest first, so the
// header value goes before the bare value inside it. A transformed echo (base64, hash) is not
// recognised (docs/effects.md, "Limits of redaction").

import { matchesDestination, parseDestination } from '../capabilities/destinations.ts';
import type { HttpEffect } from '../capabilities/effects.ts';
import { fail } from '../capabilities/errors.ts';

/** A secret as the policy hands it to egress: the value in clear (kernel/secrets.ts ResolvedSecret fits). */
export interface EgressSecret {
  name: string;
  value: string;
  /** Destination patterns it may be sent to. */
  hosts: string[];
  header: string;
  /** The header value; `{}` stands for the value. */
  format: string;
}

export function headerValue(s: EgressSecret): string {
  return s.format.split('{}').join(s.value);
}

/** The secrets a hop carries: named by a manifest entry it matched and whose hosts match it.
 *  A secret an entry names that is not set fails the request (sending it unauthenticated would
 *  only move the failure to the API). */
export function secretsFor(entries: HttpEffect[], host: string, port: number, secret: (name: string) => EgressSecret | null, url: string): EgressSecret[] {
  const names = [...new Set(entries.flatMap((e) => e.secrets ?? []))];
  const out: EgressSecret[] = [];
  for (const name of names) {
    const s = secret(name);
    if (s === null) {
      const reason = `secret ${JSON.stringify(name)} is not set (an operator sets it with substrate secrets set ${name})`;
      throw fail('EFFECT_FAILED', `fetch ${url} failed: ${reason}`, { url, reason, secret: name });
    }
    const fits = s.hosts.some((p) => {
      const d = parseDestination(p);
      return typeof d !== 'string' && matchesDestination(d, host, port);
    });
    if (fits) out.push(s);
  }
  return out;
}

function needles(s: EgressSecret): string[] {
  const forms = new Set<string>();
  for (const v of [s.value, headerValue(s)]) {
    forms.add(v);
    forms.add(encodeURIComponent(v));
    forms.add(JSON.stringify(v).slice(1, -1));
  }
  return [...forms].filter((f) => f.length > 0);
}

function replaceBytes(buf: Buffer, needle: Buffer, replacement: Buffer): Buffer {
  let at = buf.indexOf(needle);
  if (at < 0) return buf;
  const parts: Buffer[] = [];
  let from = 0;
  while (at >= 0) {
    parts.push(buf.subarray(from, at), replacement);
    from = at + needle.length;
    at = buf.indexOf(needle, from);
  }
  parts.push(buf.subarray(from));
  return Buffer.concat(parts);
}

/** The secrets one call tree has used so far, and their removal from what goes back to it. */
export class Redactor {
  private readonly secrets = new Map<string, EgressSecret>();
  private patterns: Array<{ needle: Buffer; replacement: Buffer }> = [];

  add(s: EgressSecret): void {
    // Keyed by value too: a secret replaced mid-tree keeps both values redacted.
    const key = `${s.name}\u0000${s.value}\u0000${s.format}`;
    if (this.secrets.has(key)) return;
    this.secrets.set(key, s);
    this.patterns = [...this.secrets.values()]
      .flatMap((x) => needles(x).map((n) => ({ needle: Buffer.from(n, 'utf8'), replacement: Buffer.from(`[REDACTED:${x.name}]`, 'utf8') })))
      .sort((a, b) => b.needle.length - a.needle.length);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  bytes(buf: Buffer): Buffer {
    let out = buf;
    for (const p of this.patterns) out = replaceBytes(out, p.needle, p.replacement);
    return out;
  }

  text(s: string): string {
    if (this.empty) return s;
    return this.bytes(Buffer.from(s, 'utf8')).toString('utf8');
  }

  /** Header values arrive as latin1 text (one char per byte): redacted as those bytes. */
  headerText(s: string): string {
    if (this.empty) return s;
    return this.bytes(Buffer.from(s, 'latin1')).toString('latin1');
  }

  /** Every string inside plain error data. */
  data<T>(v: T): T {
    if (this.empty) return v;
    if (typeof v === 'string') return this.text(v) as T;
    if (Array.isArray(v)) return v.map((x: unknown) => this.data(x)) as T;
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.data(x as unknown)])) as T;
    return v;
  }
}
