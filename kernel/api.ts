// The protocol's methods as TypeScript types: params and result of every JSON-RPC method the kernel
// serves (the contract's "Protocol" section, plus the extensions documented in docs/protocol.md).
// Shared by the server's method table, the client library, the CLI and the MCP endpoint.
// Every type is derived (z.output) from the one zod source in capabilities/protocol/ and re-exported
// here under the names the kernel, the CLI, the client and the tests import. Only types and the
// zod-free constants come through, so the client library (dist/) loads no schema code from here.

import type { GrantKind as StoreGrantKind } from '../store/types.ts';
import type { GrantKind } from '../capabilities/protocol/types.ts';
import { GRANT_KINDS as PROTOCOL_GRANT_KINDS } from '../capabilities/protocol/constants.ts';

export type * from '../capabilities/protocol/types.ts';
export { CLOSE_UNAUTHORIZED, DEFAULT_HOST, DEFAULT_PORT, LOG_ORIGINS, ROLE_PRINCIPAL_PREFIX } from '../capabilities/protocol/constants.ts';

/** The grant kinds; the store's rows have the same (checked both ways at compile time). */
export const GRANT_KINDS = PROTOCOL_GRANT_KINDS satisfies readonly StoreGrantKind[];
type SameKinds = [StoreGrantKind] extends [GrantKind] ? ([GrantKind] extends [StoreGrantKind] ? true : never) : never;
const _grantKindsMatch: SameKinds = true;
