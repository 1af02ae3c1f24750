// The schemas of the capability methods: register, apply, rollback, remove, list, describe, history
// and invoke, params and results. Params are what kernel/rpc.ts validates (-32602 on a mismatch);
// results are typed and documented only (the kernel builds them).

import { z } from 'zod';
import {
  capabilityName,
  cursor,
  generation,
  jsonObject,
  jsonPassthrough,
  language,
  limit,
  manifest,
  nextCursor,
  replayParams,
  timestamp,
  version,
  versionParam,
} from './common.ts';
import { destinations } from './egress.ts';
import { rolloutVerdict } from './rollouts.ts';

const source = z.string().meta({ description: 'The complete ES module source of the capability' });
const manifestParam = jsonObject.optional().meta({
  description: 'The manifest, when the source does not export `manifest` (name, version, description, inputSchema, outputSchema, dependencies, state, limits, tests)',
  type: 'object',
});

// ------------------------------------------------------------------------------ register, apply

export const registerParams = z.strictObject({
  source,
  manifest: manifestParam,
  language: language.optional(),
  activate: z.boolean().optional().meta({ default: true, description: 'Make this version current (default true); false only stores it' }),
});

export const gateResult = z.object({
  capability: z.string(),
  version: z.string(),
  test: z.string(),
  passed: z.boolean(),
  expected: jsonPassthrough.optional(),
  actual: jsonPassthrough.optional(),
  error: z.object({ type: z.string(), message: z.string() }).optional(),
  durationMs: z.number(),
});

export const registerResult = z.object({
  name: z.string(),
  version,
  hash: z.string().meta({ description: 'sha256: of the canonical manifest and source' }),
  activated: z.boolean().meta({ description: 'Whether this version is current after the call' }),
  generation,
  gates: z.array(gateResult).meta({ description: 'Every gate test that ran' }),
});

const registerChange = z.strictObject({
  op: z.literal('register'),
  source,
  manifest: manifestParam,
  language: language.optional(),
  activate: z.boolean().optional().meta({ default: true }),
});
export const changeParams = z.discriminatedUnion('op', [
  registerChange,
  z.strictObject({ op: z.literal('activate'), name: capabilityName, version: versionParam }),
  z.strictObject({ op: z.literal('remove'), name: capabilityName }),
]);

export const applyParams = z.strictObject({
  changes: z.array(changeParams).min(1).meta({ description: 'The changes, in order' }),
  dryRun: z.boolean().optional().meta({ default: false, description: 'Validate and run the gates without committing' }),
  replay: replayParams.optional(),
});

/** Replay of one changed capability (capabilities/evaluation.ts ReplaySummary). */
export const replaySummary = z.object({
  name: z.string(),
  from: z.string().meta({ description: 'The version replaced, whose records were replayed' }),
  to: z.string().meta({ description: 'The candidate' }),
  samples: z.number().int(),
  same: z.number().int(),
  changed: z.number().int(),
  errors: z.number().int().meta({ description: 'Counted samples (same + changed) the candidate answered with an error' }),
  unstable: z.number().int().meta({ description: 'Records the current version no longer reproduces (not counted)' }),
  unreplayable: z.number().int().meta({ description: 'Records that cannot be replayed, or a candidate that read or fetched outside the record' }),
  skipped: z.number().int().optional().meta({ description: "Records not replayed: the changeset's replay time ran out" }),
  examples: z.array(z.object({ input: jsonPassthrough, before: jsonPassthrough, after: jsonPassthrough })).meta({ description: 'The first changed samples (an error as { error: { type, message } })' }),
});

/** One change as planned/committed: what it did to which capability. */
export const changeSummary = z.object({
  op: z.enum(['register', 'activate', 'remove', 'rollout']).meta({ description: 'rollout: a canary step or its abort (the promotion is an activate with `rollout`)' }),
  name: z.string(),
  version: z.string().nullable(),
  hash: z.string().nullable(),
  previous: z.string().nullable().meta({ description: 'The version that was current before, if any' }),
  activated: z.boolean(),
  rollout: z
    .object({ id: z.string(), step: z.number().int(), weight: z.number(), status: z.enum(['running', 'promoted', 'aborted']), verdict: rolloutVerdict.nullable() })
    .optional()
    .meta({ description: "A rollout's commit: the step set (weight = the canary's percentage) and the verdict that led to it" }),
});

export const applyResult = z.object({
  generation,
  dryRun: z.boolean(),
  changes: z.array(changeSummary),
  touched: z.array(z.string()).meta({ description: 'Current capabilities outside the changeset whose tests run because they depend on it' }),
  gates: z.array(gateResult),
  replay: z.array(replaySummary).optional().meta({ description: 'With params.replay: one summary per changed capability' }),
});

// ------------------------------------------------------------------------------ rollback, remove

export const rollbackParams = z.strictObject({
  name: capabilityName,
  to: versionParam.optional().meta({ description: 'The version to make current (default: the one before the current one)' }),
});
export const rollbackResult = z.object({ name: z.string(), version, generation });

export const removeParams = z.strictObject({ name: capabilityName });
export const removeResult = z.object({ name: z.string(), generation });

// ------------------------------------------------------------------------------ queries

export const listParams = z.strictObject({ prefix: z.string().optional(), cursor, limit });
export const listItem = z.object({
  name: z.string(),
  current: z.string().nullable(),
  versions: z.array(z.string()),
  description: z.string(),
});
export const listResult = z.object({ items: z.array(listItem), nextCursor });

export const describeParams = z.strictObject({
  name: capabilityName,
  version: versionParam.optional().meta({ description: 'A version (default: the current one)' }),
});
export const describeResult = z.object({
  name: z.string(),
  version,
  hash: z.string(),
  current: z.boolean(),
  manifest,
  source: z.string(),
  language: z.enum(['js', 'ts']),
  dependencies: z.array(z.object({ name: z.string(), range: z.string(), resolved: z.string().nullable() })),
  dependents: z.array(z.string()),
  owner: z.string(),
  createdAt: timestamp,
  destinations,
});

export const historyParams = z.strictObject({ name: capabilityName.optional(), limit, cursor });
export const historyItem = z.object({
  generation,
  at: timestamp,
  principal: z.string(),
  changes: z.array(changeSummary),
  gates: z.array(gateResult),
});
export const historyResult = z.object({ items: z.array(historyItem), nextCursor });

// ------------------------------------------------------------------------------ invoke

export const invokeParams = z.strictObject({
  name: capabilityName,
  // Not walked again (jsonPassthrough); absent is null [extension]. The capability's inputSchema
  // is checked in the sandbox.
  input: jsonPassthrough.default(null),
  version: versionParam.optional(),
});
export const invokeResult = z.object({
  output: jsonPassthrough,
  name: z.string(),
  version,
  generation,
  invocationId: z.string(),
  durationMs: z.number(),
});
