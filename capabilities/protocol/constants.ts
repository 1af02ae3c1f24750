// The protocol's plain constants (no zod): enumerations the schemas are built from and that the
// client library, the CLI and the kernel use at run time. Kept apart from the schemas so that code
// needing only these values (the client in dist/) loads no schema library.

import type { Access, Language, Role } from '../types.ts';

export const ROLES = ['operator', 'agent', 'client'] as const satisfies readonly Role[];
export const LANGUAGES = ['js', 'ts'] as const satisfies readonly Language[];
export const ACCESS_MODES = ['r', 'rw'] as const satisfies readonly Access[];

/** Where a log line comes from: a live run (invocations, migrations) or a gate test's run. */
export const LOG_ORIGINS = ['live', 'gate', 'dryRun', 'replay'] as const;

/** `namespace`: a shared namespace (`mode` r or rw). `http`: an egress destination pattern
 *  (`methods`, default all). The store keeps both in one table (store/grants.ts). */
export const GRANT_KINDS = ['namespace', 'http'] as const;

/** The events a commit announces, in the order of EVENT_TYPES; `log` is the fifth type. */
export const COMMIT_EVENT_TYPES = ['capability.registered', 'capability.activated', 'capability.removed', 'capability.rolledBack'] as const;
/** What the job runner announces (docs/jobs.md). */
export const JOB_EVENT_TYPES = ['job.succeeded', 'job.failed', 'job.dead'] as const;
/** What the rollout controller announces (docs/evaluation.md, "Rollouts"); each carries a verdict. */
export const ROLLOUT_EVENT_TYPES = ['rollout.step', 'rollout.promoted', 'rollout.aborted'] as const;
export const EVENT_TYPES = [...COMMIT_EVENT_TYPES, 'log', ...JOB_EVENT_TYPES, ...ROLLOUT_EVENT_TYPES] as const;

export const PROGRESS_PHASES = ['compile', 'gates', 'replay', 'migrate', 'commit'] as const;

/** How a role is written where a principal is expected. */
export const ROLE_PRINCIPAL_PREFIX = 'role:';

/** WebSocket close code of a connection whose token was revoked (or is refused): the client library
 *  fails its calls with UNAUTHORIZED and does not reconnect. */
export const CLOSE_UNAUTHORIZED = 4001;

export const DEFAULT_PORT = 7070;
export const DEFAULT_HOST = '127.0.0.1';
