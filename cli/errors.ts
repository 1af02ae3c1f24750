// How the CLI reports a failure: one `error: …` line that says what went wrong, the details a
// person needs to act (the failing gate test with expected and actual, the token source that was
// refused, the URL that could not be reached), the exit code (1 kernel/connection, 2 bad usage),
// and the JSON document printed instead with --json. Pure: no I/O.

import { ConnectionError, RpcError } from '../kernel/client.ts';
import type { GateResult } from '../kernel/api.ts';
import { compactJson, plain, type Style } from './format.ts';
import { describeSource, type Target } from './target.ts';
import { replayLines } from './commands/replay-output.ts';
import type { ReplaySummary } from '../capabilities/evaluation.ts';
import { StartError } from '../kernel/start-error.ts';
import { JSONRPC_CODES, jsonRpcCodeName } from '../capabilities/jsonrpc-codes.ts';

/** Bad usage: exit code 2 and a pointer to the command's help. */
export class UsageError extends Error {
  /** The command whose --help to point at, e.g. `substrate invoke`. */
  readonly command: string;
  constructor(message: string, command = 'substrate') {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

export interface ErrorReport {
  exitCode: 1 | 2;
  /** Lines for stderr, the first one `error: …`. */
  lines: string[];
  /** The document printed to stdout with --json. */
  json: { error: { type: string; code?: number; message: string; data?: unknown } };
}

/** The CLI's name for a code without a type: the spec's name, except that the CLI has always
 *  printed -32603 as INTERNAL_ERROR (its output is an interface, so that stays). */
function rpcCodeName(code: number): string | undefined {
  return code === JSONRPC_CODES.INTERNAL ? 'INTERNAL_ERROR' : jsonRpcCodeName(code);
}

export function rpcTypeName(e: RpcError): string {
  // An internal error may still say which (STORAGE_FULL: the disk of the data directory is full).
  const detail = e.code === JSONRPC_CODES.INTERNAL && e.data && typeof e.data === 'object' ? (e.data as { type?: unknown }).type : undefined;
  return e.type ?? (typeof detail === 'string' && /^[A-Z_]+$/.test(detail) ? detail : undefined) ?? rpcCodeName(e.code) ?? `RPC_ERROR_${e.code}`;
}

/** `missing argument <name>. See 'substrate invoke --help'.` */
export function usageLine(message: string, command: string): string {
  const m = message.replace(/^error:\s*/i, '').replace(/\s+$/, '').replace(/\.$/, '');
  return `error: ${m}. See '${command} --help'.`;
}

/** Rewrites commander's messages into the CLI's wording. */
export function commanderMessage(message: string): string {
  const first = message.replace(/^error:\s*/i, '').split('\n')[0];
  const missing = /^missing required argument '([^']+)'/.exec(first);
  if (missing) return `missing argument <${missing[1]}>`;
  return first;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : compactJson(v);
}

function gateLines(data: Record<string, unknown>, style: Style): string[] {
  const lines: string[] = [];
  const pairs: Array<[string, string]> = [];
  if (data.capability) pairs.push(['capability', `${String(data.capability)}${data.version ? `@${String(data.version)}` : ''}`]);
  if (data.test !== undefined) pairs.push(['test', String(data.test)]);
  if ('expected' in data) pairs.push(['expected', show(data.expected)]);
  if ('actual' in data) pairs.push(['actual', show(data.actual)]);
  if (isObject(data.error)) {
    const e = data.error;
    pairs.push(['error', `${e.type ? `${String(e.type)}: ` : ''}${String(e.message ?? '')}`]);
  } else if (typeof data.error === 'string') pairs.push(['error', data.error]);
  const w = Math.max(0, ...pairs.map(([k]) => k.length));
  for (const [k, v] of pairs) lines.push(`  ${style.dim(k.padEnd(w))}  ${v}`);
  if (Array.isArray(data.results)) {
    const results = data.results as GateResult[];
    const failed = results.filter((r) => !r.passed);
    const passed = results.length - failed.length;
    lines.push(`  gates: ${style.green(`${passed} passed`)}, ${style.red(`${failed.length} failed`)} of ${results.length}`);
    for (const r of failed) {
      if (r.capability === data.capability && r.test === data.test) continue;
      const detail = r.error
        ? `${r.error.type}: ${r.error.message}`
        : `expected ${show(r.expected)}, actual ${show(r.actual)}`;
      lines.push(`  ${style.red('✗')} ${r.capability}@${r.version} › ${r.test}: ${detail}`);
    }
  }
  return lines;
}

function detailLines(type: string, data: unknown, style: Style): string[] {
  if (!isObject(data)) return [];
  if (type === 'GATE_FAILED') return gateLines(data, style);
  if (type === 'REPLAY_FAILED' && Array.isArray(data.replay)) return [...replayLines(data.replay as ReplaySummary[], style), '', `  ${style.dim('next')}  ${String(data.next ?? '')}`];
  const pairs: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(data)) {
    if (k === 'type' || k === 'stack' || v === undefined) continue;
    if (k === 'dependents' && Array.isArray(v)) pairs.push([k, v.map(String).join(', ')]);
    else pairs.push([k, typeof v === 'string' ? v : compactJson(v)]);
  }
  const w = Math.max(0, ...pairs.map(([k]) => k.length));
  const lines = pairs.map(([k, v]) => `  ${style.dim(k.padEnd(w))}  ${v}`);
  if (typeof data.stack === 'string' && data.stack) {
    for (const l of data.stack.split('\n').slice(0, 12)) lines.push(`  ${style.dim(l.trim().startsWith('at ') ? `  ${l.trim()}` : l)}`);
  }
  return lines;
}

const HINTS: Partial<Record<string, string>> = {
  DEPENDENTS_EXIST: "Remove or update the dependents first; 'substrate impact <name>' lists them.",
  FORBIDDEN: 'This token\'s role or ownership does not allow it; ask an operator.',
  VERSION_EXISTS: 'Bump the version in the manifest: a version is immutable once registered.',
  VERSION_NOT_NEWER: 'Bump the version in the manifest above the current one.',
  NOT_FOUND: "'substrate ls' lists the capabilities.",
};

/** A NOT_FOUND about a token or a grant points at their own listing, not at the capabilities. */
function notFoundHint(message: string): string | undefined {
  if (/^no token /.test(message)) return "'substrate token ls' lists the tokens.";
  if (/^no grant /.test(message)) return "'substrate grant ls' lists the grants.";
  return HINTS.NOT_FOUND;
}

export function describeError(err: unknown, target: Target | undefined, style: Style = plain): ErrorReport {
  if (err instanceof UsageError) {
    return {
      exitCode: 2,
      lines: [usageLine(err.message, err.command)],
      json: { error: { type: 'USAGE', message: err.message } },
    };
  }
  if (err instanceof RpcError) {
    const type = rpcTypeName(err);
    const lines = [`${style.red('error:')} ${type}: ${err.message}`, ...detailLines(type, err.data, style)];
    if (type === 'UNAUTHORIZED' && target) {
      const src = target.tokenSource;
      lines.push(
        src.kind === 'none'
          ? `  no token was sent: none found at ${src.looked.join(', ')}`
          : `  the token came from ${describeSource(src)}`,
      );
      lines.push(
        src.kind === 'file'
          ? '  Is this the data directory of the kernel at that URL? Pass --data, --token or SUBSTRATE_TOKEN.'
          : src.kind === 'none'
            ? // Making a token needs a token: point at where the kernel keeps its operator token.
              "  Run this where the kernel was started, or pass the kernel's data directory with --data (or SUBSTRATE_DATA), or a token with --token (or SUBSTRATE_TOKEN)."
            : "  Pass a valid token with --token or SUBSTRATE_TOKEN (an operator can make one with 'substrate token create').",
      );
    } else if (type === 'NOT_FOUND') {
      const hint = notFoundHint(err.message);
      if (hint) lines.push(`  ${hint}`);
    } else if (HINTS[type]) lines.push(`  ${HINTS[type]}`);
    return { exitCode: 1, lines, json: { error: { type, code: err.code, message: err.message, data: err.data } } };
  }
  if (err instanceof ConnectionError) {
    const lines = [`${style.red('error:')} ${err.message}`];
    if (!['ECLOSED', 'ECONNRESET'].includes(err.code) || /could not connect/.test(err.message)) {
      const from = target ? ` (the URL came from ${describeSource(target.urlSource)})` : '';
      lines.push(`  Is a kernel running at ${err.url}?${from}`);
      lines.push("  Start one with 'substrate start', or point --url / SUBSTRATE_URL at a running kernel.");
    }
    return { exitCode: 1, lines, json: { error: { type: 'UNREACHABLE', message: err.message, data: { url: err.url, code: err.code } } } };
  }
  if (err instanceof StartError) {
    return { exitCode: 1, lines: [`${style.red('error:')} ${err.message}`], json: { error: { type: err.code, message: err.message, data: err.data } } };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return { exitCode: 1, lines: [`${style.red('error:')} ${e.message}`], json: { error: { type: 'ERROR', message: e.message } } };
}
