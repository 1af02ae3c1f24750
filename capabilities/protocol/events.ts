// The schemas of events and logs: events/subscribe, the `event` notification (KernelEvent),
// logs/recent, and the `progress` notification of long operations.

import { z } from 'zod';
import { capabilityName, generation, limit, timestamp } from './common.ts';
import { jobEvent } from './jobs.ts';
import { rolloutEvent } from './rollouts.ts';
import { COMMIT_EVENT_TYPES, EVENT_TYPES, LOG_ORIGINS, PROGRESS_PHASES } from './constants.ts';

export const eventType = z.enum(EVENT_TYPES);
export const logOrigin = z.enum(LOG_ORIGINS);

export const subscribeParams = z.strictObject({
  types: z.array(eventType).optional().meta({ description: 'Default: the four capability.* types' }),
  /** Extension: only events about this capability (and, for `log`, its invocations). */
  name: capabilityName.optional().meta({ description: 'Only events about this capability (and, for log, its invocations) [extension]' }),
});
export const subscribeResult = z.object({ subscribed: z.array(eventType) });

export const commitEvent = z.object({
  type: z.enum(COMMIT_EVENT_TYPES),
  generation,
  name: z.string(),
  version: z.string().nullable(),
  previous: z.string().nullable(),
  principal: z.string(),
  at: timestamp,
});
export const logEvent = z.object({
  type: z.literal('log'),
  generation,
  invocationId: z.string(),
  name: z.string(),
  version: z.string(),
  level: z.string(),
  message: z.string(),
  at: timestamp,
  /** Extension: `live` for invocations (and migrations), `gate`/`dryRun` for a gate test's run.
   *  This kernel always sends it; a reader treats it absent as `live`. */
  origin: logOrigin.optional(),
  /** Extension, with `gate`/`dryRun`: whose test wrote the line (`name` may be a dependency). */
  gate: z.object({ capability: z.string(), version: z.string(), test: z.string() }).optional(),
});
/** Params of the `event` notification. */
export const kernelEvent = z.union([commitEvent, logEvent, jobEvent, rolloutEvent]);

export const logsParams = z.strictObject({
  name: capabilityName.optional(),
  limit,
  /** Extension: only lines of this origin. */
  origin: logOrigin.optional(),
});
export const logsResult = z.object({ items: z.array(logEvent) });

/** Params of the `progress` notification sent to the caller of a long operation
 *  (register/apply/rollback with `progress: true` in params — an extension). */
export const progressEvent = z.object({
  requestId: z.union([z.string(), z.number()]),
  phase: z.enum(PROGRESS_PHASES),
  capability: z.string().optional(),
  version: z.string().optional(),
  test: z.string().optional(),
  done: z.number().int(),
  total: z.number().int(),
});
