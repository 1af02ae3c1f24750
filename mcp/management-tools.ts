// The substrate_* tools: the protocol methods a model uses to write and upgrade capabilities. Each
// tool's inputSchema is its method's params schema from the one protocol source
// (capabilities/protocol/, z.toJSONSchema), so the tools accept exactly what the kernel validates;
// the descriptions and annotations are written here for a model.

import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { paramsJsonSchema } from '../capabilities/protocol/json-schema.ts';
import { PROTOCOL, type MethodName } from '../capabilities/protocol/methods.ts';
import type { ResultOf } from '../capabilities/protocol/methods.ts';
import type { ApplyResult, DescribeResult, GraphResult, ImpactResult, RegisterResult, RollbackResult } from '../capabilities/protocol/types.ts';
import { rolloutTools } from './rollout-tools.ts';
import { summarizeApply, summarizeDescribe, summarizeGraph, summarizeRegister } from './summaries.ts';

type MetricsGetResult = ResultOf<'metrics/get'>;

export interface ManagementTool {
  method: MethodName;
  tool: Tool;
  summarize(result: unknown): string;
}

/** A method's params as a tool's inputSchema. */
export function toolInputSchema(method: MethodName): Tool['inputSchema'] {
  return paramsJsonSchema(PROTOCOL[method].params) as Tool['inputSchema'];
}

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

export const MANAGEMENT: Record<string, ManagementTool> = {
  substrate_register: {
    method: 'capabilities/register',
    tool: {
      name: 'substrate_register',
      title: 'Register a capability',
      description: `Registers a new capability, or a new version of one, and (unless activate is false) makes it current so it appears as a tool. Its tests, and the tests of everything depending on it, must pass first; otherwise nothing changes and the result says which test failed, what it expected and what it got.\n\n${WRITING_GUIDE}`,
      inputSchema: toolInputSchema('capabilities/register'),
    },
    summarize: (r) => summarizeRegister(r as RegisterResult),
  },
  substrate_apply: {
    method: 'capabilities/apply',
    tool: {
      name: 'substrate_apply',
      title: 'Apply a changeset',
      description: `Applies several changes as one atomic changeset: register new versions, activate an existing version, or remove a capability. Everything is validated and gated together and commits as a whole or not at all, so use it to upgrade a capability and its dependents in one step. With dryRun: true, nothing is committed and the result shows the plan and every gate result. With replay: { samples?, maxChanged? }, each changed capability's new version first runs on recorded real calls of the version it replaces (state and responses served from the records, nothing written); the result's replay lists per capability same/changed/errors/unstable/unreplayable counts and the first changed examples (input, before, after); with maxChanged, more changed answers refuse the changeset with REPLAY_FAILED (its data has the same summaries and the next action).\n\n${WRITING_GUIDE}`,
      inputSchema: toolInputSchema('capabilities/apply'),
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
      inputSchema: toolInputSchema('capabilities/rollback'),
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
      inputSchema: toolInputSchema('capabilities/describe'),
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
      inputSchema: toolInputSchema('graph/get'),
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
      inputSchema: toolInputSchema('graph/impact'),
      annotations: { readOnlyHint: true },
    },
    summarize: (r) => {
      const x = r as ImpactResult;
      const deps = x.dependents.length ? `Capabilities depending on ${x.name}: ${x.dependents.join(', ')}.` : `Nothing depends on ${x.name}.`;
      const tests = x.tests.map((t) => `- ${t.capability} ${t.version}: "${t.test}"`);
      return `${deps}\nA change to ${x.name} runs ${x.tests.length} gate test(s)${tests.length ? `:\n${tests.join('\n')}` : '.'}`;
    },
  },
  ...jobTools(),
  ...accessTools(),
  ...rolloutTools(toolInputSchema),
  ...evaluationTools(),
};

/** The durable-work tools (docs/jobs.md): their results are small and regular, so a model gets the
 *  JSON itself. */
function jobTools(): Record<string, ManagementTool> {
  const json = (r: unknown): string => JSON.stringify(r, null, 2);
  const one = (name: string, method: MethodName, title: string, description: string, readOnly: boolean): [string, ManagementTool] => [
    name,
    { method, tool: { name, title, description, inputSchema: toolInputSchema(method), annotations: readOnly ? { readOnlyHint: true } : { destructiveHint: false } }, summarize: json },
  ];
  return Object.fromEntries([
    one('substrate_jobs', 'jobs/list', 'List jobs', 'Jobs that capabilities enqueued (ctx.enqueue) or schedules fired, newest first: status (pending, running, succeeded, failed = waiting for a retry, dead = out of attempts, cancelled), attempts, last error or output. Filter by capability name and status.', true),
    one('substrate_job', 'jobs/get', 'Get a job', 'One job by id: its status, attempts, input, last error or output.', true),
    one('substrate_job_retry', 'jobs/retry', 'Retry a job', 'Runs a dead, cancelled or failed job again now, with a fresh set of attempts (same id).', false),
    one('substrate_job_cancel', 'jobs/cancel', 'Cancel a job', 'Cancels a pending or failed job so that it never runs (again).', false),
    one('substrate_schedules', 'schedules/list', 'List schedules', "The cron schedules of the current capabilities' manifests, with their next run times and whether they are paused.", true),
    one('substrate_schedule_pause', 'schedules/pause', 'Pause schedules', "Pauses a capability's schedules: occurrences while paused are passed over.", false),
    one('substrate_schedule_resume', 'schedules/resume', 'Resume schedules', "Resumes a capability's schedules from now.", false),
  ]);
}

/** Grants, secrets and the effect journal (docs/effects.md). Results are JSON; no result holds a
 *  secret's value (secrets/set answers with its name, hosts, header and format only). */
function accessTools(): Record<string, ManagementTool> {
  const json = (r: unknown): string => JSON.stringify(r, null, 2);
  const one = (name: string, method: MethodName, title: string, description: string, annotations: Tool['annotations']): [string, ManagementTool] => [
    name,
    { method, tool: { name, title, description, inputSchema: toolInputSchema(method), annotations }, summarize: json },
  ];
  const read = { readOnlyHint: true };
  return Object.fromEntries([
    one('substrate_grant_add', 'grants/add', 'Grant access', "Grants a principal (a token id, or role:agent / role:client) a shared namespace (kind namespace, mode r or rw; the namespace's owner or an operator may) or an http destination (kind http, target like api.example.com, *.example.com or host:port, methods optional; operators only). A capability whose manifest declares a namespace or effects.http destination its owner holds no grant for is refused at registration.", { destructiveHint: false }),
    one('substrate_grants', 'grants/list', 'List grants', 'The active grants (namespace and http) and the owners of shared namespaces.', read),
    one('substrate_grant_revoke', 'grants/revoke', 'Revoke a grant', 'Revokes a grant by id; the next call that needs it fails (STATE_FORBIDDEN or EFFECT_FORBIDDEN).', { destructiveHint: true }),
    one('substrate_secret_set', 'secrets/set', 'Store a secret', 'Operators only. Stores a secret, encrypted, for the kernel to add as a header (default Authorization: Bearer {}) to requests to its hosts made by capabilities whose manifest names it in effects.http[].secrets. The value is never returned, logged or shown to capabilities.', { destructiveHint: true, idempotentHint: true }),
    one('substrate_secrets', 'secrets/list', 'List secrets', 'Operators only. The secrets by name, hosts, header and format; never their values.', read),
    one('substrate_secret_remove', 'secrets/remove', 'Remove a secret', 'Operators only. Removes a secret; requests naming it go out without it.', { destructiveHint: true }),
    one('substrate_effects', 'effects/list', 'Effect journal', 'The requests capabilities made to the outside world (or were served from the journal on a re-run), newest first: capability, method, URL, status or error, bytes, duration. Filter by capability name or invocation id. Agents see their own capabilities only.', read),
  ]);
}

/** Metrics and call records (docs/evaluation.md): what each version did, and what it was asked. */
function evaluationTools(): Record<string, ManagementTool> {
  const read = { readOnlyHint: true };
  return {
    substrate_metrics: {
      method: 'metrics/get',
      tool: {
        name: 'substrate_metrics',
        title: 'Metrics per version',
        description:
          'Per capability version: calls, errors by type, duration percentiles (p50, p95, p99 in ms), re-runs after state conflicts, egress requests and job runs, over the last windowS seconds (up to 3600) or since the kernel started. Compare a new version with the one it replaced before and after an upgrade or during a rollout.',
        inputSchema: toolInputSchema('metrics/get'),
        annotations: read,
      },
      summarize: (r) => summarizeMetrics(r as MetricsGetResult),
    },
    substrate_records: {
      method: 'records/list',
      tool: {
        name: 'substrate_records',
        title: 'Recorded calls',
        description:
          "Recorded real calls of a capability (the last 1000 per version, unless its manifest says record: false), newest first: input, output or error, duration, the state values read and the HTTP exchanges. Use them to see what a capability is actually asked before changing it; apply with replay runs a candidate on them. Agents see their own capabilities' records only.",
        inputSchema: toolInputSchema('records/list'),
        annotations: read,
      },
      summarize: (r) => JSON.stringify(r, null, 2),
    },
  };
}

function summarizeMetrics(r: MetricsGetResult): string {
  const lines = r.items.map((m) => {
    const types = Object.entries(m.errorsByType).map(([t, n]) => `${t} ${n}`).join(', ');
    return `${m.name}@${m.version}${m.current ? ' (current)' : ''}: ${m.calls} calls (${m.callsPerS}/s), ${m.errors} errors${types ? ` (${types})` : ''}, p50 ${m.p50} ms, p99 ${m.p99} ms, ${m.reruns} re-runs, ${m.egress} requests, ${m.jobs} jobs`;
  });
  return [`Over the last ${r.windowS}s (since ${r.since}):`, ...(lines.length ? lines : ['no versions'])].join('\n');
}

export const MANAGEMENT_TOOLS: readonly string[] = Object.keys(MANAGEMENT).sort();
