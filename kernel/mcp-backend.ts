// The kernel side of MCP: the in-process backend (rpc.dispatch with a session's principal, commits
// from the kernel's events) that mcp/ runs on inside the kernel, and the `/mcp` endpoint built on
// it. mcp/ knows the kernel only through McpBackend, so this adapter lives here, in kernel/.

import type { Principal } from '../capabilities/types.ts';
import type { McpBackend, McpProgress } from '../mcp/backend.ts';
import { createMcpEndpoint as createHttpEndpoint, type McpEndpoint } from '../mcp/http-sessions.ts';
import type { MethodName, ParamsOf, ResultOf } from './api.ts';
import type { Kernel } from './kernel.ts';
import { allowed, type Rpc } from './rpc.ts';
import { KERNEL_VERSION } from './version.ts';

export type { McpEndpoint };

export function inProcessBackend(rpc: Rpc, kernel: Kernel, principal: Principal): McpBackend {
  return {
    canManage: async () => allowed(principal.role, 'capabilities/register'),
    async call<M extends MethodName>(method: M, params: ParamsOf<M>, onProgress?: (p: McpProgress) => void): Promise<ResultOf<M>> {
      return (await rpc.dispatch({ principal, progress: onProgress }, method, params)) as ResultOf<M>;
    },
    onCommit(cb) {
      const h = (): void => cb();
      kernel.events.on('commit', h);
      return () => kernel.events.off('commit', h);
    },
  };
}

export interface McpEndpointOptions {
  rpc: Rpc;
  kernel: Kernel;
  /** A session without requests for this long is closed (default 30 minutes). */
  idleMs?: number;
  /** Open sessions per principal; beyond it the least recently used one is closed (default 64). */
  maxSessionsPerPrincipal?: number;
  /** Largest request body read for a new session (default 4 MiB, like the transport's own). */
  maxBodyBytes?: number;
}

/** The Streamable HTTP endpoint on `/mcp` over this kernel: a session per initialize, bound to the
 *  principal whose token opened it; a revoked token's sessions end at once. */
export function createMcpEndpoint(opts: McpEndpointOptions): McpEndpoint {
  const { rpc, kernel, ...limits } = opts;
  return createHttpEndpoint({
    ...limits,
    backendFor: (principal) => inProcessBackend(rpc, kernel, principal),
    onRevoke: (cb) => rpc.auth.onRevoke(cb),
    server: { version: KERNEL_VERSION },
  });
}
