// The zod pieces every method's schema is built from: JSON values, names, versions, page limits.
// The `.meta()` texts become the descriptions of the MCP tools' JSON Schemas and of docs/protocol.md's
// generated tables, so they are written for a reader of either.

import { z } from 'zod';
import type { Json, Manifest } from '../types.ts';
import { NAME_RE } from '../names.ts';
import { ACCESS_MODES, LANGUAGES, ROLES } from './constants.ts';

/** Any JSON value, walked and checked (used where the kernel must know it is JSON: manifests). */
export const jsonValue: z.ZodType<Json> = z
  .lazy(() => z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(jsonValue), z.record(z.string(), jsonValue)]))
  .meta({ description: 'any JSON value' });

/** A JSON value that is not walked again: what JSON.parse produced is JSON already, and a second
 *  traversal would cost the hot path (invocation input). Results use it too: they are only typed
 *  and documented, never validated. */
export const jsonPassthrough = z.custom<Json>().meta({ description: 'any JSON value' });

export const jsonObject = z.record(z.string(), jsonValue);

/** A capability name. The JSON Schema carries the contract's name form (`pattern`), which the kernel
 *  enforces itself (INVALID_MANIFEST `{ field: "name" }`), so zod checks only the length here:
 *  a malformed name must keep getting the kernel's typed error, not -32602. */
export const capabilityName = z
  .string()
  .min(1)
  .max(128)
  .meta({ description: 'A capability name, like text.wordcount', pattern: NAME_RE.source });

/** A version in params (the kernel reports an unknown one as NOT_FOUND). */
export const versionParam = z.string().min(1).meta({ description: 'A semver version, like 1.2.0' });
/** A version in results. */
export const version = z.string().meta({ description: 'A semver version' });

export const language = z.enum(LANGUAGES).meta({ description: 'The source language: "js" (default) or "ts" (types are stripped)' });
export const role = z.enum(ROLES);
export const access = z.enum(ACCESS_MODES);

/** A page size: larger values than a method allows are clamped by the kernel. */
export const limit = z.number().int().min(1).max(100_000).optional();
export const cursor = z.string().optional().meta({ description: 'The nextCursor of the previous page' });
export const nextCursor = z.string().nullable().meta({ description: 'null on the last page' });

export const generation = z.number().int().meta({ description: 'A generation: one per commit' });
export const timestamp = z.string().meta({ description: 'An ISO 8601 time' });

/** The manifest in a result. It has its own validator (capabilities/manifest.ts), which the kernel
 *  ran at registration; here it is only typed (z.custom with the Manifest type attached) and
 *  documented. */
export const manifest = z.custom<Manifest>().meta({ description: 'The manifest (see capabilities.md)', type: 'object' });

/** Params of a method that takes none: absent or `{}`. */
export const noParams = z.strictObject({}).optional();

/** apply's and capabilities/rollout's `replay` (kernel/replay.ts). */
export const replayParams = z
  .strictObject({
    samples: z.number().int().min(0).max(1000).optional().meta({ default: 100, description: 'Recorded calls replayed per changed capability (newest first)' }),
    maxChanged: z.number().int().min(0).optional().meta({ description: 'Refuse the changeset (REPLAY_FAILED) when a capability changes more answers than this' }),
  })
  .meta({ description: "Replay each changed capability's candidate on recorded calls of the version it replaces, before committing" });
