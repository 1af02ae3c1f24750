// The one interface between the MCP logic and a kernel. The MCP files depend on the kernel only
// through it: in process it is rpc.dispatch with the session's principal (kernel/mcp-backend.ts),
// for `substrate mcp` the WebSocket client (cli/mcp-stdio.ts). Errors are thrown as the kernel's
// typed errors (SubstrateError, RpcProtocolError, or the client's RpcError/ConnectionError).

import type { MethodName, ParamsOf, ResultOf } from '../capabilities/protocol/methods.ts';
import type { ProgressEvent } from '../capabilities/protocol/types.ts';

export type McpProgress = Omit<ProgressEvent, 'requestId'>;

export interface McpBackend {
  /** Whether the principal may use the management tools (operator and agent). */
  canManage(): Promise<boolean>;
  call<M extends MethodName>(method: M, params: ParamsOf<M>, onProgress?: (p: McpProgress) => void): Promise<ResultOf<M>>;
  /** Calls `cb` after every commit that may have changed the current capabilities; returns an
   *  unsubscribe function. */
  onCommit(cb: () => void): () => void;
}
