// The schemas of the durable-work methods (docs/jobs.md): jobs/list, jobs/get, jobs/retry,
// jobs/cancel, schedules/list, schedules/pause, schedules/resume, and the job.* events.

import { z } from 'zod';
import { JOB_STATUSES } from '../jobs.ts';
import { JOB_EVENT_TYPES } from './constants.ts';
import { capabilityName, cursor, generation, jsonPassthrough, limit, nextCursor, timestamp, version } from './common.ts';

export const jobStatus = z.enum(JOB_STATUSES);
export const jobId = z.string().min(1).max(300).meta({ description: 'A job id, as ctx.enqueue resolved it or jobs/list shows it' });

const jobError = z.object({ type: z.string(), message: z.string(), data: z.record(z.string(), z.unknown()).optional() });

export const jobInfo = z.object({
  id: z.string(),
  name: z.string().meta({ description: 'The capability the job runs' }),
  status: jobStatus,
  input: jsonPassthrough,
  attempt: z.number().int().meta({ description: 'Attempts started' }),
  key: z.string().nullable(),
  origin: z
    .union([
      z.object({ kind: z.literal('enqueue'), by: z.string(), version: z.string(), invocationId: z.string() }),
      z.object({ kind: z.literal('schedule'), index: z.number().int(), occurrence: z.number() }),
    ])
    .meta({ description: 'ctx.enqueue of a call tree, or a schedule occurrence' }),
  createdAt: timestamp,
  scheduledAt: timestamp,
  runAt: timestamp.meta({ description: 'When it is (or was) due: after a failure, when the retry runs' }),
  startedAt: timestamp.nullable(),
  finishedAt: timestamp.nullable(),
  version: version.nullable().meta({ description: 'The version of its last run' }),
  generation: generation.nullable(),
  output: jsonPassthrough.nullable(),
  error: jobError.nullable(),
});

export const jobsListParams = z.strictObject({ name: capabilityName.optional(), status: jobStatus.optional(), cursor, limit });
export const jobsListResult = z.object({ items: z.array(jobInfo), nextCursor });
export const jobIdParams = z.strictObject({ id: jobId });

export const scheduleInfo = z.object({
  name: z.string(),
  version,
  index: z.number().int().meta({ description: 'The schedule index in the manifest' }),
  cron: z.string(),
  timezone: z.string(),
  catchUp: z.enum(['latest', 'none', 'all']),
  overlap: z.enum(['skip', 'allow']),
  input: jsonPassthrough,
  paused: z.boolean(),
  lastOccurrence: timestamp.nullable(),
  nextRun: timestamp.nullable(),
});
export const schedulesListParams = z.strictObject({ name: capabilityName.optional() });
export const schedulesListResult = z.object({ items: z.array(scheduleInfo) });
export const scheduleNameParams = z.strictObject({ name: capabilityName });
export const schedulePauseResult = z.object({ name: z.string(), paused: z.boolean() });

export const jobEvent = z.object({
  type: z.enum(JOB_EVENT_TYPES),
  generation,
  id: z.string(),
  name: z.string(),
  attempt: z.number().int(),
  at: timestamp,
  version: version.optional(),
  error: z.object({ type: z.string(), message: z.string() }).optional(),
  retryAt: timestamp.optional().meta({ description: 'job.failed: when the next attempt runs' }),
});
