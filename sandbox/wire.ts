// The one wire format between a capability's isolate and its host in the worker: every tag, every
// encoding and every limit that both sides use is defined here, once. Both halves import them: the
// in-isolate modules (sandbox/runtime/, bundled with esbuild: so this file imports nothing that is
// not plain data) and the host (isolate-host.ts, call-tree.ts, runtime.ts). Only strings and
// numbers cross, so each message is a tag letter and a body; the round trips are tested in
// tests/sandbox.wire.test.ts.

import type { WireError } from '../capabilities/errors.ts';

/** Tags of the strings the isolate returns from `run`, and the host returns to the isolate. */
export const TAG = {
  /** done: the output's JSON text follows. reply: a value's JSON text follows. */
  value: 'v',
  /** reply: undefined. */
  undefined: 'u',
  /** A typed error's WireError JSON follows (created by the kernel, or by the bridge itself). */
  typed: 't',
  /** An error thrown by capability code: JSON { message, stack } follows. */
  thrown: 'c',
} as const;

/** Buffered writes of one call go to the host once they exceed this many characters. */
export const WRITE_FLUSH_CHARS = 1024 * 1024;

/** Per-message cap of console output, in UTF-16 units (the isolate truncates before sending). */
export const LOG_MESSAGE_MAX = 16 * 1024;

/** Console output an isolate may send per run it starts, in UTF-16 units (unused budget carries
 *  over, up to 4 runs' worth): what a log flood can make the worker and the kernel hold. */
export const LOG_CHARS_PER_RUN = 256 * 1024;

/** Timers pending at once in one isolate (setTimeout beyond: MEMORY_LIMIT). */
export const MAX_PENDING_TIMERS = 10_000;

/** ctx requests (get, list, call) of one isolate waiting for their answer at once (beyond:
 *  MEMORY_LIMIT): each holds host memory until the isolate takes its answer. */
export const MAX_PENDING_REQUESTS = 4096;

/** Messages to the host are fire-and-forget; every this many (or this many characters of them) the
 *  isolate waits, synchronously, until the host has handled all before it. Without it a loop of
 *  setTimeout/clearTimeout or of un-awaited requests queues messages on the host faster than it
 *  handles them, in memory no limit counts. */
export const BARRIER_EVERY_MESSAGES = 1024;
export const BARRIER_EVERY_CHARS = 4 * 1024 * 1024;


/** The runtime's host hooks (sandbox/runtime.ts, sandbox/runtime/boot.ts): the operations of the
 *  one host callback each context gets while the runtime is installed. */
export const HOOK_OP = { urlParse: 0, random: 1, urlSet: 2 } as const;

/** Random bytes handed out per hook call; the in-isolate side asks in chunks of at most this. */
export const RANDOM_CHUNK_BYTES = 65536;

/** Inputs (and bases) longer than this are refused by the URL hooks, on both sides of the boundary. */
export const MAX_URL_INPUT_LENGTH = 65536;

/** Hidden global defined by the runtime bundle that the bridge captures and deletes. */
export const SB_FORMAT_GLOBAL = '__sb_format';

/** Hidden global defined by the runtime bundle (sandbox/runtime/fetch.ts linkFetch) that the
 *  bridge captures, calls with its fetch transport and deletes. */
export const SB_FETCH_GLOBAL = '__sb_fetch';

/** Tags of the buffered state writes a call sends with its messages: `s` + "nsLen,keyLen,valueLen:"
 *  + ns + key + value, or `d` + "nsLen,keyLen,0:" + ns + key. */
export const WRITE_TAG = { set: 's', delete: 'd' } as const;

/** bind/inspect answers: which functions the module exports, one letter each (none = `-`). */
export const EXPORT_FLAG = { default: 'd', migrate: 'm', none: '-' } as const;

/** inspect answers: `i` + two export flags + the manifest's JSON text ("" if none), or `e` + why. */
export const INSPECT_TAG = { ok: 'i', failed: 'e' } as const;

/** One buffered write, as encodeWrite makes it and the bootstrap's bufferWrite does. */
export interface WireWrite {
  kind: 'set' | 'delete';
  ns: string;
  key: string;
  /** JSON text (set only). */
  value?: string;
}

/** The record of one write (the host's mirror of the bootstrap's bufferWrite, for tests). */
export function encodeWrite(w: WireWrite): string {
  return w.kind === 'set'
    ? WRITE_TAG.set + w.ns.length + ',' + w.key.length + ',' + (w.value ?? '').length + ':' + w.ns + w.key + (w.value ?? '')
    : WRITE_TAG.delete + w.ns.length + ',' + w.key.length + ',0:' + w.ns + w.key;
}

/** The write starting at `at` in a call's buffered records and where the next one starts, or null
 *  when the record there is malformed. Read one at a time: the writes before a refused one apply. */
export function nextWrite(w: string, at: number): { write: WireWrite; next: number } | null {
  const tag = w[at];
  const colon = w.indexOf(':', at);
  const lens = colon < 0 ? [] : w.slice(at + 1, colon).split(',').map(Number);
  if ((tag !== WRITE_TAG.set && tag !== WRITE_TAG.delete) || lens.length !== 3 || !lens.every((n) => Number.isInteger(n) && n >= 0)) return null;
  let p = colon + 1;
  const ns = w.slice(p, (p += lens[0]));
  const key = w.slice(p, (p += lens[1]));
  const value = tag === WRITE_TAG.set ? w.slice(p, (p += lens[2])) : undefined;
  if (p > w.length) return null;
  return { write: tag === WRITE_TAG.set ? { kind: 'set', ns, key, value } : { kind: 'delete', ns, key }, next: p };
}

/** The export flags of a bind answer, or of an inspect answer after its tag. */
export function parseExportFlags(flags: string): { hasDefault: boolean; hasMigrate: boolean } {
  return { hasDefault: flags[0] === EXPORT_FLAG.default, hasMigrate: flags[1] === EXPORT_FLAG.migrate };
}

/** An inspect answer: the export flags and the manifest's JSON text, or why it failed. */
export function parseInspectAnswer(r: string): { ok: true; hasDefault: boolean; hasMigrate: boolean; manifestText: string } | { ok: false; why: string } {
  if (r[0] !== INSPECT_TAG.ok) return { ok: false, why: r.slice(1) };
  return { ok: true, ...parseExportFlags(r.slice(1, 3)), manifestText: r.slice(3) };
}

/** Parses the tagged result of a `done` message on the host. */
export type RunAnswer =
  | { kind: 'output'; json: string }
  | { kind: 'typed'; error: WireError }
  | { kind: 'thrown'; message: string; stack?: string };

export function parseRunAnswer(r: unknown): RunAnswer {
  if (typeof r !== 'string' || r.length === 0) return { kind: 'thrown', message: 'the isolate returned no result' };
  const body = r.slice(1);
  switch (r[0]) {
    case TAG.value:
      return { kind: 'output', json: body };
    case TAG.typed:
      try {
        const w = JSON.parse(body) as WireError;
        return { kind: 'typed', error: { type: w.type, message: String(w.message), data: w.data ?? {} } };
      } catch {
        return { kind: 'thrown', message: 'malformed typed error' };
      }
    default:
      try {
        const c = JSON.parse(body) as { message?: unknown; stack?: unknown };
        return { kind: 'thrown', message: String(c.message), stack: typeof c.stack === 'string' ? c.stack : undefined };
      } catch {
        return { kind: 'thrown', message: 'malformed error' };
      }
  }
}

/** Host answers to the isolate's requests. */
export const answer = {
  value: (json: string): string => TAG.value + json,
  undefined: (): string => TAG.undefined,
  error: (e: WireError): string => TAG.typed + JSON.stringify({ type: e.type, message: e.message, data: e.data }),
};
