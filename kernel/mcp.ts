// Substrate as an MCP server. Owns the one piece of MCP logic both transports share (tools/list
// built from the current capabilities plus the management tools, tools/call mapped onto protocol
// methods, errors turned into results a model can act on, list_changed after every commit), the
// in-process backend it runs on inside the kernel, and the Streamable HTTP endpoint on `/mcp`
// (one session = one MCP Server bound to the principal that created it). The stdio server
// (cli/mcp-stdio.ts) runs the same logic over the client library. See docs/mcp.md.
// Over 500 lines for now: issue #11 moves MCP into mcp/ behind a backend interface, with the tool
// schemas generated from the one zod protocol source.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  isInitializeRequest,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { checkValueDepth, MAX_MESSAGE_DEPTH } from '../capabilities/json-limits.ts';
import { JSONRPC_CODES, jsonRpcCodeName } from '../capabilities/jsonrpc-codes.ts';
import { NAME_RE } from '../capabilities/names.ts';
import type { Json, JsonObject, Principal } from '../capabilities/types.ts';
import type {
  ApplyResult,
  DescribeResult,
  GateResult,
  GraphResult,
  ImpactResult,
  MethodName,
  ParamsOf,
  ProgressEvent,
  RegisterResult,
  ResultOf,
  RollbackResult,
} from './api.ts';
import type { Kernel } from './kernel.ts';
import { allowed, type Rpc } from './rpc.ts';
import { KERNEL_VERSION } from './version.ts';

// ------------------------------------------------------------------------------------ backend

export type McpProgress = Omit<ProgressEvent, 'requestId'>;

/** What the MCP logic needs from a kernel: in process (rpc.dispatch with the session's
 *  principal) or remote (the WebSocket client). Errors are thrown as the kernel's typed errors
 *  (SubstrateError, RpcProtocolError, or the client's RpcError/ConnectionError). */
export interface McpBackend {
  /** Whether the principal may use the management tools (operator and agent). */
  canManage(): Promise<boolean>;
  call<M extends MethodName>(method: M, params: ParamsOf<M>, onProgress?: (p: McpProgress) => void): Promise<ResultOf<M>>;
  /** Calls `cb` after every commit that may have changed the current capabilities; returns an
   *  unsubscribe function. */
  onCommit(cb: () => void): () => void;
}

export function inProcessBackend(rpc: Rpc, kernel: Kernel, principal: Principal): McpBackend {
  return {
    canManage: async () => allowed(principal.role, 'capabilities/register'),
    async call<M extends MethodName>(method: M, params: ParamsOf<M>, onProgress?: (p: McpProgress) => void): Promise<ResultOf<M>> {
      return (await rpc.dispatch({ principal, progress: onProgress }, method, params)) as ResultOf<M>;
    },
    onCommit(cb) {
      const h = (): void => cb();
      kernel.events.on('commit', h);
      return () => kernel.events.off('commit', h);
    },
  };
}

// ------------------------------------------------------------------------------------ names

/** Tool names: the capability name with every `.` written `__`. The MCP spec (2025-11-25) allows
 *  dots, but widely used clients refuse tool names outside `^[a-zA-Z0-9_-]{1,64}$`. Capability
 *  names never contain `_`, so the mapping is reversible and cannot collide with the management
 *  tools (`substrate_*`, one underscore). */
export function toolNameOf(capability: string): string {
  return capability.replaceAll('.', '__');
}

/** The capability a tool name stands for (the dotted name itself is accepted too). */
export function capabilityNameOf(tool: string): string | undefined {
  const name = tool.replaceAll('__', '.');
  return name.length <= 128 && NAME_RE.test(name) ? name : undefined;
}

// ------------------------------------------------------------------------------------ tools

const META_VERSION = 'substrate/version';
const META_HASH = 'substrate/hash';

type ToolSchema = Tool['inputSchema'];

/** A current capability as a tool, with how its arguments and output are shaped. */
interface CapabilityTool {
  tool: Tool;
  capability: string;
  version: string;
  /** The manifest's inputSchema is not an object schema: the input travels as `arguments.input`. */
  inputWrapped: boolean;
  /** 'none': no outputSchema; 'object': output is the structuredContent; 'wrapped': { result: output }. */
  output: 'none' | 'object' | 'wrapped';
}

interface VersionInfo {
  name: string;
  version: string;
  hash: string;
  description: string;
  inputSchema?: JsonObject;
  outputSchema?: JsonObject;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** MCP wants `properties` values to be objects; JSON Schema also allows booleans there. */
function objectRoot(schema: JsonObject): ToolSchema {
  const out: Record<string, unknown> = { ...schema, type: 'object' };
  if (isPlainObject(schema.properties)) {
    const props: Record<string, object> = {};
    for (const [k, v] of Object.entries(schema.properties)) props[k] = v === true ? {} : v === false ? { not: {} } : isPlainObject(v) ? v : {};
    out.properties = props;
  }
  return out as ToolSchema;
}

/** A non-object schema under one property of an object root; `$defs` move to the root so that
 *  `#/$defs/...` references still resolve. */
function wrapSchema(schema: JsonObject, key: string): ToolSchema {
  // `$id` stays off the inner schema: it would change the base that references resolve against.
  const { $defs, definitions, $schema, $id: _id, ...inner } = schema;
  const out: Record<string, unknown> = { type: 'object', properties: { [key]: inner }, required: [key], additionalProperties: false };
  if ($schema !== undefined) out.$schema = $schema;
  if ($defs !== undefined) out.$defs = $defs;
  if (definitions !== undefined) out.definitions = definitions;
  return out as ToolSchema;
}

function capabilityTool(v: VersionInfo): CapabilityTool {
  let inputSchema: ToolSchema = { type: 'object' };
  let inputWrapped = false;
  const inS = v.inputSchema;
  if (inS) {
    if (inS.type === 'object' || (inS.type === undefined && isPlainObject(inS.properties))) inputSchema = objectRoot(inS);
    else {
      inputSchema = wrapSchema(inS, 'input');
      inputWrapped = true;
    }
  }
  let outputSchema: ToolSchema | undefined;
  let output: CapabilityTool['output'] = 'none';
  const outS = v.outputSchema;
  if (outS) {
    if (outS.type === 'object') {
      outputSchema = objectRoot(outS);
      output = 'object';
    } else {
      outputSchema = wrapSchema(outS, 'result');
      output = 'wrapped';
    }
  }
  const meta: Record<string, unknown> = { [META_VERSION]: v.version, [META_HASH]: v.hash, 'substrate/name': v.name };
  if (inputWrapped) meta['substrate/inputWrapped'] = true;
  if (output === 'wrapped') meta['substrate/outputWrapped'] = true;
  const about = `Substrate capability ${v.name} ${v.version}.${inputWrapped ? ' Pass the input as `input`.' : ''}`;
  const tool: Tool = {
    name: toolNameOf(v.name),
    description: v.description ? `${v.description}\n\n${about}` : about,
    inputSchema,
    _meta: meta,
  };
  if (outputSchema) tool.outputSchema = outputSchema;
  return { tool, capability: v.name, version: v.version, inputWrapped, output };
}

const NAME_SCHEMA = { type: 'string', pattern: NAME_RE.source, maxLength: 128, description: 'A capability name, like text.wordcount' };
const VERSION_SCHEMA = { type: 'string', description: 'A semver version, like 1.2.0' };
const LANGUAGE_SCHEMA = { type: 'string', enum: ['js', 'ts'], description: 'The source language: "js" (default) or "ts" (types are stripped)' };
const SOURCE_SCHEMA = { type: 'string', description: 'The complete ES module source of the capability' };
const MANIFEST_SCHEMA = {
  type: 'object',
  description: 'The manifest, when the source does not export `manifest` (name, version, description, inputSchema, outputSchema, dependencies, state, limits, tests)',
};

const WRITING_GUIDE = `A capability is one ES module (JavaScript, or TypeScript with language "ts"):

export const manifest = {
  name: "text.shout",                 // dot-separated lowercase segments
  version: "1.0.0",                   // semver; a new upload of a name needs a new version
  description: "Upper-cases a text",
  inputSchema:  { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
  outputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
  dependencies: { "text.tokenize": "^1.0.0" },   // only these may be called, with ctx.call
  limits: { timeoutMs: 2000, memoryMb: 64 },      // optional (defaults 5000 ms, 64 MB)
  tests: [ { name: "shouts", input: { text: "hi" }, expect: { text: "HI" } } ],
};
export default async function (input, ctx) {
  return { text: input.text.toUpperCase() };
}

The default export receives the input (checked against inputSchema) and ctx: ctx.call(name, input) calls a declared dependency, ctx.state.get/set/delete/list(key) is the capability's own persistent JSON state, ctx.log(...) logs. No require, import, process, file system or network. Tests are gates: they run before the change commits (also the tests of every capability that depends on this one), and one failure refuses the whole change with nothing committed.`;

interface ManagementTool {
  method: MethodName;
  tool: Tool;
  summarize(result: unknown): string;
}

const MANAGEMENT: Record<string, ManagementTool> = {
  substrate_register: {
    method: 'capabilities/register',
    tool: {
      name: 'substrate_register',
      title: 'Register a capability',
      description: `Registers a new capability, or a new version of one, and (unless activate is false) makes it current so it appears as a tool. Its tests, and the tests of everything depending on it, must pass first; otherwise nothing changes and the result says which test failed, what it expected and what it got.\n\n${WRITING_GUIDE}`,
      inputSchema: {
        type: 'object',
        properties: {
          source: SOURCE_SCHEMA,
          manifest: MANIFEST_SCHEMA,
          language: LANGUAGE_SCHEMA,
          activate: { type: 'boolean', default: true, description: 'Make this version current (default true); false only stores it' },
        },
        required: ['source'],
        additionalProperties: false,
      },
    },
    summarize: (r) => summarizeRegister(r as RegisterResult),
  },
  substrate_apply: {
    method: 'capabilities/apply',
    tool: {
      name: 'substrate_apply',
      title: 'Apply a changeset',
      description: `Applies several changes as one atomic changeset: register new versions, activate an existing version, or remove a capability. Everything is validated and gated together and commits as a whole or not at all, so use it to upgrade a capability and its dependents in one step. With dryRun: true, nothing is committed and the result shows the plan and every gate result.\n\n${WRITING_GUIDE}`,
      inputSchema: {
        type: 'object',
        properties: {
          changes: {
            type: 'array',
            minItems: 1,
            description: 'The changes, in order',
            items: {
              oneOf: [
                {
                  type: 'object',
                  properties: { op: { const: 'register' }, source: SOURCE_SCHEMA, manifest: MANIFEST_SCHEMA, language: LANGUAGE_SCHEMA, activate: { type: 'boolean', default: true } },
                  required: ['op', 'source'],
                  additionalProperties: false,
                },
                {
                  type: 'object',
                  properties: { op: { const: 'activate' }, name: NAME_SCHEMA, version: VERSION_SCHEMA },
                  required: ['op', 'name', 'version'],
                  additionalProperties: false,
                },
                {
                  type: 'object',
                  properties: { op: { const: 'remove' }, name: NAME_SCHEMA },
                  required: ['op', 'name'],
                  additionalProperties: false,
                },
              ],
            },
          },
          dryRun: { type: 'boolean', default: false, description: 'Validate and run the gates without committing' },
        },
        required: ['changes'],
        additionalProperties: false,
      },
    },
    summarize: (r) => summarizeApply(r as ApplyResult),
  },
  substrate_rollback: {
    method: 'capabilities/rollback',
    tool: {
      name: 'substrate_rollback',
      title: 'Roll a capability back',
      description:
        'Makes an earlier version of a capability current again (the previous current one by default, or the version `to`). Gated like any change; history is kept.',
      inputSchema: {
        type: 'object',
        properties: { name: NAME_SCHEMA, to: { ...VERSION_SCHEMA, description: 'The version to make current (default: the one before the current one)' } },
        required: ['name'],
        additionalProperties: false,
      },
    },
    summarize: (r) => {
      const x = r as RollbackResult;
      return `${x.name} is current at ${x.version} again (generation ${x.generation}).`;
    },
  },
  substrate_describe: {
    method: 'capabilities/describe',
    tool: {
      name: 'substrate_describe',
      title: 'Describe a capability',
      description:
        'Shows one version of a capability (the current one by default): its manifest with schemas and tests, its source, its dependencies and what depends on it. Read it before writing an upgrade.',
      inputSchema: {
        type: 'object',
        properties: { name: NAME_SCHEMA, version: { ...VERSION_SCHEMA, description: 'A version (default: the current one)' } },
        required: ['name'],
        additionalProperties: false,
      },
      annotations: { readOnlyHint: true },
    },
    summarize: (r) => summarizeDescribe(r as DescribeResult),
  },
  substrate_graph: {
    method: 'graph/get',
    tool: {
      name: 'substrate_graph',
      title: 'Dependency graph',
      description: 'The dependency graph of the current capabilities (who calls whom, with version ranges, and which state namespaces they use); from one root and down to a depth when given.',
      inputSchema: {
        type: 'object',
        properties: { root: { ...NAME_SCHEMA, description: 'Start from this capability' }, depth: { type: 'integer', minimum: 0, description: 'How many dependency levels below root' } },
        additionalProperties: false,
      },
      annotations: { readOnlyHint: true },
    },
    summarize: (r) => summarizeGraph(r as GraphResult),
  },
  substrate_impact: {
    method: 'graph/impact',
    tool: {
      name: 'substrate_impact',
      title: 'Impact of a change',
      description: 'What a change to a capability would touch: the capabilities that depend on it (transitively) and the tests that would gate the change. Check it before an upgrade.',
      inputSchema: { type: 'object', properties: { name: NAME_SCHEMA }, required: ['name'], additionalProperties: false },
      annotations: { readOnlyHint: true },
    },
    summarize: (r) => {
      const x = r as ImpactResult;
      const deps = x.dependents.length ? `Capabilities depending on ${x.name}: ${x.dependents.join(', ')}.` : `Nothing depends on ${x.name}.`;
      const tests = x.tests.map((t) => `- ${t.capability} ${t.version}: "${t.test}"`);
      return `${deps}\nA change to ${x.name} runs ${x.tests.length} gate test(s)${tests.length ? `:\n${tests.join('\n')}` : '.'}`;
    },
  },
};

export const MANAGEMENT_TOOLS: readonly string[] = Object.keys(MANAGEMENT).sort();

// ------------------------------------------------------------------------------------ summaries

function json(v: unknown): string {
  return JSON.stringify(v) ?? 'undefined';
}

function gateLine(g: GateResult): string {
  if (g.passed) return `- passed: ${g.capability} ${g.version} "${g.test}"`;
  const why = g.error ? `failed with ${g.error.type}: ${g.error.message}` : `expected ${json(g.expected)}, got ${json(g.actual)}`;
  return `- FAILED: ${g.capability} ${g.version} "${g.test}": ${why}`;
}

function gatesSummary(gates: GateResult[]): string {
  if (gates.length === 0) return 'No gate tests ran.';
  const failed = gates.filter((g) => !g.passed).length;
  return `Gates: ${gates.length - failed} passed, ${failed} failed.\n${gates.map(gateLine).join('\n')}`;
}

function summarizeRegister(r: RegisterResult): string {
  const state = r.activated
    ? `It is current now (generation ${r.generation}) and callable as the tool ${toolNameOf(r.name)}.`
    : `It is stored but not current (activate it with substrate_apply, op "activate").`;
  return `Registered ${r.name} ${r.version} (${r.hash}). ${state}\n${gatesSummary(r.gates ?? [])}`;
}

function summarizeApply(r: ApplyResult): string {
  const head = r.dryRun ? `Dry run: nothing was committed (generation stays ${r.generation}).` : `Committed: generation ${r.generation}.`;
  const changes = r.changes.map((c) => {
    if (c.op === 'remove') return `- remove ${c.name}${c.previous ? ` (was ${c.previous})` : ''}`;
    const prev = c.previous && c.previous !== c.version ? `, was ${c.previous}` : '';
    return `- ${c.op} ${c.name} ${c.version ?? ''}${c.activated ? ` (current${prev})` : ' (not current)'}`;
  });
  const touched = r.touched.length ? `\nDependents whose tests ran: ${r.touched.join(', ')}.` : '';
  return `${head}\nChanges:\n${changes.join('\n')}${touched}\n${gatesSummary(r.gates)}`;
}

function summarizeDescribe(r: DescribeResult): string {
  const lines = [
    `${r.name} ${r.version}${r.current ? ' (current)' : ' (not current)'}, ${r.hash}, owned by ${r.owner}, registered ${r.createdAt}.`,
    r.manifest.description ? `Description: ${r.manifest.description}` : '',
    r.dependencies.length
      ? `Dependencies: ${r.dependencies.map((d) => `${d.name} ${d.range}${d.resolved ? ` (resolves to ${d.resolved})` : ' (unresolved)'}`).join(', ')}`
      : 'Dependencies: none',
    `Dependents: ${r.dependents.length ? r.dependents.join(', ') : 'none'}`,
    `Manifest:\n${JSON.stringify(r.manifest, null, 2)}`,
    `Source (${r.language}):\n\`\`\`${r.language}\n${r.source}\n\`\`\``,
  ];
  return lines.filter(Boolean).join('\n');
}

function summarizeGraph(r: GraphResult): string {
  const caps = r.nodes.filter((n) => n.kind === 'capability').map((n) => `- ${n.name} ${n.version}${n.kind === 'capability' && n.current ? '' : ' (not current)'}`);
  const edges = r.edges.map((e) =>
    e.kind === 'call' ? `- ${e.from} ${e.fromVersion} calls ${e.to} ${e.range} (resolves to ${e.resolved ?? 'nothing'})` : `- ${e.from} ${e.fromVersion} uses state ${e.to} (${e.access})`,
  );
  return `Generation ${r.generation}.\nCapabilities:\n${caps.join('\n') || '(none)'}\nEdges:\n${edges.join('\n') || '(none)'}`;
}

// ------------------------------------------------------------------------------------ errors

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
function changedNames(args: Record<string, unknown>): Set<string> {
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

function errorResult(err: ToolError, tool: string, changed?: ReadonlySet<string>): CallToolResult {
  return {
    content: [{ type: 'text', text: formatToolError(err, tool, changed) }],
    isError: true,
    _meta: { 'substrate/error': { type: err.type, message: err.message, data: err.data } },
  };
}

// ------------------------------------------------------------------------------------ catalog

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The current capabilities as tools, rebuilt after a commit. A version never changes once
 *  registered, so what describe said about name@version is kept. */
class Catalog {
  private current: Promise<Map<string, CapabilityTool>> | null = null;
  private readonly versions = new Map<string, Promise<VersionInfo>>();

  constructor(private readonly backend: McpBackend) {}

  invalidate(): void {
    this.current = null;
  }

  /** A commit during a load drops it from the cache (invalidate), so a load that may have missed
   *  the commit serves only the calls already waiting for it. */
  tools(): Promise<Map<string, CapabilityTool>> {
    if (!this.current) {
      const p = this.load();
      this.current = p;
      p.catch(() => {
        if (this.current === p) this.current = null;
      });
    }
    return this.current;
  }

  version(name: string, version: string): Promise<VersionInfo> {
    const key = `${name}@${version}`;
    let p = this.versions.get(key);
    if (!p) {
      p = this.backend.call('capabilities/describe', { name, version }).then((d) => ({
        name: d.name,
        version: d.version,
        hash: d.hash,
        description: d.manifest.description,
        inputSchema: d.manifest.inputSchema,
        outputSchema: d.manifest.outputSchema,
      }));
      if (this.versions.size >= 10_000) this.versions.clear();
      this.versions.set(key, p);
      p.catch(() => this.versions.delete(key));
    }
    return p;
  }

  private async load(): Promise<Map<string, CapabilityTool>> {
    const current: Array<{ name: string; version: string }> = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await this.backend.call('capabilities/list', cursor === undefined ? { limit: 1000 } : { limit: 1000, cursor });
      for (const it of page.items) if (it.current !== null) current.push({ name: it.name, version: it.current });
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    const infos = await mapLimit(current, 16, (c) => this.version(c.name, c.version).catch(() => null));
    const out = new Map<string, CapabilityTool>();
    for (const info of infos) if (info) out.set(toolNameOf(info.name), capabilityTool(info));
    return out;
  }
}

// ------------------------------------------------------------------------------------ server

export interface McpServerOptions {
  /** Where to report errors that have no caller to go to (default: ignored). */
  onError?: (e: unknown) => void;
}

const INSTRUCTIONS = `Substrate hosts capabilities: small sandboxed functions with JSON input and output, versioned and tested. Every current capability is a tool named after it with "." written "__" (text.wordcount is text__wordcount). With an agent or operator token, the substrate_* tools write and upgrade capabilities: substrate_describe and substrate_impact before a change, substrate_register or substrate_apply to make it. Every change is gated by the tests of what it touches; a refused change reports the failing test and commits nothing. The tool list changes after every commit (notifications/tools/list_changed).`;

function codeUnitCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One MCP Server over a backend: the whole tool logic, whichever the transport. */
export function createMcpServer(backend: McpBackend, opts: McpServerOptions = {}): Server {
  const server = new Server({ name: 'substrate', title: 'Substrate', version: KERNEL_VERSION }, { capabilities: { tools: { listChanged: true } }, instructions: INSTRUCTIONS });
  const catalog = new Catalog(backend);

  server.setRequestHandler(ListToolsRequestSchema, async () => {
    const tools = [...(await catalog.tools()).values()].map((t) => t.tool);
    if (await backend.canManage()) for (const name of MANAGEMENT_TOOLS) tools.push(MANAGEMENT[name].tool);
    tools.sort((a, b) => codeUnitCompare(a.name, b.name));
    return { tools };
  });

  server.setRequestHandler(CallToolRequestSchema, async (req, extra): Promise<CallToolResult> => {
    const name = req.params.name;
    const args: Record<string, unknown> = req.params.arguments ?? {};
    const token = req.params._meta?.progressToken;
    let sent = 0;
    const onProgress =
      token === undefined
        ? undefined
        : (p: McpProgress): void => {
            const what = [p.phase, p.capability, p.version, p.test ? `"${p.test}"` : undefined].filter(Boolean).join(' ');
            extra
              .sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: ++sent, message: `${what} (${p.done}/${p.total})` } })
              .catch(() => undefined);
          };
    try {
      // Before anything walks or serializes the arguments again (zod, the kernel client's JSON):
      // both transports come through here. `arguments` sits where `params` does on the wire.
      checkValueDepth(args, 'the tool arguments', { what: 'arguments' }, MAX_MESSAGE_DEPTH - 1);
      const mgmt = Object.prototype.hasOwnProperty.call(MANAGEMENT, name) ? MANAGEMENT[name] : undefined;
      if (mgmt) {
        if (!(await backend.canManage())) {
          return errorResult({ type: 'FORBIDDEN', message: `${name} is not allowed for role client: it needs an agent or operator token`, data: { tool: name } }, name);
        }
        const result = await backend.call(mgmt.method, args as never, onProgress);
        return {
          content: [{ type: 'text', text: mgmt.summarize(result) }],
          structuredContent: result as unknown as Record<string, unknown>,
        };
      }
      const capability = capabilityNameOf(name);
      if (!capability) {
        return errorResult({ type: 'NOT_FOUND', message: `no tool '${name}'; list the tools again to see what exists`, data: { tool: name } }, name);
      }
      return await invoke(capability, args);
    } catch (e) {
      return errorResult(toToolError(e), name, Object.prototype.hasOwnProperty.call(MANAGEMENT, name) ? changedNames(args) : undefined);
    }
  });

  async function invoke(capability: string, args: Record<string, unknown>): Promise<CallToolResult> {
    const listed = (await catalog.tools()).get(toolNameOf(capability));
    const input = (listed?.inputWrapped ? args.input : args) as Json;
    const res = await backend.call('capabilities/invoke', { name: capability, input: input === undefined ? null : input });
    // Shape the output by the version that actually ran (a commit may have come in between).
    const shape = listed && listed.version === res.version ? listed : capabilityTool(await catalog.version(res.name, res.version));
    const result: CallToolResult = {
      content: [{ type: 'text', text: JSON.stringify(res.output) }],
      _meta: { [META_VERSION]: res.version, 'substrate/generation': res.generation, 'substrate/invocationId': res.invocationId, 'substrate/durationMs': res.durationMs },
    };
    if (shape.output === 'object' && isPlainObject(res.output)) result.structuredContent = res.output;
    else if (shape.output !== 'none') result.structuredContent = { result: res.output };
    return result;
  }

  const off = backend.onCommit(() => {
    catalog.invalidate();
    server.sendToolListChanged().catch((e: unknown) => opts.onError?.(e));
  });
  const prev = server.onclose;
  server.onclose = () => {
    off();
    prev?.();
  };
  return server;
}

// ------------------------------------------------------------------------------------ HTTP

export interface McpEndpointOptions {
  rpc: Rpc;
  kernel: Kernel;
  /** A session without requests for this long is closed (default 30 minutes). */
  idleMs?: number;
  /** Open sessions per principal; beyond it the least recently used one is closed (default 64). */
  maxSessionsPerPrincipal?: number;
  /** Largest request body read for a new session (default 4 MiB, like the transport's own). */
  maxBodyBytes?: number;
}

export interface McpEndpoint {
  handle(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void>;
  close(): Promise<void>;
  sessionCount(): number;
}

interface Session {
  id: string;
  principal: Principal;
  server: Server;
  transport: StreamableHTTPServerTransport;
  lastSeen: number;
  active: number;
}

function sendJsonError(res: ServerResponse, status: number, code: number, message: string, data?: Record<string, unknown>): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message, ...(data ? { data } : {}) } }));
}

class BodyError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJsonBody(req: IncomingMessage, max: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) throw new BodyError(413, JSONRPC_CODES.INVALID_REQUEST, `request body larger than ${max} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > max) throw new BodyError(413, JSONRPC_CODES.INVALID_REQUEST, `request body larger than ${max} bytes`);
    chunks.push(b);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BodyError(400, JSONRPC_CODES.PARSE_ERROR, 'parse error: the body is not JSON');
  }
}

function isInitialize(body: unknown): boolean {
  return Array.isArray(body) ? body.some((m) => isInitializeRequest(m)) : isInitializeRequest(body);
}

/** The Streamable HTTP endpoint: stateful sessions (mcp-session-id), each an MCP Server over the
 *  in-process backend with the principal whose token opened it. */
export function createMcpEndpoint(opts: McpEndpointOptions): McpEndpoint {
  const sessions = new Map<string, Session>();
  const idleMs = opts.idleMs ?? 30 * 60_000;
  const maxPerPrincipal = opts.maxSessionsPerPrincipal ?? 64;
  const maxBody = opts.maxBodyBytes ?? 4 * 1024 * 1024;
  let closed = false;

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const s of sessions.values()) if (s.active === 0 && now - s.lastSeen > idleMs) void closeSession(s);
  }, Math.max(1000, Math.min(60_000, idleMs / 4)));
  sweep.unref();
  // A revoked token's sessions end at once, their open SSE streams with them (the transport's
  // close ends every stream); its next request is refused with 401 before it reaches a session.
  const offRevoke = opts.rpc.auth.onRevoke((id) => {
    for (const s of sessions.values()) if (s.principal.id === id) void closeSession(s);
  });

  async function closeSession(s: Session): Promise<void> {
    sessions.delete(s.id);
    await s.server.close().catch(() => undefined);
  }

  async function serve(s: Session, req: IncomingMessage, res: ServerResponse, body?: unknown): Promise<void> {
    s.active++;
    s.lastSeen = Date.now();
    res.once('close', () => {
      s.active--;
      s.lastSeen = Date.now();
    });
    await s.transport.handleRequest(req, res, body);
  }

  async function open(principal: Principal, req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const mine = [...sessions.values()].filter((s) => s.principal.id === principal.id);
    if (mine.length >= maxPerPrincipal) {
      mine.sort((a, b) => a.lastSeen - b.lastSeen);
      for (const s of mine.slice(0, mine.length - maxPerPrincipal + 1)) await closeSession(s);
    }
    const server = createMcpServer(inProcessBackend(opts.rpc, opts.kernel, principal));
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        session.id = id;
        sessions.set(id, session);
      },
    });
    const session: Session = { id: '', principal, server, transport, lastSeen: Date.now(), active: 0 };
    const prev = server.onclose;
    server.onclose = () => {
      prev?.();
      if (session.id && sessions.get(session.id) === session) sessions.delete(session.id);
    };
    await server.connect(transport);
    await serve(session, req, res, body);
    // A refused initialize (bad protocol version, malformed) leaves no session behind.
    if (!session.id) await server.close().catch(() => undefined);
  }

  return {
    async handle(req, res, principal) {
      if (closed) return sendJsonError(res, 503, JSONRPC_CODES.SERVER_ERROR, 'the kernel is shutting down');
      const header = req.headers['mcp-session-id'];
      const sid = Array.isArray(header) ? header[0] : header;
      if (sid) {
        const s = sessions.get(sid);
        if (!s) return sendJsonError(res, 404, -32001, 'session not found: initialize a new session');
        if (s.principal.id !== principal.id) {
          return sendJsonError(res, 403, JSONRPC_CODES.SERVER_ERROR, 'this session belongs to another token', { type: 'FORBIDDEN' });
        }
        return serve(s, req, res);
      }
      if (req.method !== 'POST') return sendJsonError(res, 400, JSONRPC_CODES.SERVER_ERROR, 'bad request: an mcp-session-id header is required (initialize with a POST first)');
      let body: unknown;
      try {
        body = await readJsonBody(req, maxBody);
      } catch (e) {
        if (e instanceof BodyError) return sendJsonError(res, e.status, e.code, e.message);
        throw e;
      }
      if (!isInitialize(body)) return sendJsonError(res, 400, JSONRPC_CODES.SERVER_ERROR, 'bad request: no valid session id; send initialize first');
      return open(principal, req, res, body);
    },
    async close() {
      closed = true;
      clearInterval(sweep);
      offRevoke();
      await Promise.all([...sessions.values()].map((s) => closeSession(s)));
    },
    sessionCount: () => sessions.size,
  };
}
