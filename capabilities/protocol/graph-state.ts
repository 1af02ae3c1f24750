// The schemas of the graph and state methods: graph/get, graph/impact, state/get, state/list.

import { z } from 'zod';
import { access, capabilityName, cursor, generation, jsonPassthrough, limit, nextCursor } from './common.ts';
import { destinations, httpEffect } from './egress.ts';

export const graphParams = z.strictObject({
  root: capabilityName.optional().meta({ description: 'Start from this capability' }),
  depth: z.number().int().min(0).optional().meta({ description: 'How many dependency levels below root' }),
});
export const graphNode = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('capability'), name: z.string(), version: z.string(), current: z.boolean(), description: z.string(), destinations }),
  z.object({ kind: z.literal('namespace'), name: z.string(), version: z.null() }),
]);
export const graphEdge = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('call'),
    from: z.string(),
    fromVersion: z.string(),
    to: z.string(),
    range: z.string(),
    resolved: z.string().nullable(),
    enqueue: z.literal(true).optional().meta({ description: 'Present when the source passes this dependency to ctx.enqueue by a literal name: jobs flow along the edge (docs/jobs.md)' }),
  }),
  z.object({ kind: z.literal('state'), from: z.string(), fromVersion: z.string(), to: z.string(), access, range: z.null(), resolved: z.null() }),
]);
export const graphResult = z.object({ generation, nodes: z.array(graphNode), edges: z.array(graphEdge) });

export const impactParams = z.strictObject({ name: capabilityName });
export const impactResult = z.object({
  name: z.string(),
  dependents: z.array(z.string()),
  tests: z.array(z.object({ capability: z.string(), version: z.string(), test: z.string() })),
  destinations: z
    .array(z.object({ capability: z.string(), version: z.string(), destinations: z.array(httpEffect) }))
    .optional()
    .meta({ description: 'The current versions of the capability and its dependents that declare effects.http, with their destinations' }),
});

export const stateGetParams = z.strictObject({ namespace: z.string().min(1), key: z.string() });
export const stateGetResult = z.object({ namespace: z.string(), key: z.string(), value: jsonPassthrough, version: z.number().int() });
export const stateListParams = z.strictObject({ namespace: z.string().min(1), prefix: z.string().optional(), cursor, limit });
export const stateListResult = z.object({
  items: z.array(z.object({ key: z.string(), value: jsonPassthrough, version: z.number().int() })),
  nextCursor,
});
