// Errors turned into tool results a model can act on: any thrown error (the kernel's typed errors,
// JSON-RPC protocol errors, the client's connection errors) in the contract's form, its text (what
// went wrong, where, what to change), and the isError result that carries both. A tool call never
// fails as a protocol error.

import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { jsonRpcCodeName } from '../capabilities/jsonrpc-codes.ts';
import type { GateResult } from '../capabilities/protocol/types.ts';
import { isPlainObject } from './plain-object.ts';
import { gateLine, json } from './summaries.ts';
import { replayLines, replayNext } from './replay-text.ts';
import type { ReplaySummary } from '../capabilities/evaluation.ts';

/** An error in the contract's form, whatever raised it. `type` is a contract error type, or
 *  INVALID_PARAMS / METHOD_NOT_FOUND / INTERNAL / CONNECTION_LOST for what has none. */
export interface ToolError {
  type: string;
  message: string;
  data: Record<string, unknown>;
}

export function toToolError(e: unknown): ToolError {
  if (!isPlainObject(e) && !(e instanceof Error)) return { type: 'INTERNAL', message: String(e), data: {} };
  const o = e as { type?: unknown; code?: unknown; message?: unknown; data?: unknown; url?: unknown };
  const message = typeof o.message === 'string' ? o.message : String(e);
  const data: Record<string, unknown> = isPlainObject(o.data) ? { ...o.data } : {};
  delete data.type;
  if (typeof o.type === 'string') return { type: o.type, message, data };
  if (typeof o.code === 'number') return { type: jsonRpcCodeName(o.code) ?? 'INTERNAL', message, data };
  if (typeof o.code === 'string' && typeof o.url === 'string') return { type: 'CONNECTION_LOST', message, data: { code: o.code } };
  return { type: 'INTERNAL', message, data };
}

function where(path: unknown): string {
  return typeof path === 'string' && path !== '' ? path : '(the value itself)';
}

function details(data: Record<string, unknown>, omit: string[]): string {
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) if (!omit.includes(k) && v !== undefined) rest[k] = v;
  if (Object.keys(rest).length === 0) return '';
  const s = JSON.stringify(rest);
  return `\nDetails: ${s.length > 2000 ? `${s.slice(0, 2000)}…` : s}`;
}

/** The text a model reads when a call fails: what went wrong, where, and what to change. */
export function formatToolError(err: ToolError, tool: string, changed?: ReadonlySet<string>): string {
  const d = err.data;
  switch (err.type) {
    case 'GATE_FAILED': {
      const lines = ['GATE_FAILED: the change was refused and nothing was committed (the refused versions were not stored).'];
      lines.push(`Failing test: "${String(d.test)}" of ${String(d.capability)} ${String(d.version)}.`);
      const e = d.error as { type?: string; message?: string } | undefined;
      if (e && typeof e === 'object') lines.push(`It failed with ${e.type}: ${e.message}`);
      else lines.push(`Expected: ${json(d.expected)}`, `Actual:   ${json(d.actual)}`);
      const results = Array.isArray(d.results) ? (d.results as GateResult[]) : [];
      const others = results.filter((g) => !g.passed && !(g.capability === d.capability && g.version === d.version && g.test === d.test));
      if (others.length) lines.push(`${others.length} more failing test(s):`, ...others.slice(0, 10).map(gateLine));
      lines.push('Fix the code so the test passes (or correct the test if its expectation was wrong) and register again.');
      const failing = String(d.capability);
      if (changed && changed.size > 0 && !changed.has(failing)) {
        lines.push(`${failing} was not part of your change: it depends (directly or through others) on what you changed (${[...changed].join(', ')}). Keep the change compatible with what ${failing} expects, or upgrade both together with substrate_apply.`);
      } else if (!changed || changed.size === 0) {
        lines.push(`If ${failing} is not the capability you changed, it depends on it: keep your change compatible, or upgrade both together with substrate_apply.`);
      }
      return lines.join('\n');
    }
    case 'REPLAY_FAILED': {
      const summaries = Array.isArray(d.replay) ? (d.replay as ReplaySummary[]) : [];
      const max = typeof d.maxChanged === 'number' ? d.maxChanged : undefined;
      return [`REPLAY_FAILED: ${err.message}`, ...replayLines(summaries), replayNext(summaries, true, max)].join('\n');
    }
    case 'COMPILE_ERROR': {
      const at = typeof d.line === 'number' ? ` at line ${d.line}, column ${String(d.column)}` : '';
      const msg = typeof d.message === 'string' ? d.message : err.message;
      return `COMPILE_ERROR${at}: ${msg}\nFix the source there and register again.`;
    }
    case 'INVALID_INPUT':
      return `INVALID_INPUT at ${where(d.path)}: ${err.message}\nCall ${tool} again with arguments that match its inputSchema.${details(d, ['path', 'message'])}`;
    case 'INVALID_OUTPUT':
      return `INVALID_OUTPUT at ${where(d.path)}: ${err.message}\nThe capability returned a value that does not match its own outputSchema: a bug in the capability. Fix its code or outputSchema and register a new version.${details(d, ['path', 'message'])}`;
    case 'TIMEOUT':
    case 'MEMORY_LIMIT': {
      const limits = Object.entries(d).filter(([k]) => /limit|timeout|memory|ms$|mb$/i.test(k));
      const hit = limits.length ? ` Limit hit: ${limits.map(([k, v]) => `${k}=${json(v)}`).join(', ')}.` : '';
      const hint =
        err.type === 'TIMEOUT'
          ? 'Make the capability faster or raise manifest.limits.timeoutMs (at most 60000) in a new version.'
          : 'Use less memory or raise manifest.limits.memoryMb (at most 512) in a new version.';
      return `${err.type}: ${err.message}.${hit}\n${hint}${details(d, limits.map(([k]) => k))}`;
    }
    case 'INVALID_PARAMS':
      return `Invalid arguments for ${tool}${typeof d.path === 'string' && d.path ? ` at '${d.path}'` : ''}: ${err.message}\nCheck the arguments against the tool's inputSchema.`;
    case 'FORBIDDEN':
      return `FORBIDDEN: ${err.message}${details(d, [])}`;
    case 'CONNECTION_LOST':
      return `The connection to the Substrate kernel failed: ${err.message}\nThe call may or may not have run; check before repeating a change.`;
    case 'CAPABILITY_ERROR': {
      const stack = typeof d.stack === 'string' ? `\nStack:\n${d.stack.split('\n').slice(0, 12).join('\n')}` : '';
      return `CAPABILITY_ERROR: ${err.message}${stack}${details(d, ['stack', 'message'])}`;
    }
    default:
      return `${err.type}: ${err.message}${details(d, ['results', 'stack'])}`;
  }
}

/** The capability names a management call changes, as far as its arguments tell (a manifest in
 *  the source is read with a pattern, not evaluated): used to tell a broken dependent apart. */
export function changedNames(args: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  const fromChange = (c: unknown): void => {
    if (!isPlainObject(c)) return;
    if (typeof c.name === 'string') out.add(c.name);
    if (isPlainObject(c.manifest) && typeof c.manifest.name === 'string') out.add(c.manifest.name);
    else if (typeof c.source === 'string') {
      const m = /\bname\s*:\s*["'`]([a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)*)["'`]/.exec(c.source);
      if (m) out.add(m[1]);
    }
  };
  fromChange(args);
  if (Array.isArray(args.changes)) args.changes.forEach(fromChange);
  return out;
}

export function errorResult(err: ToolError, tool: string, changed?: ReadonlySet<string>): CallToolResult {
  return {
    content: [{ type: 'text', text: formatToolError(err, tool, changed) }],
    isError: true,
    _meta: { 'substrate/error': { type: err.type, message: err.message, data: err.data } },
  };
}
