// The protocol's TypeScript types, each derived (z.output: after validation, defaults applied) from
// its zod schema in this folder. kernel/api.ts re-exports them under the same names for the kernel,
// the CLI and the client; mcp/ imports them from here (it may not import kernel/).

import type { z } from 'zod';
import type * as admin from './admin.ts';
import type * as caps from './capabilities.ts';
import type * as egress from './egress.ts';
import type * as events from './events.ts';
import type * as gs from './graph-state.ts';
import type * as rollouts from './rollouts.ts';
import type { LOG_ORIGINS } from './constants.ts';

export type { Methods, MethodName, ParamsOf, ResultOf } from './methods.ts';

export type KernelInfo = z.output<typeof admin.kernelInfo>;

export type RegisterParams = z.output<typeof caps.registerParams>;
export type RegisterResult = z.output<typeof caps.registerResult>;
export type ChangeParams = z.output<typeof caps.changeParams>;
export type ApplyParams = z.output<typeof caps.applyParams>;
/** One change as planned/committed: what it did to which capability. */
export type ChangeSummary = z.output<typeof caps.changeSummary>;
export type GateResult = z.output<typeof caps.gateResult>;
export type ApplyResult = z.output<typeof caps.applyResult>;
export type RollbackParams = z.output<typeof caps.rollbackParams>;
export type RollbackResult = z.output<typeof caps.rollbackResult>;
export type RemoveParams = z.output<typeof caps.removeParams>;
export type RemoveResult = z.output<typeof caps.removeResult>;
export type ListParams = z.output<typeof caps.listParams>;
export type ListItem = z.output<typeof caps.listItem>;
export type ListResult = z.output<typeof caps.listResult>;
export type DescribeParams = z.output<typeof caps.describeParams>;
export type DescribeResult = z.output<typeof caps.describeResult>;
export type HistoryParams = z.output<typeof caps.historyParams>;
export type HistoryItem = z.output<typeof caps.historyItem>;
export type HistoryResult = z.output<typeof caps.historyResult>;
export type InvokeParams = z.output<typeof caps.invokeParams>;
export type InvokeResult = z.output<typeof caps.invokeResult>;

export type GraphParams = z.output<typeof gs.graphParams>;
export type GraphNode = z.output<typeof gs.graphNode>;
export type GraphEdge = z.output<typeof gs.graphEdge>;
export type GraphResult = z.output<typeof gs.graphResult>;
export type ImpactParams = z.output<typeof gs.impactParams>;
export type ImpactResult = z.output<typeof gs.impactResult>;
export type StateGetParams = z.output<typeof gs.stateGetParams>;
export type StateGetResult = z.output<typeof gs.stateGetResult>;
export type StateListParams = z.output<typeof gs.stateListParams>;
export type StateListResult = z.output<typeof gs.stateListResult>;

export type EventType = z.output<typeof events.eventType>;
export type SubscribeParams = z.output<typeof events.subscribeParams>;
export type SubscribeResult = z.output<typeof events.subscribeResult>;
/** Params of the `event` notification. */
export type KernelEvent = z.output<typeof events.kernelEvent>;
/** Where a log line comes from: a live run (invocations, migrations) or a gate test's run. */
export type LogOrigin = (typeof LOG_ORIGINS)[number];
export type LogsParams = z.output<typeof events.logsParams>;
export type LogsResult = z.output<typeof events.logsResult>;

export type TokenCreateParams = z.output<typeof admin.tokenCreateParams>;
export type TokenCreateResult = z.output<typeof admin.tokenCreateResult>;
export type TokenListResult = z.output<typeof admin.tokenListResult>;
export type TokenRevokeParams = z.output<typeof admin.tokenRevokeParams>;
export type TokenRevokeResult = z.output<typeof admin.tokenRevokeResult>;

/** A grant's principal: a token id (`tok_...`), or `role:operator|agent|client` for every token of
 *  that role. */
export type GrantPrincipal = string;
/** `namespace`: a shared namespace (`mode` r or rw). `http`: an egress destination pattern
 *  (`methods`, default all). The store keeps both in one table (store/grants.ts). */
export type GrantKind = z.output<typeof admin.grantKind>;
export type GrantAddParams = z.output<typeof admin.grantAddParams>;
export type GrantInfo = z.output<typeof admin.grantInfo>;
export type GrantListParams = z.output<typeof admin.grantListParams>;
export type GrantListResult = z.output<typeof admin.grantListResult>;
export type GrantRevokeParams = z.output<typeof admin.grantRevokeParams>;
export type GrantRevokeResult = z.output<typeof admin.grantRevokeResult>;

/** One manifest `effects.http` entry as describe, graph and impact show it. */
export type HttpEffectInfo = z.output<typeof egress.httpEffect>;
export type SecretsSetParams = z.output<typeof egress.secretsSetParams>;
export type SecretInfo = z.output<typeof egress.secretInfo>;
export type SecretsSetResult = z.output<typeof egress.secretsSetResult>;
export type SecretsListResult = z.output<typeof egress.secretsListResult>;
export type SecretsRemoveParams = z.output<typeof egress.secretsRemoveParams>;
export type SecretsRemoveResult = z.output<typeof egress.secretsRemoveResult>;
export type EffectsListParams = z.output<typeof egress.effectsListParams>;
/** One effect-journal entry as effects/list shows it (without the response). */
export type EffectInfo = z.output<typeof egress.effectInfo>;
export type EffectsListResult = z.output<typeof egress.effectsListResult>;

export type RolloutParams = z.output<typeof rollouts.rolloutParams>;
export type RolloutInfo = z.output<typeof rollouts.rolloutInfo>;
export type RolloutsGetParams = z.output<typeof rollouts.rolloutsGetParams>;
export type RolloutsGetResult = z.output<typeof rollouts.rolloutsGetResult>;
export type RolloutEvent = z.output<typeof rollouts.rolloutEvent>;

export type BackupParams = z.output<typeof admin.backupParams>;
export type BackupResult = z.output<typeof admin.backupResult>;

/** Params of the `progress` notification sent to the caller of a long operation
 *  (register/apply/rollback with `progress: true` in params — an extension). */
export type ProgressEvent = z.output<typeof events.progressEvent>;

/** What a long operation reports its progress to (the `progress` notification without its id). */
export type ProgressFn = (p: Omit<ProgressEvent, 'requestId'>) => void;
