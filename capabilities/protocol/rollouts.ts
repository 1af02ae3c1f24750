// The schemas of canary rollouts (docs/evaluation.md, "Rollouts"): capabilities/rollout,
// rollouts/get, rollouts/abort, rollouts/promote, the verdict of a step (capabilities/evaluation.ts
// RolloutVerdict) and the rollout.* events.

import { z } from 'zod';
import { ROLLOUT_DEFAULTS } from '../evaluation.ts';
import { ROLLOUT_EVENT_TYPES } from './constants.ts';
import { capabilityName, generation, jsonObject, language, replayParams, timestamp, version, versionParam } from './common.ts';

export const verdictCheck = z.object({
  id: z.enum(['minCalls', 'errorRateDelta', 'p99Ratio']),
  canary: z.number(),
  baseline: z.number(),
  threshold: z.number(),
  ok: z.boolean(),
});

/** A step's verdict, as the contract has it. */
export const rolloutVerdict = z
  .object({
    verdict: z.enum(['pass', 'fail', 'inconclusive']),
    step: z.number().int().meta({ description: 'The step judged (0-based index in steps)' }),
    weight: z.number().meta({ description: "The canary's percentage of root invocations in that step" }),
    windowS: z.number().meta({ description: 'The window compared: from the start of the step to the verdict' }),
    checks: z.array(verdictCheck),
    reasons: z.array(z.string()),
  })
  .meta({ description: 'pass moves to the next step, fail aborts, inconclusive extends the step' });

export const rolloutStatus = z.enum(['running', 'promoted', 'aborted']);

const windowView = z.object({
  version,
  calls: z.number().int(),
  errors: z.number().int(),
  errorRate: z.number(),
  p99: z.number().meta({ description: 'ms' }),
});

export const rolloutStep = z.object({
  step: z.number().int(),
  weight: z.number(),
  generation,
  startedAt: timestamp,
  endedAt: timestamp.nullable(),
  extensions: z.number().int().meta({ description: 'Times an inconclusive verdict extended it' }),
  verdict: rolloutVerdict.nullable(),
});

export const rolloutInfo = z.object({
  id: z.string(),
  name: z.string(),
  version: version.meta({ description: 'The canary' }),
  baseline: version.meta({ description: 'The version current when the rollout started' }),
  status: rolloutStatus,
  step: z.number().int().meta({ description: 'Index in steps of the step running (or the last one)' }),
  weight: z.number().meta({ description: "The canary's percentage now (0 once ended, 100 once promoted)" }),
  steps: z.array(z.number()),
  stepS: z.number(),
  minCalls: z.number().int(),
  maxErrorRateDelta: z.number(),
  maxP99Ratio: z.number(),
  history: z.array(rolloutStep).meta({ description: 'Every step so far, with its verdict' }),
  principal: z.string(),
  startedAt: timestamp,
  endedAt: timestamp.nullable(),
  reason: z.string().nullable(),
  live: z
    .object({ canary: windowView, baseline: windowView, windowS: z.number() })
    .nullable()
    .meta({ description: 'While running: both versions over the current step so far' }),
  next: z.string().meta({ description: 'What happens next, or what to do' }),
});

const percent = z.number().gt(0).max(100);

export const rolloutParams = z.strictObject({
  name: capabilityName,
  version: versionParam.meta({ description: 'The canary: a registered version, or the version of `source`' }),
  source: z.string().optional().meta({ description: 'Registers this source (not activated) first; its manifest must have `version`' }),
  language: language.optional(),
  manifest: jsonObject.optional().meta({ description: 'The manifest, when `source` does not export one', type: 'object' }),
  steps: z.array(percent).min(1).max(20).optional().meta({ default: [...ROLLOUT_DEFAULTS.steps], description: 'Increasing percentages; 100 (appended if missing) makes the canary current' }),
  stepS: z.number().gt(0).max(86_400).optional().meta({ default: ROLLOUT_DEFAULTS.stepS, description: 'Seconds per step' }),
  minCalls: z.number().int().min(1).optional().meta({ default: ROLLOUT_DEFAULTS.minCalls, description: 'Root calls each version needs in a step for a verdict' }),
  maxErrorRateDelta: z.number().min(0).max(1).optional().meta({ default: ROLLOUT_DEFAULTS.maxErrorRateDelta, description: "Canary's error rate minus the current version's, at most" }),
  maxP99Ratio: z.number().gt(0).optional().meta({ default: ROLLOUT_DEFAULTS.maxP99Ratio, description: "Canary's p99 over the current version's, at most" }),
  replay: replayParams.optional().meta({ description: 'Replay recorded calls of the current version on the canary before the first step, as apply does; over maxChanged refuses with REPLAY_FAILED' }),
});

export const rolloutsGetParams = z.strictObject({ name: capabilityName.optional().meta({ description: "This name's rollouts (default: everyone's)" }) });
export const rolloutsGetResult = z.object({ items: z.array(rolloutInfo).meta({ description: 'Newest first: running ones and recent ended ones' }) });
export const rolloutNameParams = z.strictObject({ name: capabilityName });

export const rolloutEvent = z.object({
  type: z.enum(ROLLOUT_EVENT_TYPES),
  generation,
  id: z.string(),
  name: z.string(),
  version: version.meta({ description: 'The canary' }),
  baseline: version,
  step: z.number().int(),
  weight: z.number(),
  verdict: rolloutVerdict.nullable().meta({ description: "The verdict that led here (null: the first step's start, or an abort by hand)" }),
  principal: z.string(),
  at: timestamp,
});
