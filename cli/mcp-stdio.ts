// `substrate mcp`: a stdio MCP server that forwards to a running kernel over the WebSocket client.
// The MCP logic itself is mcp/server.ts (createMcpServer); this file only supplies the remote
// backend (client calls, capability.* events as commits) and the stdio plumbing. stdout is the
// protocol channel: nothing else may be written there.

import type { Readable, Writable } from 'node:stream';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { SubstrateClient, RpcError } from '../kernel/client.ts';
import type { EventType, MethodName, ParamsOf, ResultOf } from '../kernel/api.ts';
import { COMMIT_EVENT_TYPES } from '../capabilities/protocol/constants.ts';
import type { McpBackend, McpProgress } from '../mcp/backend.ts';
import { createMcpServer } from '../mcp/server.ts';
import { KERNEL_VERSION } from '../kernel/version.ts';

export interface McpStdioOptions {
  url: string;
  token: string;
  /** Default process.stdin / process.stdout. */
  stdin?: Readable;
  stdout?: Writable;
}

const COMMIT_EVENTS: EventType[] = [...COMMIT_EVENT_TYPES];

/** The MCP backend over a connected client. */
export function remoteBackend(client: SubstrateClient): McpBackend {
  let canManage: Promise<boolean> | undefined;
  const listeners = new Set<() => void>();
  let subscribed = false;
  let lastGeneration = -1;
  const fire = (): void => {
    for (const l of [...listeners]) l();
  };
  return {
    canManage() {
      // The protocol has no "who am I": logs/recent is allowed to exactly the roles that may
      // write (operator, agent), and reading one log line has no effect.
      canManage ??= client.call('logs/recent', { limit: 1 }).then(
        () => true,
        (e: unknown) => {
          if (e instanceof RpcError && e.type === 'FORBIDDEN') return false;
          canManage = undefined;
          throw e;
        },
      );
      return canManage;
    },
    call<M extends MethodName>(method: M, params: ParamsOf<M>, onProgress?: (p: McpProgress) => void): Promise<ResultOf<M>> {
      return client.call(method, params, onProgress ? { onProgress } : {});
    },
    onCommit(cb) {
      listeners.add(cb);
      if (!subscribed) {
        subscribed = true;
        // One commit announces each of its changes: notify once per generation.
        client
          .subscribe({ types: COMMIT_EVENTS }, (e) => {
            if (e.generation === lastGeneration) return;
            lastGeneration = e.generation;
            fire();
          })
          .catch((e: unknown) => process.stderr.write(`substrate mcp: could not subscribe to kernel events: ${String(e)}\n`));
        // Commits made while the connection was down were not announced.
        client.on('reconnect', fire);
      }
      return () => listeners.delete(cb);
    },
  };
}

/** Serves MCP on stdin/stdout until stdin ends; rejects if the kernel refuses the token or the
 *  connection is lost for good. */
export async function runMcpStdio(opts: McpStdioOptions): Promise<void> {
  const stdin = opts.stdin ?? process.stdin;
  const stdout = opts.stdout ?? process.stdout;
  if (stdout === process.stdout) {
    // Whatever a library logs must not corrupt the protocol stream.
    console.log = console.error;
    console.info = console.error;
    console.debug = console.error;
  }
  const client = await SubstrateClient.connect(opts.url, { token: opts.token, reconnect: true });
  const server = createMcpServer(remoteBackend(client), {
    version: KERNEL_VERSION,
    onError: (e) => process.stderr.write(`substrate mcp: ${String(e)}\n`),
  });
  let lost: Error | undefined;
  let ending = false;
  const done = new Promise<void>((resolve) => {
    const prev = server.onclose;
    server.onclose = () => {
      prev?.();
      resolve();
    };
  });
  client.on('close', (info) => {
    if (ending) return;
    lost ??= new Error(`the connection to the kernel at ${client.url} closed: ${info.reason || info.code}`);
    void server.close();
  });
  const end = (): void => void server.close();
  stdin.once('end', end);
  stdin.once('close', end);
  await server.connect(new StdioServerTransport(stdin, stdout));
  await done;
  stdin.off('end', end);
  stdin.off('close', end);
  ending = true;
  await client.close();
  if (lost) throw lost;
}
