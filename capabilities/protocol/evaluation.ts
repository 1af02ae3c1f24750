// The schemas of the evaluation reads (the contract's "Evaluation"): metrics/get (per version, what
// capabilities/evaluation.ts VersionWindow says, over a window or since the kernel started) and
// records/list (recorded root invocations, CallRecord with an ISO time). Replay and rollouts have
// their own files (capabilities.ts, rollouts.ts).

import { z } from 'zod';
import { capabilityName, cursor, jsonPassthrough, limit, nextCursor, timestamp, version, versionParam } from './common.ts';

export const metricsGetParams = z.strictObject({
  name: capabilityName.optional().meta({ description: 'Only the versions of this capability' }),
  version: versionParam.optional().meta({ description: 'Only this version (with name)' }),
  windowS: z.number().int().min(1).max(3600).optional().meta({ description: 'The last this many seconds (at most an hour); absent: since the kernel started' }),
});

/** One version's counts (capabilities/evaluation.ts VersionWindow) with its hash. */
export const versionMetrics = z.object({
  name: z.string(),
  version,
  hash: z.string(),
  current: z.boolean().meta({ description: 'It is the current version of its name' }),
  calls: z.number().int().meta({ description: 'Root invocations that ended (jobs included)' }),
  errors: z.number().int(),
  errorsByType: z.record(z.string(), z.number().int()).meta({ description: 'Errors by type, most frequent first' }),
  p50: z.number().meta({ description: 'Duration percentiles in ms (0 without calls)' }),
  p95: z.number(),
  p99: z.number(),
  reruns: z.number().int().meta({ description: 'Runs again after a lost state conflict' }),
  conflicts: z.number().int().meta({ description: 'State conflicts lost (incl. those ending in STATE_CONFLICT)' }),
  egress: z.number().int().meta({ description: 'Requests sent to egress (refused ones included, journal replays not)' }),
  jobs: z.number().int().meta({ description: 'Calls that were runs of a job' }),
  callsPerS: z.number().meta({ description: 'calls divided by the seconds of the window' }),
});

export const metricsGetResult = z.object({
  windowS: z.number().meta({ description: 'The seconds counted: windowS, or the uptime' }),
  since: timestamp,
  items: z.array(versionMetrics),
});

export const recordsListParams = z.strictObject({
  name: capabilityName,
  version: versionParam.optional().meta({ description: 'Only this version (absent: every version of the name)' }),
  limit,
  cursor,
});

const egressRequest = z.object({
  method: z.string(),
  url: z.string(),
  headers: z.array(z.tuple([z.string(), z.string()])).meta({ description: 'The headers the capability set (never a secret)' }),
  body: z.string().nullable().meta({ description: 'base64; null: none' }),
});
const egressResponse = z.object({
  status: z.number().int(),
  statusText: z.string(),
  headers: z.array(z.tuple([z.string(), z.string()])),
  url: z.string(),
  redirected: z.boolean(),
  body: z.string().meta({ description: 'base64, secrets redacted' }),
});

/** One recorded root invocation (capabilities/evaluation.ts CallRecord), `at` as ISO time. */
export const recordInfo = z.object({
  id: z.string(),
  at: timestamp,
  name: z.string(),
  version,
  hash: z.string(),
  generation: z.number().int(),
  invocationId: z.string(),
  input: jsonPassthrough,
  output: jsonPassthrough.optional().meta({ description: 'Exactly one of output and error' }),
  error: z.object({ type: z.string(), message: z.string() }).optional(),
  durationMs: z.number(),
  reads: z.array(z.tuple([z.string(), z.string(), z.string().nullable()])).meta({ description: 'State read: [namespace, key, JSON text or null when absent]' }),
  egress: z.array(z.object({ request: egressRequest, response: egressResponse })).meta({ description: 'The requests of the call tree with the responses it got, in order' }),
  replayable: z.boolean().meta({ description: 'False when replay cannot reproduce it (state.list, a failed request, ...)' }),
});

export const recordsListResult = z.object({ items: z.array(recordInfo), nextCursor });
