// The protocol's methods as TypeScript types: params and result of every JSON-RPC method the kernel
// serves (the contract's "Protocol" section, plus the extensions documented in docs/protocol.md).
// Shared by the server's method table, the client library, the CLI and the MCP endpoint.

import type { Access, Json, JsonObject, Language, Manifest, Role } from '../capabilities/types.ts';
import type { GrantKind } from '../store/types.ts';

export interface KernelInfo {
  version: string;
  generation: number;
  uptimeMs: number;
  capabilities: number;
}

export interface RegisterParams {
  source: string;
  manifest?: JsonObject;
  language?: Language;
  activate?: boolean;
}
export interface RegisterResult {
  name: string;
  version: string;
  hash: string;
  activated: boolean;
  generation: number;
  gates: GateResult[];
}

export type ChangeParams =
  | { op: 'register'; source: string; manifest?: JsonObject; language?: Language; activate?: boolean }
  | { op: 'activate'; name: string; version: string }
  | { op: 'remove'; name: string };

export interface ApplyParams {
  changes: ChangeParams[];
  dryRun?: boolean;
}

/** One change as planned/committed: what it did to which capability. */
export interface ChangeSummary {
  op: 'register' | 'activate' | 'remove';
  name: string;
  version: string | null;
  hash: string | null;
  /** The version that was current before, if any. */
  previous: string | null;
  activated: boolean;
}

export interface GateResult {
  capability: string;
  version: string;
  test: string;
  passed: boolean;
  expected?: Json;
  actual?: Json;
  error?: { type: string; message: string };
  durationMs: number;
}

export interface ApplyResult {
  generation: number;
  dryRun: boolean;
  changes: ChangeSummary[];
  /** Current capabilities outside the changeset whose tests run because they depend on it. */
  touched: string[];
  gates: GateResult[];
}

export interface RollbackParams {
  name: string;
  to?: string;
}
export interface RollbackResult {
  name: string;
  version: string;
  generation: number;
}

export interface RemoveParams {
  name: string;
}
export interface RemoveResult {
  name: string;
  generation: number;
}

export interface ListParams {
  prefix?: string;
  cursor?: string;
  limit?: number;
}
export interface ListItem {
  name: string;
  current: string | null;
  versions: string[];
  description: string;
}
export interface ListResult {
  items: ListItem[];
  nextCursor: string | null;
}

export interface DescribeParams {
  name: string;
  version?: string;
}
export interface DescribeResult {
  name: string;
  version: string;
  hash: string;
  current: boolean;
  manifest: Manifest;
  source: string;
  language: Language;
  dependencies: Array<{ name: string; range: string; resolved: string | null }>;
  dependents: string[];
  owner: string;
  createdAt: string;
}

export interface HistoryParams {
  name?: string;
  limit?: number;
  cursor?: string;
}
export interface HistoryItem {
  generation: number;
  at: string;
  principal: string;
  changes: ChangeSummary[];
  gates: GateResult[];
}
export interface HistoryResult {
  items: HistoryItem[];
  nextCursor: string | null;
}

export interface InvokeParams {
  name: string;
  input: Json;
  version?: string;
}
export interface InvokeResult {
  output: Json;
  name: string;
  version: string;
  generation: number;
  invocationId: string;
  durationMs: number;
}

export interface GraphParams {
  root?: string;
  depth?: number;
}
export type GraphNode =
  | { kind: 'capability'; name: string; version: string; current: boolean; description: string }
  | { kind: 'namespace'; name: string; version: null };
export type GraphEdge =
  | { kind: 'call'; from: string; fromVersion: string; to: string; range: string; resolved: string | null }
  | { kind: 'state'; from: string; fromVersion: string; to: string; access: 'r' | 'rw'; range: null; resolved: null };
export interface GraphResult {
  generation: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface ImpactParams {
  name: string;
}
export interface ImpactResult {
  name: string;
  dependents: string[];
  tests: Array<{ capability: string; version: string; test: string }>;
}

export interface StateGetParams {
  namespace: string;
  key: string;
}
export interface StateGetResult {
  namespace: string;
  key: string;
  value: Json;
  version: number;
}
export interface StateListParams {
  namespace: string;
  prefix?: string;
  cursor?: string;
  limit?: number;
}
export interface StateListResult {
  items: Array<{ key: string; value: Json; version: number }>;
  nextCursor: string | null;
}

export type EventType =
  | 'capability.registered'
  | 'capability.activated'
  | 'capability.removed'
  | 'capability.rolledBack'
  | 'log';
export interface SubscribeParams {
  types?: EventType[];
  /** Extension: only events about this capability (and, for `log`, its invocations). */
  name?: string;
}
export interface SubscribeResult {
  subscribed: EventType[];
}
/** Params of the `event` notification. */
export type KernelEvent =
  | { type: Exclude<EventType, 'log'>; generation: number; name: string; version: string | null; previous: string | null; principal: string; at: string }
  | {
      type: 'log';
      generation: number;
      invocationId: string;
      name: string;
      version: string;
      level: string;
      message: string;
      at: string;
      /** Extension: `live` for invocations (and migrations), `gate`/`dryRun` for a gate test's run.
       *  This kernel always sends it; a reader treats it absent as `live`. */
      origin?: LogOrigin;
      /** Extension, with `gate`/`dryRun`: whose test wrote the line (`name` may be a dependency). */
      gate?: { capability: string; version: string; test: string };
    };

/** Where a log line comes from: a live run (invocations, migrations) or a gate test's run. */
export const LOG_ORIGINS = ['live', 'gate', 'dryRun'] as const;
export type LogOrigin = (typeof LOG_ORIGINS)[number];

export interface LogsParams {
  name?: string;
  limit?: number;
  /** Extension: only lines of this origin. */
  origin?: LogOrigin;
}
export interface LogsResult {
  items: Array<Extract<KernelEvent, { type: 'log' }>>;
}

export interface TokenCreateParams {
  role: Role;
  name: string;
}
export interface TokenCreateResult {
  id: string;
  name: string;
  role: Role;
  token: string;
}
export interface TokenListResult {
  items: Array<{ id: string; name: string; role: Role; createdAt: string; revoked: boolean }>;
}
export interface TokenRevokeParams {
  id: string;
}
export interface TokenRevokeResult {
  id: string;
  revoked: boolean;
}

/** A grant's principal: a token id (`tok_...`), or `role:operator|agent|client` for every token of
 *  that role. */
export type GrantPrincipal = string;
/** `namespace`: a shared namespace (`mode` r or rw). `http`: an egress destination (issue 13; this
 *  kernel refuses it for now). The store keeps both in one table (store/grants.ts). */
export type { GrantKind };
export const GRANT_KINDS = ['namespace', 'http'] as const satisfies readonly GrantKind[];
/** How a role is written where a principal is expected. */
export const ROLE_PRINCIPAL_PREFIX = 'role:';

export interface GrantAddParams {
  principal: GrantPrincipal;
  kind: GrantKind;
  target: string;
  /** `namespace` grants; default `r`. */
  mode?: Access;
  /** `http` grants; default all. */
  methods?: string[];
}
export interface GrantInfo {
  id: string;
  principal: GrantPrincipal;
  /** The token's name, or the role, for display. */
  principalName: string;
  kind: GrantKind;
  target: string;
  mode: Access | null;
  methods: string[] | null;
  grantedBy: string;
  createdAt: string;
}
export interface GrantListParams {
  principal?: GrantPrincipal;
}
export interface GrantListResult {
  items: GrantInfo[];
  /** The shared namespaces the caller may see the owner of (operators: all; agents: their own). */
  owners: Array<{ namespace: string; owner: string; ownerName: string; capability: string; since: string }>;
}
export interface GrantRevokeParams {
  id: string;
}
export interface GrantRevokeResult {
  id: string;
  revoked: boolean;
}

export interface BackupParams {
  file: string;
}
export interface BackupResult {
  file: string;
  bytes: number;
}

/** Params of the `progress` notification sent to the caller of a long operation
 *  (register/apply/rollback with `progress: true` in params — an extension). */
export interface ProgressEvent {
  requestId: string | number;
  phase: 'compile' | 'gates' | 'migrate' | 'commit';
  capability?: string;
  version?: string;
  test?: string;
  done: number;
  total: number;
}

/** What a long operation reports its progress to (the `progress` notification without its id). */
export type ProgressFn = (p: Omit<ProgressEvent, 'requestId'>) => void;

export interface Methods {
  'kernel/info': { params: Record<string, never> | undefined; result: KernelInfo };
  'capabilities/register': { params: RegisterParams; result: RegisterResult };
  'capabilities/apply': { params: ApplyParams; result: ApplyResult };
  'capabilities/rollback': { params: RollbackParams; result: RollbackResult };
  'capabilities/remove': { params: RemoveParams; result: RemoveResult };
  'capabilities/list': { params: ListParams | undefined; result: ListResult };
  'capabilities/describe': { params: DescribeParams; result: DescribeResult };
  'capabilities/history': { params: HistoryParams | undefined; result: HistoryResult };
  'capabilities/invoke': { params: InvokeParams; result: InvokeResult };
  'graph/get': { params: GraphParams | undefined; result: GraphResult };
  'graph/impact': { params: ImpactParams; result: ImpactResult };
  'state/get': { params: StateGetParams; result: StateGetResult };
  'state/list': { params: StateListParams; result: StateListResult };
  'events/subscribe': { params: SubscribeParams | undefined; result: SubscribeResult };
  'logs/recent': { params: LogsParams | undefined; result: LogsResult };
  'tokens/create': { params: TokenCreateParams; result: TokenCreateResult };
  'tokens/list': { params: Record<string, never> | undefined; result: TokenListResult };
  'tokens/revoke': { params: TokenRevokeParams; result: TokenRevokeResult };
  'grants/add': { params: GrantAddParams; result: GrantInfo };
  'grants/list': { params: GrantListParams | undefined; result: GrantListResult };
  'grants/revoke': { params: GrantRevokeParams; result: GrantRevokeResult };
  'kernel/backup': { params: BackupParams; result: BackupResult };
}

export type MethodName = keyof Methods;
export type ParamsOf<M extends MethodName> = Methods[M]['params'];
export type ResultOf<M extends MethodName> = Methods[M]['result'];

/** WebSocket close code of a connection whose token was revoked (or is refused): the client library
 *  fails its calls with UNAUTHORIZED and does not reconnect. */
export const CLOSE_UNAUTHORIZED = 4001;

export const DEFAULT_PORT = 7070;
export const DEFAULT_HOST = '127.0.0.1';
