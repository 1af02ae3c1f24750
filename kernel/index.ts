// The kernel as a running service: opens the store and the sandbox pool, serves the WebSocket API
// (and MCP, when available), makes sure an operator token exists, and writes <data>/kernel.json so a
// local CLI finds it. Also the package's public entry point.

import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Principal } from '../capabilities/types.ts';
import { Kernel, type KernelOptions } from './kernel.ts';
import { Auth } from './auth.ts';
import { Rpc } from './rpc.ts';
import { Server, type ServerOptions } from './server.ts';
import { DEFAULT_HOST, DEFAULT_PORT } from './api.ts';
import { registerExamples } from './examples.ts';
import { createMcpEndpoint } from './mcp.ts';
import { normalizeOrigin } from './http-origin.ts';

export interface StartOptions extends Omit<KernelOptions, 'dataDir'>, Partial<Omit<ServerOptions, 'host' | 'port' | 'routes'>> {
  dataDir: string;
  port?: number;
  host?: string;
  /** Register the example graph when the store is empty. */
  example?: boolean;
  /** Serve MCP on /mcp (default true). */
  mcp?: boolean;
}

export interface RunningKernel {
  url: string;
  host: string;
  port: number;
  dataDir: string;
  tokenFile: string;
  operatorToken: string;
  kernel: Kernel;
  rpc: Rpc;
  auth: Auth;
  /** Open WebSocket connections. */
  connections(): number;
  close(): Promise<void>;
}

export async function startKernel(opts: StartOptions): Promise<RunningKernel> {
  const dataDir = path.resolve(opts.dataDir);
  // A malformed allowed origin is refused before anything is opened (the Server checks it too).
  for (const o of opts.allowedOrigins ?? []) normalizeOrigin(o);
  mkdirSync(dataDir, { recursive: true });
  const kernel = await Kernel.open({ ...opts, dataDir });
  const auth = new Auth(kernel.store);
  const rpc = new Rpc(kernel, auth);
  const { token, file } = auth.ensureOperatorToken(dataDir);
  const routes = new Map<string, (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, principal: Principal) => void | Promise<void>>();
  let closeMcp: (() => Promise<void>) | undefined;
  if (opts.mcp !== false) {
    const endpoint = createMcpEndpoint({ rpc, kernel });
    routes.set('/mcp', (req, res, principal) => endpoint.handle(req, res, principal));
    closeMcp = () => endpoint.close();
  }
  const server = new Server(rpc, auth, { ...opts, host: opts.host ?? DEFAULT_HOST, port: opts.port ?? DEFAULT_PORT, routes });
  let addr: { host: string; port: number; url: string };
  try {
    addr = await server.listen();
  } catch (e) {
    await kernel.close();
    throw e;
  }
  if (opts.example && kernel.info().capabilities === 0) {
    await registerExamples(kernel);
  }
  const stateFile = path.join(dataDir, 'kernel.json');
  writeFileSync(stateFile, JSON.stringify({ url: addr.url, pid: process.pid, startedAt: new Date().toISOString() }) + '\n');
  let closing: Promise<void> | undefined;
  return {
    ...addr,
    dataDir,
    tokenFile: file,
    operatorToken: token,
    kernel,
    rpc,
    auth,
    connections: () => server.connectionCount(),
    close: () =>
      (closing ??= (async () => {
        await server.close();
        await closeMcp?.();
        await kernel.close();
        rmSync(stateFile, { force: true });
      })()),
  };
}

export { Kernel } from './kernel.ts';
export { SubstrateClient, RpcError } from './client.ts';
export type * from './api.ts';
export { SubstrateError } from '../capabilities/errors.ts';
