// The method table: for every protocol method, who may call it, the shape of its params (zod,
// reported as -32602 with the path of the bad field) and what it does on the Kernel. Transport-free:
// the WebSocket server and the MCP endpoint both dispatch through here, so roles are checked in one
// place.

import { z } from 'zod';
import { fail, RpcProtocolError, RPC_CODES } from '../capabilities/errors.ts';
import type { Json, Principal, Role } from '../capabilities/types.ts';
import { GRANT_KINDS, LOG_ORIGINS } from './api.ts';
import type { EventType, MethodName, ProgressEvent, SubscribeResult } from './api.ts';
import type { Kernel } from './kernel.ts';
import type { Auth } from './auth.ts';
import { LogAccess } from './log-access.ts';
import { isStorageFull, storageFullError } from '../store/storage-errors.ts';

export interface CallContext {
  principal: Principal;
  /** Set when the caller asked for progress notifications of a long operation. */
  progress?: (p: Omit<ProgressEvent, 'requestId'>) => void;
  /** Connection-scoped: only transports with a notification channel provide it. */
  subscribe?: (types: EventType[], name: string | undefined) => void;
}

const ALL: Role[] = ['operator', 'agent', 'client'];
const WRITERS: Role[] = ['operator', 'agent'];
const OPERATORS: Role[] = ['operator'];

const name = z.string().min(1).max(128);
const json: z.ZodType<Json> = z.lazy(() => z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(json), z.record(z.string(), json)]));
const language = z.enum(['js', 'ts']);
const limit = z.number().int().min(1).max(100_000).optional();
const eventTypes = z.array(z.enum(['capability.registered', 'capability.activated', 'capability.removed', 'capability.rolledBack', 'log']));

const registerChange = z.strictObject({
  op: z.literal('register'),
  source: z.string(),
  manifest: z.record(z.string(), json).optional(),
  language: language.optional(),
  activate: z.boolean().optional(),
});

const empty = z.strictObject({}).optional();

interface MethodSpec {
  roles: Role[];
  params: z.ZodType;
  run: (kernel: Kernel, ctx: CallContext, params: never, auth: Auth) => unknown;
}

function method<S extends z.ZodType>(roles: Role[], params: S, run: (kernel: Kernel, ctx: CallContext, params: z.infer<S>, auth: Auth) => unknown): MethodSpec {
  return { roles, params, run: run as MethodSpec['run'] };
}

export const METHODS: Record<MethodName, MethodSpec> = {
  'kernel/info': method(ALL, empty, (k) => k.info()),
  'capabilities/register': method(
    WRITERS,
    z.strictObject({ source: z.string(), manifest: z.record(z.string(), json).optional(), language: language.optional(), activate: z.boolean().optional() }),
    (k, ctx, p) => k.register(ctx.principal, p, ctx.progress),
  ),
  'capabilities/apply': method(
    WRITERS,
    z.strictObject({
      changes: z
        .array(
          z.discriminatedUnion('op', [
            registerChange,
            z.strictObject({ op: z.literal('activate'), name, version: z.string().min(1) }),
            z.strictObject({ op: z.literal('remove'), name }),
          ]),
        )
        .min(1),
      dryRun: z.boolean().optional(),
    }),
    (k, ctx, p) => k.apply(ctx.principal, p, ctx.progress),
  ),
  'capabilities/rollback': method(WRITERS, z.strictObject({ name, to: z.string().min(1).optional() }), (k, ctx, p) => k.rollback(ctx.principal, p, ctx.progress)),
  'capabilities/remove': method(WRITERS, z.strictObject({ name }), (k, ctx, p) => k.remove(ctx.principal, p.name)),
  'capabilities/list': method(ALL, z.strictObject({ prefix: z.string().optional(), cursor: z.string().optional(), limit }).optional(), (k, _c, p) => k.list(p ?? {})),
  'capabilities/describe': method(ALL, z.strictObject({ name, version: z.string().min(1).optional() }), (k, _c, p) => k.describe(p)),
  'capabilities/history': method(ALL, z.strictObject({ name: name.optional(), limit, cursor: z.string().optional() }).optional(), (k, _c, p) => k.history(p ?? {})),
  // `input` is whatever JSON.parse produced, so it is JSON already; walking it again here would cost
  // the hot path a second traversal. The capability's inputSchema is checked in the sandbox.
  'capabilities/invoke': method(ALL, z.strictObject({ name, input: z.unknown().optional(), version: z.string().min(1).optional() }), (k, _c, p) =>
    k.invoke({ name: p.name, input: (p.input ?? null) as Json, version: p.version }),
  ),
  'graph/get': method(ALL, z.strictObject({ root: name.optional(), depth: z.number().int().min(0).optional() }).optional(), (k, _c, p) => k.graphView(p ?? {})),
  'graph/impact': method(ALL, z.strictObject({ name }), (k, _c, p) => k.impact(p.name)),
  'state/get': method(OPERATORS, z.strictObject({ namespace: z.string().min(1), key: z.string() }), (k, _c, p) => k.stateGet(p.namespace, p.key)),
  'state/list': method(
    OPERATORS,
    z.strictObject({ namespace: z.string().min(1), prefix: z.string().optional(), cursor: z.string().optional(), limit }),
    (k, _c, p) => k.stateList(p),
  ),
  'events/subscribe': method(ALL, z.strictObject({ types: eventTypes.optional(), name: name.optional() }).optional(), (k, ctx, p): SubscribeResult => {
    if (!ctx.subscribe) throw fail('FORBIDDEN', 'this transport cannot deliver events', {});
    const types = p?.types ?? (['capability.registered', 'capability.activated', 'capability.removed', 'capability.rolledBack'] as EventType[]);
    if (types.includes('log') && ctx.principal.role === 'client') {
      throw fail('FORBIDDEN', "role 'client' may not read logs", { role: ctx.principal.role, eventType: 'log' });
    }
    if (types.includes('log')) new LogAccess(k.grants).checkNamed(ctx.principal, p?.name);
    ctx.subscribe(types, p?.name);
    return { subscribed: types };
  }),
  'logs/recent': method(WRITERS, z.strictObject({ name: name.optional(), limit, origin: z.enum(LOG_ORIGINS).optional() }).optional(), (k, ctx, p) => {
    const access = new LogAccess(k.grants);
    access.checkNamed(ctx.principal, p?.name);
    return k.recentLogs(p ?? {}, access.filterFor(ctx.principal));
  }),
  'tokens/create': method(OPERATORS, z.strictObject({ role: z.enum(['operator', 'agent', 'client']), name: z.string().min(1).max(128) }), (_k, _c, p, auth) =>
    auth.create(p.role, p.name),
  ),
  'tokens/list': method(OPERATORS, empty, (_k, _c, _p, auth) => ({ items: auth.list() })),
  'tokens/revoke': method(OPERATORS, z.strictObject({ id: z.string().min(1) }), (_k, _c, p, auth) => auth.revoke(p.id)),
  // Agents may call these for the shared namespaces they own; the kernel checks that (grants.ts).
  'grants/add': method(
    WRITERS,
    z.strictObject({
      principal: z.string().min(1).max(200),
      kind: z.enum(GRANT_KINDS),
      target: z.string().min(1).max(512),
      mode: z.enum(['r', 'rw']).optional(),
      methods: z.array(z.string().min(1).max(16)).max(16).optional(),
    }),
    (k, ctx, p) => k.grants.add(ctx.principal, p),
  ),
  'grants/list': method(WRITERS, z.strictObject({ principal: z.string().min(1).max(200).optional() }).optional(), (k, ctx, p) => k.grants.list(ctx.principal, p ?? {})),
  'grants/revoke': method(WRITERS, z.strictObject({ id: z.string().min(1).max(200) }), (k, ctx, p) => k.grants.revoke(ctx.principal, p.id)),
  'kernel/backup': method(OPERATORS, z.strictObject({ file: z.string().min(1) }), (k, _c, p) => k.backup(p.file)),
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
