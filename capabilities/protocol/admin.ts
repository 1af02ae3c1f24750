// The schemas of the administration methods: kernel/info, tokens/*, grants/*, kernel/backup.

import { z } from 'zod';
import { access, generation, role, timestamp } from './common.ts';
import { GRANT_KINDS } from './constants.ts';

export const kernelInfo = z.object({
  version: z.string(),
  generation,
  uptimeMs: z.number(),
  capabilities: z.number().int().meta({ description: 'How many capabilities have a current version' }),
  /** Who is calling: a page (the web console) offers only what this role may do. Always sent over
   *  the protocol; optional in the type because Kernel.info() (no caller) shares it. */
  principal: z.object({ id: z.string(), name: z.string(), role }).optional().meta({ description: 'The caller: its token id, name and role (always present over the protocol)' }),
});

export const tokenCreateParams = z.strictObject({ role, name: z.string().min(1).max(128) });
export const tokenCreateResult = z.object({ id: z.string(), name: z.string(), role, token: z.string() });
export const tokenListResult = z.object({
  items: z.array(z.object({ id: z.string(), name: z.string(), role, createdAt: timestamp, revoked: z.boolean() })),
});
export const tokenRevokeParams = z.strictObject({ id: z.string().min(1) });
export const tokenRevokeResult = z.object({ id: z.string(), revoked: z.boolean() });

/** A grant's principal: a token id (`tok_...`), or `role:operator|agent|client` for every token of
 *  that role. */
export const grantPrincipal = z.string().min(1).max(200).meta({ description: 'A token id (tok_...), or role:operator|agent|client' });
export const grantKind = z.enum(GRANT_KINDS);

export const grantAddParams = z.strictObject({
  principal: grantPrincipal,
  kind: grantKind,
  target: z.string().min(1).max(512),
  /** `namespace` grants; default `r`. */
  mode: access.optional().meta({ description: 'namespace grants; default r' }),
  /** `http` grants; default all. */
  methods: z.array(z.string().min(1).max(16)).max(16).optional().meta({ description: 'http grants; default all' }),
});
export const grantInfo = z.object({
  id: z.string(),
  principal: z.string(),
  /** The token's name, or the role, for display. */
  principalName: z.string().meta({ description: "The token's name, or the role, for display" }),
  kind: grantKind,
  target: z.string(),
  mode: access.nullable(),
  methods: z.array(z.string()).nullable(),
  grantedBy: z.string(),
  createdAt: timestamp,
});
export const grantListParams = z.strictObject({ principal: grantPrincipal.optional() });
export const grantListResult = z.object({
  items: z.array(grantInfo),
  /** The shared namespaces the caller may see the owner of (operators: all; agents: their own). */
  owners: z
    .array(z.object({ namespace: z.string(), owner: z.string(), ownerName: z.string(), capability: z.string(), since: timestamp }))
    .meta({ description: 'The shared namespaces the caller may see the owner of (operators: all; agents: their own)' }),
});
export const grantRevokeParams = z.strictObject({ id: z.string().min(1).max(200) });
export const grantRevokeResult = z.object({ id: z.string(), revoked: z.boolean() });

export const backupParams = z.strictObject({ file: z.string().min(1) });
export const backupResult = z.object({ file: z.string(), bytes: z.number().int() });

