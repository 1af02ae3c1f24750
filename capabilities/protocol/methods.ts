// The one source of the protocol: for every JSON-RPC method, who may call it, its params schema
// (what kernel/rpc.ts validates) and its result schema. Everything else is derived from this table:
// the TypeScript types (kernel/api.ts re-exports them), the JSON-RPC validation (kernel/rpc.ts), the
// MCP management tools' JSON Schemas (mcp/management-tools.ts, through json-schema.ts) and the
// generated tables of docs/protocol.md (docs.ts, `npm run docs:protocol`); tests/protocol.drift
// fails when they disagree.

import type { z } from 'zod';
import type { Role } from '../types.ts';
import * as admin from './admin.ts';
import * as caps from './capabilities.ts';
import { noParams } from './common.ts';
import * as egress from './egress.ts';
import * as evaluation from './evaluation.ts';
import * as events from './events.ts';
import * as gs from './graph-state.ts';
import * as jobs from './jobs.ts';
import * as rollouts from './rollouts.ts';

export interface MethodDef<P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  /** The roles that may call the method at all (ownership is checked by the kernel). */
  roles: readonly Role[];
  params: P;
  result: R;
  /** One line for the generated method table. */
  summary: string;
}

const ALL: readonly Role[] = ['operator', 'agent', 'client'];
const WRITERS: readonly Role[] = ['operator', 'agent'];
const OPERATORS: readonly Role[] = ['operator'];

function def<P extends z.ZodType, R extends z.ZodType>(roles: readonly Role[], params: P, result: R, summary: string): MethodDef<P, R> {
  return { roles, params, result, summary };
}

export const PROTOCOL = {
  'kernel/info': def(ALL, noParams, admin.kernelInfo, "The kernel's version and its current state"),
  'capabilities/register': def(WRITERS, caps.registerParams, caps.registerResult, 'Uploads one version and by default makes it current (gated)'),
  'capabilities/apply': def(WRITERS, caps.applyParams, caps.applyResult, 'Commits a list of changes as a whole or not at all (gated)'),
  'capabilities/rollback': def(WRITERS, caps.rollbackParams, caps.rollbackResult, 'Makes an earlier version current again (gated)'),
  'capabilities/remove': def(WRITERS, caps.removeParams, caps.removeResult, 'Removes a capability nothing current depends on'),
  'capabilities/list': def(ALL, caps.listParams.optional(), caps.listResult, 'Capabilities by name, one page at a time'),
  'capabilities/describe': def(ALL, caps.describeParams, caps.describeResult, 'One version: manifest, source, dependencies, dependents'),
  'capabilities/history': def(ALL, caps.historyParams.optional(), caps.historyResult, 'The journal of commits, newest first'),
  'capabilities/invoke': def(ALL, caps.invokeParams, caps.invokeResult, 'Runs a capability pinned to the current generation'),
  'graph/get': def(ALL, gs.graphParams.optional(), gs.graphResult, 'The dependency graph of the current generation'),
  'graph/impact': def(ALL, gs.impactParams, gs.impactResult, 'What a change to a capability would touch and which tests gate it'),
  'state/get': def(OPERATORS, gs.stateGetParams, gs.stateGetResult, 'One state value'),
  'state/list': def(OPERATORS, gs.stateListParams, gs.stateListResult, 'State values of a namespace, one page at a time'),
  'events/subscribe': def(ALL, events.subscribeParams.optional(), events.subscribeResult, 'Events of this connection: commits and log lines'),
  'logs/recent': def(WRITERS, events.logsParams.optional(), events.logsResult, 'Recent log lines [extension]'),
  'tokens/create': def(OPERATORS, admin.tokenCreateParams, admin.tokenCreateResult, 'A new token of a role'),
  'tokens/list': def(OPERATORS, noParams, admin.tokenListResult, 'Every token, revoked ones included'),
  'tokens/revoke': def(OPERATORS, admin.tokenRevokeParams, admin.tokenRevokeResult, 'Revokes a token and ends its connections'),
  'grants/add': def(WRITERS, admin.grantAddParams, admin.grantInfo, 'Grants a principal a shared namespace, or (operators) an http destination'),
  'grants/list': def(WRITERS, admin.grantListParams.optional(), admin.grantListResult, 'Grants and the owners of shared namespaces'),
  'grants/revoke': def(WRITERS, admin.grantRevokeParams, admin.grantRevokeResult, 'Revokes a grant'),
  'jobs/list': def(ALL, jobs.jobsListParams.optional(), jobs.jobsListResult, 'Jobs, newest first, by capability and status'),
  'jobs/get': def(ALL, jobs.jobIdParams, jobs.jobInfo, 'One job: status, attempts, last error or output'),
  'jobs/retry': def(WRITERS, jobs.jobIdParams, jobs.jobInfo, 'Runs a dead, cancelled or failed job again, with fresh attempts'),
  'jobs/cancel': def(WRITERS, jobs.jobIdParams, jobs.jobInfo, 'Cancels a pending or failed job'),
  'schedules/list': def(ALL, jobs.schedulesListParams.optional(), jobs.schedulesListResult, 'The active schedules with their next run times'),
  'schedules/pause': def(WRITERS, jobs.scheduleNameParams, jobs.schedulePauseResult, "Pauses a capability's schedules (occurrences are passed over)"),
  'schedules/resume': def(WRITERS, jobs.scheduleNameParams, jobs.schedulePauseResult, "Resumes a capability's schedules from now"),
  'secrets/set': def(OPERATORS, egress.secretsSetParams, egress.secretsSetResult, 'Stores a secret (encrypted) for the kernel to add to requests to its hosts'),
  'secrets/list': def(OPERATORS, noParams, egress.secretsListResult, 'The secrets by name, hosts, header and format; never their values'),
  'secrets/remove': def(OPERATORS, egress.secretsRemoveParams, egress.secretsRemoveResult, 'Removes a secret'),
  'effects/list': def(WRITERS, egress.effectsListParams.optional(), egress.effectsListResult, 'The effect journal: requests capabilities made, newest first'),
  'capabilities/rollout': def(WRITERS, rollouts.rolloutParams, rollouts.rolloutInfo, 'Serves a gated version to a growing share of calls; promotes or aborts itself on the verdict'),
  'rollouts/get': def(ALL, rollouts.rolloutsGetParams.optional(), rollouts.rolloutsGetResult, 'Rollouts with their steps and verdicts, newest first'),
  'rollouts/abort': def(WRITERS, rollouts.rolloutNameParams, rollouts.rolloutInfo, "Returns all traffic of a rollout's name to the current version"),
  'rollouts/promote': def(WRITERS, rollouts.rolloutNameParams, rollouts.rolloutInfo, "Makes a rollout's canary current now (gated)"),
  'metrics/get': def(ALL, evaluation.metricsGetParams.optional(), evaluation.metricsGetResult, 'Per version: calls, errors by type, duration percentiles, re-runs, egress, jobs'),
  'records/list': def(WRITERS, evaluation.recordsListParams, evaluation.recordsListResult, 'Recorded root invocations of a capability, newest first'),
  'kernel/backup': def(OPERATORS, admin.backupParams, admin.backupResult, 'A consistent copy of the store [extension]'),
} as const;

export type MethodName = keyof typeof PROTOCOL;
export const METHOD_NAMES = Object.keys(PROTOCOL) as MethodName[];

/** params: what the kernel receives after validation (defaults applied); result: what it answers. */
export type Methods = {
  [M in MethodName]: { params: z.output<(typeof PROTOCOL)[M]['params']>; result: z.output<(typeof PROTOCOL)[M]['result']> };
};
export type ParamsOf<M extends MethodName> = Methods[M]['params'];
export type ResultOf<M extends MethodName> = Methods[M]['result'];
