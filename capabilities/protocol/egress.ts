// The schemas of the egress methods (the contract's "Effects: reaching the world"): secrets/set,
// secrets/list, secrets/remove and effects/list, and the declared destinations that describe, graph
// and impact show. Values are checked by the kernel (kernel/secrets.ts: typed INVALID_INPUT naming
// the problem), so zod bounds only types and sizes here.

import { z } from 'zod';
import { capabilityName, cursor, limit, nextCursor, timestamp } from './common.ts';

/** One `effects.http` entry of a manifest, as describe, graph and impact show it. */
export const httpEffect = z.object({
  host: z.string().meta({ description: 'A destination pattern: host, host:port, *.host or an IP literal' }),
  methods: z.array(z.string()).optional().meta({ description: 'The methods allowed (absent: all)' }),
  secrets: z.array(z.string()).optional().meta({ description: 'The secrets the kernel may add to its requests' }),
});
export const destinations = z.array(httpEffect).optional().meta({ description: "The manifest's effects.http entries (absent: none)" });

/** Largest secret value accepted (a header value). */
export const MAX_SECRET_BYTES = 16 * 1024;

export const secretName = z.string().min(1).max(128).meta({ description: 'A secret name, in the form of a capability name (github, acme.api)' });

export const secretsSetParams = z.strictObject({
  name: secretName,
  value: z.string().min(1).max(MAX_SECRET_BYTES).meta({ description: 'The secret; stored encrypted, never returned by any method' }),
  hosts: z.array(z.string().min(1).max(300)).min(1).max(32).meta({ description: 'Destination patterns the kernel may send it to' }),
  header: z.string().min(1).max(128).optional().meta({ description: 'The request header it goes in (default Authorization)' }),
  format: z.string().min(2).max(512).optional().meta({ description: 'The header value, {} standing for the secret (default "Bearer {}")' }),
});
export const secretInfo = z.object({
  name: z.string(),
  hosts: z.array(z.string()),
  header: z.string(),
  format: z.string(),
  createdAt: timestamp,
});
export const secretsSetResult = secretInfo.extend({ replaced: z.boolean().meta({ description: 'True when a secret of that name existed (its value is gone)' }) });
export const secretsListResult = z.object({ items: z.array(secretInfo) });
export const secretsRemoveParams = z.strictObject({ name: secretName });
export const secretsRemoveResult = z.object({ name: z.string(), removed: z.boolean() });

export const effectsListParams = z.strictObject({
  name: capabilityName.optional().meta({ description: 'Only the requests of this capability' }),
  invocationId: z.string().min(1).max(64).optional().meta({ description: 'Only the requests of this call tree (the root invocation id)' }),
  limit,
  cursor,
});
/** One journal entry as effects/list shows it: the record without its response. */
export const effectInfo = z.object({
  id: z.string(),
  at: timestamp,
  invocationId: z.string(),
  name: z.string(),
  version: z.string(),
  hash: z.string(),
  principal: z.string().meta({ description: "The capability owner's token id" }),
  principalName: z.string(),
  method: z.string(),
  url: z.string(),
  finalUrl: z.string().meta({ description: 'After redirects' }),
  status: z.number().int().nullable().meta({ description: 'null when the request failed' }),
  error: z.string().nullable(),
  requestBytes: z.number().int(),
  responseBytes: z.number().int(),
  durationMs: z.number(),
  replayed: z.boolean().meta({ description: 'Served from the journal on a re-run, not the network' }),
});
export const effectsListResult = z.object({ items: z.array(effectInfo), nextCursor });
