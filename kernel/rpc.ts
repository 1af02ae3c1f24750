// The method table: for every protocol method, what it does on the Kernel, with who may call it and
// the shape of its params (zod, reported as -32602 with the path of the bad field) taken from the
// one protocol source, capabilities/protocol/methods.ts. Transport-free:
// the WebSocket server and the MCP endpoint both dispatch through here, so roles are checked in one
// place.

import type { z } from 'zod';
import { fail, RpcProtocolError, RPC_CODES } from '../capabilities/errors.ts';
import type { Principal, Role } from '../capabilities/types.ts';
import { COMMIT_EVENT_TYPES } from '../capabilities/protocol/constants.ts';
import { PROTOCOL, type MethodDef } from '../capabilities/protocol/methods.ts';
import type { EventType, MethodName, ProgressEvent, SubscribeResult } from './api.ts';
import type { Kernel } from './kernel.ts';
import type { Auth } from './auth.ts';
import { LogAccess } from './log-access.ts';
import { metricsGet } from './metrics.ts';
import { isStorageFull, storageFullError } from '../store/storage-errors.ts';

export interface CallContext {
  principal: Principal;
  /** Set when the caller asked for progress notifications of a long operation. */
  progress?: (p: Omit<ProgressEvent, 'requestId'>) => void;
  /** Connection-scoped: only transports with a notification channel provide it. */
  subscribe?: (types: EventType[], name: string | undefined) => void;
}

interface MethodSpec {
  roles: readonly Role[];
  params: z.ZodType;
  run: (kernel: Kernel, ctx: CallContext, params: never, auth: Auth) => unknown;
}

/** A method's roles and params schema come from the protocol source; only what it does is here. */
function method<M extends MethodName>(
  name: M,
  run: (kernel: Kernel, ctx: CallContext, params: z.output<(typeof PROTOCOL)[M]['params']>, auth: Auth) => unknown,
): MethodSpec {
  const def: MethodDef = PROTOCOL[name];
  return { roles: def.roles, params: def.params, run: run as MethodSpec['run'] };
}

export const METHODS: Record<MethodName, MethodSpec> = {
  'kernel/info': method('kernel/info', (k, ctx) => ({ ...k.info(), principal: { id: ctx.principal.id, name: ctx.principal.name, role: ctx.principal.role } })),
  'capabilities/register': method('capabilities/register', (k, ctx, p) => k.register(ctx.principal, p, ctx.progress)),
  'capabilities/apply': method('capabilities/apply', (k, ctx, p) => k.apply(ctx.principal, p, ctx.progress)),
  'capabilities/rollback': method('capabilities/rollback', (k, ctx, p) => k.rollback(ctx.principal, p, ctx.progress)),
  'capabilities/remove': method('capabilities/remove', (k, ctx, p) => k.remove(ctx.principal, p.name)),
  'capabilities/list': method('capabilities/list', (k, _c, p) => k.list(p ?? {})),
  'capabilities/describe': method('capabilities/describe', (k, _c, p) => k.describe(p)),
  'capabilities/history': method('capabilities/history', (k, _c, p) => k.history(p ?? {})),
  // `input` is whatever JSON.parse produced, so it is JSON already: the schema does not walk it
  // again (capabilities/protocol jsonPassthrough) and makes an absent one null. The capability's
  // inputSchema is checked in the sandbox.
  'capabilities/invoke': method('capabilities/invoke', (k, _c, p) => k.invoke({ name: p.name, input: p.input, version: p.version })),
  'graph/get': method('graph/get', (k, _c, p) => k.graphView(p ?? {})),
  'graph/impact': method('graph/impact', (k, _c, p) => k.impact(p.name)),
  'state/get': method('state/get', (k, _c, p) => k.stateGet(p.namespace, p.key)),
  'state/list': method('state/list', (k, _c, p) => k.stateList(p)),
  'events/subscribe': method('events/subscribe', (k, ctx, p): SubscribeResult => {
    if (!ctx.subscribe) throw fail('FORBIDDEN', 'this transport cannot deliver events', {});
    const types: EventType[] = p?.types ?? [...COMMIT_EVENT_TYPES];
    if (types.includes('log') && ctx.principal.role === 'client') {
      throw fail('FORBIDDEN', "role 'client' may not read logs", { role: ctx.principal.role, eventType: 'log' });
    }
    if (types.includes('log')) new LogAccess(k.grants).checkNamed(ctx.principal, p?.name);
    ctx.subscribe(types, p?.name);
    return { subscribed: types };
  }),
  'logs/recent': method('logs/recent', (k, ctx, p) => {
    const access = new LogAccess(k.grants);
    access.checkNamed(ctx.principal, p?.name);
    return k.recentLogs(p ?? {}, access.filterFor(ctx.principal));
  }),
  'tokens/create': method('tokens/create', (_k, _c, p, auth) => auth.create(p.role, p.name)),
  'tokens/list': method('tokens/list', (_k, _c, _p, auth) => ({ items: auth.list() })),
  'tokens/revoke': method('tokens/revoke', (_k, _c, p, auth) => auth.revoke(p.id)),
  // Agents may call these for the shared namespaces they own; http grants are operators' (grants.ts).
  'grants/add': method('grants/add', (k, ctx, p) => k.grants.add(ctx.principal, p)),
  'grants/list': method('grants/list', (k, ctx, p) => k.grants.list(ctx.principal, p ?? {})),
  'grants/revoke': method('grants/revoke', (k, ctx, p) => k.grants.revoke(ctx.principal, p.id)),
  'jobs/list': method('jobs/list', (k, _c, p) => k.jobs.list(p ?? {})),
  'jobs/get': method('jobs/get', (k, _c, p) => k.jobs.get(p.id)),
  'jobs/retry': method('jobs/retry', (k, ctx, p) => k.jobs.retry(ctx.principal, p.id)),
  'jobs/cancel': method('jobs/cancel', (k, ctx, p) => k.jobs.cancel(ctx.principal, p.id)),
  'schedules/list': method('schedules/list', (k, _c, p) => k.jobs.schedules(p ?? {})),
  'schedules/pause': method('schedules/pause', (k, ctx, p) => k.jobs.pause(ctx.principal, p.name)),
  'schedules/resume': method('schedules/resume', (k, ctx, p) => k.jobs.resume(ctx.principal, p.name)),
  // Operators only (the protocol's roles): no method ever returns a secret's value.
  'secrets/set': method('secrets/set', (k, ctx, p) => k.secrets.set(ctx.principal, p)),
  'secrets/list': method('secrets/list', (k) => k.secrets.list()),
  'secrets/remove': method('secrets/remove', (k, _c, p) => k.secrets.remove(p.name)),
  // Agents read the records of the capabilities they own (kernel/effects-api.ts).
  'effects/list': method('effects/list', (k, ctx, p) => k.effects.list(ctx.principal, p ?? {})),
  // Owners and operators (the controller checks ownership); anyone may read.
  'capabilities/rollout': method('capabilities/rollout', (k, ctx, p) => k.rollouts.start(ctx.principal, p)),
  'rollouts/get': method('rollouts/get', (k, _c, p) => k.rollouts.get(p?.name)),
  'rollouts/abort': method('rollouts/abort', (k, ctx, p) => k.rollouts.abort(ctx.principal, p.name)),
  'rollouts/promote': method('rollouts/promote', (k, ctx, p) => k.rollouts.promote(ctx.principal, p.name)),
  'metrics/get': method('metrics/get', (k, _c, p) => metricsGet(k.metrics, k.currentGraph(), p ?? {}, k.info().uptimeMs)),
  // Operators, and agents for the capabilities they own: records hold inputs (kernel/records.ts).
  'records/list': method('records/list', (k, ctx, p) => {
    if (!k.records) throw fail('NOT_FOUND', 'call records are off in this kernel', { what: 'records' });
    return k.records.listFor(ctx.principal, p);
  }),
  'kernel/backup': method('kernel/backup', (k, _c, p) => k.backup(p.file)),
};

export class Rpc {
  constructor(
    readonly kernel: Kernel,
    readonly auth: Auth,
  ) {}

  /** Runs one method for a principal. Throws RpcProtocolError (unknown method, bad params) or
   *  SubstrateError (everything typed). */
  async dispatch(ctx: CallContext, methodName: string, rawParams: unknown): Promise<unknown> {
    const spec = Object.prototype.hasOwnProperty.call(METHODS, methodName) ? METHODS[methodName as MethodName] : undefined;
    if (!spec) throw new RpcProtocolError(RPC_CODES.METHOD_NOT_FOUND, `method not found: ${methodName}`, { method: methodName });
    if (!spec.roles.includes(ctx.principal.role)) {
      throw fail('FORBIDDEN', `role '${ctx.principal.role}' may not call ${methodName}`, { role: ctx.principal.role, method: methodName });
    }
    const parsed = spec.params.safeParse(rawParams ?? undefined);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path = issue.path.map(String).join('.');
      throw new RpcProtocolError(RPC_CODES.INVALID_PARAMS, `invalid params${path ? ` at '${path}'` : ''}: ${issue.message}`, {
        path,
        issues: parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
      });
    }
    try {
      return await spec.run(this.kernel, ctx, parsed.data as never, this.auth);
    } catch (e) {
      throw isStorageFull(e) ? storageFullError(this.kernel.dataDir) : e;
    }
  }
}

/** Whether a role may call a method at all (ownership is checked later, by the kernel). */
export function allowed(role: Role, methodName: MethodName): boolean {
  return METHODS[methodName].roles.includes(role);
}
