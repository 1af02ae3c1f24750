// The kernel as a running service: opens the store and the sandbox pool, serves the WebSocket API
// (and MCP, when available), makes sure an operator token exists, and writes <data>/kernel.json so a
// local CLI finds it. Also the package's public entry point.

import { writeFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Principal } from '../capabilities/types.ts';
import { Kernel, type KernelOptions } from './kernel.ts';
import { Auth } from './auth.ts';
import { Rpc } from './rpc.ts';
import { Server, type ServerOptions } from './server.ts';
import { DEFAULT_HOST, DEFAULT_PORT } from './api.ts';
import { registerExamples } from './examples.ts';
import { createMcpEndpoint } from './mcp-backend.ts';
import { normalizeOrigin } from './http-origin.ts';
import { DATA_FILE_MODE, STATE_FILE, assertDataDirFree, lockDataDir } from './data-dir.ts';
import { answerHealth } from './health.ts';
import { consoleHandler } from './console-routes.ts';
import { StartError } from './start-error.ts';

export interface StartOptions extends Omit<KernelOptions, 'dataDir'>, Partial<Omit<ServerOptions, 'host' | 'port' | 'routes' | 'console'>> {
  dataDir: string;
  port?: number;
  host?: string;
  /** Register the example graph when the store is empty. */
  example?: boolean;
  /** Serve MCP on /mcp (default true). */
  mcp?: boolean;
  /** Serve the web console (console/dist) on `/` (default true; `substrate start --no-console`). */
  console?: boolean;
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
  // The order makes every refusal leave no trace: a directory held by another kernel is refused
  // before the port is bound (and without touching it), a busy port before anything is created in
  // the directory, and the store is opened only once this process holds the directory's lock.
  assertDataDirFree(dataDir);
  const host = opts.host ?? DEFAULT_HOST;
  const port = opts.port ?? DEFAULT_PORT;
  const httpServer = await bindHttp(host, port);
  let serving = false;
  const starting = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (answerHealth(new URL(req.url ?? '/', 'http://x').pathname, req, res, () => false)) return;
    res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
    res.end('the kernel is starting\n');
  };
  httpServer.on('request', starting);
  let lock: ReturnType<typeof lockDataDir> | undefined;
  let kernel: Kernel | undefined;
  let auth: Auth;
  let rpc: Rpc;
  let token: string;
  let file: string;
  try {
    lock = lockDataDir(dataDir);
    kernel = await Kernel.open({ ...opts, dataDir });
    auth = new Auth(kernel.store);
    rpc = new Rpc(kernel, auth);
    ({ token, file } = auth.ensureOperatorToken(dataDir));
  } catch (e) {
    await kernel?.close();
    lock?.release();
    await new Promise<void>((r) => httpServer.close(() => r()));
    throw e;
  }
  const dirLock = lock;
  const openKernel = kernel;
  const routes = new Map<string, (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, principal: Principal) => void | Promise<void>>();
  let closeMcp: (() => Promise<void>) | undefined;
  if (opts.mcp !== false) {
    const endpoint = createMcpEndpoint({ rpc, kernel });
    routes.set('/mcp', (req, res, principal) => endpoint.handle(req, res, principal));
    closeMcp = () => endpoint.close();
  }
  // Ready while the store is open and the pool has a worker that can take a call.
  const ready = (): boolean => serving && openKernel.pool.stats().workers.some((w) => w.ready && !w.retiring);
  httpServer.off('request', starting);
  const consoleFiles = opts.console === false ? undefined : consoleHandler();
  const server = new Server(rpc, auth, { ...opts, host, port, routes, httpServer, ready, console: consoleFiles });
  const addr = await server.listen();
  if (opts.example && kernel.info().capabilities === 0) {
    await registerExamples(kernel);
  }
  const stateFile = path.join(dataDir, STATE_FILE);
  writeFileSync(stateFile, JSON.stringify({ url: addr.url, pid: process.pid, startedAt: new Date().toISOString() }) + '\n', { mode: DATA_FILE_MODE });
  serving = true;
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
        serving = false;
        await server.close();
        await closeMcp?.();
        await openKernel.close();
        rmSync(stateFile, { force: true });
        dirLock.release();
      })()),
  };
}

/** Binds the port before anything else exists, so that a taken port is refused with nothing made. */
async function bindHttp(host: string, port: number): Promise<http.Server> {
  const server = http.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new StartError('PORT_IN_USE', `port ${port} on ${host} is already in use (another kernel or program listens there). Start with --port <n>, or --port 0 for any free port.`, { host, port });
    }
    if (code === 'EACCES') {
      throw new StartError('PORT_IN_USE', `port ${port} on ${host} may not be bound by this user. Start with --port <n> above 1023, or --port 0 for any free port.`, { host, port });
    }
    throw e;
  }
  return server;
}

export { Kernel } from './kernel.ts';
export { StartError } from './start-error.ts';
export { SubstrateClient, RpcError } from './client.ts';
export type * from './api.ts';
export { SubstrateError } from '../capabilities/errors.ts';
