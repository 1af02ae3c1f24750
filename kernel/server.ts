// The network edge: one HTTP server carrying the WebSocket JSON-RPC API on `/` (and the MCP
// endpoint on `/mcp` when mounted). Owns framing (JSON-RPC 2.0 single and batch), the Origin and
// Host checks (http-origin.ts) and authentication of the upgrade and of every call (a revoked
// token's connections are closed at once, 4001), who sees which `log` events, per-connection
// limits (message size, requests in flight), heartbeats, event fan-out with bounded buffers, and
// graceful shutdown.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { RpcProtocolError, RPC_CODES, SubstrateError, asSubstrateError } from '../capabilities/errors.ts';
import { MAX_MESSAGE_DEPTH, jsonValueDepth, textMayExceed, tooDeep } from '../capabilities/json-limits.ts';
import type { Principal } from '../capabilities/types.ts';
import { CLOSE_UNAUTHORIZED, type EventType, type KernelEvent } from './api.ts';
import { WS_PROTOCOL, bearer, type Auth } from './auth.ts';
import { decideUpgrade, refuseUpgrade } from './upgrade-auth.ts';
import { OriginPolicy, corsHeaders, isPreflight, normalizeOrigin, preflightHeaders, refusalBody } from './http-origin.ts';
import { LogAccess } from './log-access.ts';
import { answerHealth } from './health.ts';
import { prometheusRoute } from './metrics-prom.ts';
import type { ConsoleHandler } from './console-routes.ts';
import type { Rpc } from './rpc.ts';

export interface ServerOptions {
  host: string;
  port: number;
  /** Largest accepted message; beyond it the connection closes with 1009. */
  maxMessageBytes?: number;
  /** Requests in flight per connection, counting replies not yet written to the socket; beyond
   *  it calls get OVERLOADED. */
  maxInFlight?: number;
  /** Bytes queued to a connection (replies and events not yet written to its socket) past which
   *  it is closed with CLOSE_SLOW_READER (4008). */
  maxEventBacklogBytes?: number;
  /** Characters of request text a connection may have in flight (being answered); past it the
   *  kernel stops reading from the connection until some are answered. */
  maxInFlightChars?: number;
  heartbeatMs?: number;
  /** How long shutdown waits for calls in flight. */
  drainMs?: number;
  /** Extra HTTP routes (the MCP endpoint). */
  routes?: Map<string, (req: http.IncomingMessage, res: http.ServerResponse, principal: Principal) => void | Promise<void>>;
  /** Browser origins allowed beyond the kernel's own (see http-origin.ts). */
  allowedOrigins?: readonly string[];
  /** An HTTP server already listening (startKernel binds the port before it opens the store, so a
   *  busy port creates nothing); made and bound by listen() when absent. */
  httpServer?: http.Server;
  /** The web console's static files on `/` (kernel/console-routes.ts); none: `GET /` answers 426. */
  console?: ConsoleHandler;
  /** GET /readyz answers 200 while this says true (kernel/health.ts); default: while not closing. */
  ready?: () => boolean;
}

/** A connection that does not read what it is sent: its queued bytes passed maxEventBacklogBytes,
 *  whether they were replies or events. One code for both: the remedy is the same (read). */
export const CLOSE_SLOW_READER = 4008;
/** How long a connection closed for not reading gets to take the close frame before it is cut:
 *  nothing more is queued to it meanwhile, so this bounds time, not memory. */
const SLOW_READER_GRACE_MS = 5000;
/** A revoked token's connections (defined beside the protocol's types: the client knows it too). */
export { CLOSE_UNAUTHORIZED };

type JsonRpcId = string | number | null;
interface Response {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

interface Connection {
  ws: WebSocket;
  token: string | undefined;
  /** Sets this connection's event filter (events/subscribe replaces it). */
  subscribe: (types: EventType[], name: string | undefined) => void;
  /** The principal verified at `epoch` (see Auth.epoch). */
  principal: Principal | undefined;
  epoch: number;
  inFlight: number;
  /** Replies handed to the socket whose write has not completed (they count as in flight). */
  unwritten: number;
  /** Characters of the messages being answered. */
  inChars: number;
  alive: boolean;
  subscription: { types: Set<EventType>; name: string | undefined } | null;
}

export class Server {
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private readonly opts: Required<Omit<ServerOptions, 'routes' | 'allowedOrigins' | 'httpServer' | 'ready' | 'console'>> & Pick<ServerOptions, 'routes' | 'console'>;
  /** Origins allowed beyond the kernel's own, checked when the server is made. */
  private readonly allowedOrigins: string[];
  /** Set once listening, when the port (part of the kernel's own origins) is known. */
  private origins: OriginPolicy | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closing = false;
  private readonly offRevoke: () => void;
  private readonly logAccess: LogAccess;
  private readonly ready: () => boolean;
  // Emitted synchronously by the kernel after a commit: a throw here would fail a call that committed.
  private readonly onEvent = (e: KernelEvent) => {
    try {
      this.fanOut(e);
    } catch (err) {
      warn('an event could not be delivered', err);
    }
  };

  constructor(
    private readonly rpc: Rpc,
    private readonly auth: Auth,
    opts: ServerOptions,
  ) {
    this.opts = {
      maxMessageBytes: 4 * 1024 * 1024,
      maxInFlight: 256,
      maxEventBacklogBytes: 4 * 1024 * 1024,
      maxInFlightChars: 4 * 1024 * 1024,
      heartbeatMs: 30_000,
      drainMs: 10_000,
      ...opts,
      // GET /metrics: Prometheus text for operators (kernel/metrics-prom.ts), beside the given routes.
      routes: new Map([['/metrics', prometheusRoute({ metrics: rpc.kernel.metrics, generation: () => rpc.kernel.currentGeneration(), recordsDropped: () => rpc.kernel.records?.dropped ?? 0 })], ...(opts.routes ?? [])]),
    };
    this.allowedOrigins = (opts.allowedOrigins ?? []).map(normalizeOrigin);
    this.logAccess = new LogAccess(rpc.kernel.grants);
    this.ready = opts.ready ?? (() => true);
    this.http = opts.httpServer ?? http.createServer();
    this.http.on('request', (req: http.IncomingMessage, res: http.ServerResponse) =>
      this.onHttp(req, res).catch((e: unknown) => {
        warn('an HTTP request failed unexpectedly', e);
        res.destroy();
      }),
    );
    // The only subprotocol ever answered is WS_PROTOCOL: a token offered beside it is not echoed.
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.opts.maxMessageBytes,
      perMessageDeflate: false,
      handleProtocols: (offered) => (offered.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    });
    this.http.on('upgrade', (req, socket, head) => {
      const d = decideUpgrade(req, this.closing ? '' : pathOf(req.url), this.origins, this.auth);
      if (!d.ok) return refuseUpgrade(socket, d);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, d.token, d.principal));
    });
    rpc.kernel.events.on('event', this.onEvent);
    this.offRevoke = auth.onRevoke((id) => this.endRevoked(id));
  }

  async listen(): Promise<{ host: string; port: number; url: string }> {
    if (!this.http.listening) {
      await new Promise<void>((resolve, reject) => {
        this.http.once('error', reject);
        this.http.listen(this.opts.port, this.opts.host, () => resolve());
      });
    }
    const addr = this.http.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.origins = new OriginPolicy({ bindHost: this.opts.host, port: addr.port, allowedOrigins: this.allowedOrigins });
    // Errors after listening (EMFILE on accept, say) are the accept's, not the process's.
    this.http.on('error', (e) => warn('the HTTP server reported an error', e));
    this.heartbeat = setInterval(() => this.beat(), this.opts.heartbeatMs);
    this.heartbeat.unref();
    return { host: addr.address, port: addr.port, url: `ws://${host}:${addr.port}/` };
  }

  /** Stops accepting, lets calls in flight finish (bounded by drainMs), then closes everything. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.rpc.kernel.events.off('event', this.onEvent);
    this.offRevoke();
    clearInterval(this.heartbeat);
    const stopped = new Promise<void>((resolve) => this.http.close(() => resolve()));
    const deadline = Date.now() + this.opts.drainMs;
    while (Date.now() < deadline && [...this.connections].some((c) => c.inFlight > 0)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const c of this.connections) c.ws.close(1001, 'kernel shutting down');
    await new Promise((r) => setTimeout(r, 50));
    for (const c of this.connections) c.ws.terminate();
    this.http.closeAllConnections?.();
    await stopped;
  }

  connectionCount(): number {
    return this.connections.size;
  }

  private async onHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const pathname = pathOf(req.url);
    if (answerHealth(pathname, req, res, () => !this.closing && this.ready())) return;
    const route = this.opts.routes?.get(pathname);
    if (!route && this.opts.console) {
      // The Host check keeps a rebinding page from reading even these public files as its own.
      const refused = this.origins?.check(req.headers);
      if (refused) {
        res.writeHead(refused.status, { 'content-type': 'application/json' });
        res.end(refusalBody(refused));
        return;
      }
      if (this.opts.console(req, res, pathname)) return;
    }
    if (!route) {
      res.writeHead(pathname === '/' ? 426 : 404, { 'content-type': 'text/plain' });
      res.end(pathname === '/' ? 'Substrate speaks JSON-RPC over WebSocket here.\n' : 'not found\n');
      return;
    }
    // Before authentication, as the MCP specification asks: 403 for a foreign Origin or Host.
    const refused = this.origins?.check(req.headers);
    if (refused) {
      res.writeHead(refused.status, { 'content-type': 'application/json' });
      res.end(refusalBody(refused));
      return;
    }
    if (isPreflight(req.method, req.headers)) {
      res.writeHead(204, preflightHeaders(req.headers));
      res.end();
      return;
    }
    for (const [name, value] of Object.entries(corsHeaders(req.headers))) res.setHeader(name, value);
    const principal = this.auth.verify(bearer(req.headers.authorization));
    if (!principal) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: RPC_CODES.SERVER_ERROR, message: 'unauthorized', data: { type: 'UNAUTHORIZED' } } }));
      return;
    }
    try {
      await route(req, res, principal);
    } catch (e) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e));
    }
  }

  private accept(ws: WebSocket, token: string | undefined, principal: Principal): void {
    const conn: Connection = {
      ws,
      token,
      // Known from the upgrade: a revocation must find this connection before its first call.
      principal,
      epoch: this.auth.epoch,
      inFlight: 0,
      unwritten: 0,
      inChars: 0,
      alive: true,
      subscription: null,
      subscribe: (types, name) => {
        conn.subscription = { types: new Set(types), name };
      },
    };
    this.connections.add(conn);
    ws.on('pong', () => (conn.alive = true));
    ws.on('close', () => this.connections.delete(conn));
    ws.on('error', () => ws.terminate());
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        this.send(conn, errorResponse(null, RPC_CODES.INVALID_REQUEST, 'messages must be text frames'));
        return;
      }
      // A failure that escaped the answering of this message ends this connection only.
      this.onMessage(conn, data.toString()).catch((e: unknown) => this.drop(conn, e));
    });
  }

  private beat(): void {
    for (const c of this.connections) {
      // Not read because the kernel paused it (maxInFlightChars): its pong may be waiting unread.
      if (c.ws.isPaused) continue;
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  /** What the requests in flight hold, parsed, is bounded through their text (parsed, 1 MiB of
   *  `[{},{},…]` is some 20 MB): past maxInFlightChars the kernel stops reading the connection
   *  (TCP backpressure: the client's sends wait in its own buffers) until enough is answered.
   *  Refusing instead would still cost a parse of each refused message. */
  private async onMessage(conn: Connection, text: string): Promise<void> {
    conn.inChars += text.length;
    if (conn.inChars > this.opts.maxInFlightChars && !conn.ws.isPaused) conn.ws.pause();
    try {
      await this.answer(conn, text);
    } finally {
      conn.inChars -= text.length;
      if (conn.ws.isPaused && conn.inChars <= this.opts.maxInFlightChars) conn.ws.resume();
    }
  }

  private async answer(conn: Connection, text: string): Promise<void> {
    let msg: unknown;
    try {
      // JSON.parse is iterative (any depth is safe here); what runs after it is not, hence the
      // depth check right after.
      msg = JSON.parse(text);
    } catch {
      this.send(conn, errorResponse(null, RPC_CODES.PARSE_ERROR, 'parse error: the message is not valid JSON'));
      return;
    }
    // Only a message whose text may nest too deeply is walked, request by request, so that each
    // too-deep request is refused with its own id and the others in its batch still run.
    const deep = textMayExceed(text, MAX_MESSAGE_DEPTH);
    const one = (m: unknown): Promise<Response | null> => (deep ? this.handleChecked(conn, m) : this.handle(conn, m));
    if (Array.isArray(msg)) {
      if (msg.length === 0) {
        this.send(conn, errorResponse(null, RPC_CODES.INVALID_REQUEST, 'invalid request: empty batch'));
        return;
      }
      const replies = await Promise.all(msg.map(one));
      const out = replies.filter((r): r is Response => r !== null);
      if (out.length) this.send(conn, out);
      return;
    }
    const reply = await one(msg);
    if (reply) this.send(conn, reply);
  }

  /** `handle`, after refusing a request that nests deeper than MAX_MESSAGE_DEPTH. */
  private async handleChecked(conn: Connection, m: unknown): Promise<Response | null> {
    const depth = jsonValueDepth(m);
    if (depth <= MAX_MESSAGE_DEPTH) return this.handle(conn, m);
    const id = isObject(m) && validId(m.id) ? (m.id as JsonRpcId) : null;
    if (isObject(m) && !('id' in m) && typeof m.method === 'string') return null;
    const err = tooDeep('the request', depth, MAX_MESSAGE_DEPTH, { what: 'request' });
    return errorResponse(id, RPC_CODES.SERVER_ERROR, err.message, { ...err.data, type: err.type });
  }

  /** One request object; null for a notification (which gets no reply). */
  private async handle(conn: Connection, m: unknown): Promise<Response | null> {
    if (!isObject(m) || m.jsonrpc !== '2.0' || typeof m.method !== 'string' || ('id' in m && !validId(m.id)) || ('params' in m && !isObject(m.params) && !Array.isArray(m.params))) {
      const id = isObject(m) && validId(m.id) ? (m.id as JsonRpcId) : null;
      return errorResponse(id, RPC_CODES.INVALID_REQUEST, 'invalid request: expected { jsonrpc: "2.0", method: string, params?: object, id?: string | number | null }');
    }
    const isNotification = !('id' in m);
    const id = isNotification ? null : (m.id as JsonRpcId);
    const reply = (r: Response) => (isNotification ? null : r);
    if (conn.epoch !== this.auth.epoch) {
      conn.principal = this.auth.verify(conn.token);
      conn.epoch = this.auth.epoch;
    }
    const principal = conn.principal;
    if (!principal) {
      return reply(errorResponse(id, RPC_CODES.SERVER_ERROR, 'unauthorized: the token was revoked', { type: 'UNAUTHORIZED' }));
    }
    if (conn.inFlight + conn.unwritten >= this.opts.maxInFlight) {
      return reply(errorResponse(id, RPC_CODES.SERVER_ERROR, `overloaded: more than ${this.opts.maxInFlight} requests in flight on this connection`, { type: 'OVERLOADED', limit: this.opts.maxInFlight }));
    }
    if (this.closing) {
      return reply(errorResponse(id, RPC_CODES.SERVER_ERROR, 'the kernel is shutting down', { type: 'OVERLOADED', shuttingDown: true }));
    }
    let params: unknown = m.params;
    if (Array.isArray(params)) {
      return reply(errorResponse(id, RPC_CODES.INVALID_PARAMS, 'invalid params: params must be an object (by name)', { path: '' }));
    }
    let progress: ((p: object) => void) | undefined;
    if (isObject(params) && 'progress' in params) {
      const { progress: want, ...rest } = params;
      params = rest;
      if (want === true && !isNotification) {
        progress = (p) => this.send(conn, { jsonrpc: '2.0', method: 'progress', params: { requestId: id, ...p } });
      }
    }
    conn.inFlight++;
    try {
      const result = await this.rpc.dispatch(
        {
          principal,
          progress,
          subscribe: conn.subscribe,
        },
        m.method,
        params,
      );
      return reply({ jsonrpc: '2.0', id, result: result ?? null });
    } catch (e) {
      if (e instanceof RpcProtocolError) return reply(errorResponse(id, e.code, e.message, e.data));
      const err = e instanceof SubstrateError ? e : asSubstrateError(e, 'CAPABILITY_ERROR');
      if (!(e instanceof SubstrateError)) {
        return reply(errorResponse(id, RPC_CODES.INTERNAL, `internal error: ${err.message}`));
      }
      // `type` last: a detail named `type` in data must never mask the error's type.
      return reply(errorResponse(id, RPC_CODES.SERVER_ERROR, err.message, { ...err.data, type: err.type }));
    } finally {
      conn.inFlight--;
    }
  }

  private fanOut(e: KernelEvent): void {
    let text: string | undefined;
    for (const c of this.connections) {
      const s = c.subscription;
      if (!s || !s.types.has(e.type) || (s.name !== undefined && s.name !== e.name)) continue;
      if (e.type === 'log' && (!c.principal || !this.logAccess.visible(c.principal, e.name))) continue;
      // A subscriber that does not read must not grow the kernel's memory: past the backlog
      // bound its connection is closed with a clear code instead.
      if (c.ws.bufferedAmount > this.opts.maxEventBacklogBytes) {
        this.closeSlow(c, 'event backlog exceeded: subscriber too slow');
        continue;
      }
      text ??= JSON.stringify({ jsonrpc: '2.0', method: 'event', params: e });
      c.ws.send(text);
    }
  }

  /** Sends a reply (or a batch of replies, or a notification). A connection with more than the
   *  backlog bound still unsent is closed instead: a client that never reads cannot make the
   *  kernel queue its replies without end. A reply that cannot be serialized (a string past V8's
   *  limit, say) is replaced by an error for the same id. */
  private send(conn: Connection, payload: Response | Response[] | object): void {
    if (conn.ws.readyState !== WebSocket.OPEN) return;
    if (conn.ws.bufferedAmount > this.opts.maxEventBacklogBytes) {
      this.closeSlow(conn, 'reply backlog exceeded: the client does not read its replies');
      return;
    }
    let text: string;
    try {
      text = JSON.stringify(payload);
    } catch (e) {
      const unsendable = (r: unknown): Response =>
        errorResponse(isObject(r) && validId(r.id) ? (r.id as JsonRpcId) : null, RPC_CODES.INTERNAL, `internal error: the reply could not be serialized: ${e instanceof Error ? e.message : String(e)}`);
      text = JSON.stringify(Array.isArray(payload) ? payload.map(unsendable) : unsendable(payload));
    }
    conn.unwritten++;
    conn.ws.send(text, () => {
      conn.unwritten--;
    });
  }

  /** Closes a connection that does not read what it is sent, with CLOSE_SLOW_READER. */
  private closeSlow(conn: Connection, reason: string): void {
    conn.subscription = null;
    if (conn.ws.readyState !== WebSocket.OPEN) return;
    conn.ws.close(CLOSE_SLOW_READER, reason);
    // One line per connection: an operator sees which client was cut off, and why.
    process.stderr.write(`substrate: closed a connection of ${conn.principal?.name ?? 'an unknown principal'} with ${CLOSE_SLOW_READER}: ${reason}\n`);
    setTimeout(() => conn.ws.terminate(), SLOW_READER_GRACE_MS).unref();
  }

  /** A revoked token keeps nothing open: each of its connections (and with it its subscription)
   *  is closed with CLOSE_UNAUTHORIZED. After this tick, so that the reply to the tokens/revoke that
   *  caused it still reaches a token revoking itself. */
  private endRevoked(id: string): void {
    for (const c of this.connections) {
      if (c.principal?.id !== id) continue;
      c.subscription = null;
      c.principal = undefined;
      setImmediate(() => {
        if (c.ws.readyState !== WebSocket.OPEN) return;
        c.ws.close(CLOSE_UNAUTHORIZED, 'the token was revoked');
        setTimeout(() => c.ws.terminate(), SLOW_READER_GRACE_MS).unref();
      });
    }
  }

  /** A failure no request could be answered with: this connection ends, the kernel serves on. */
  private drop(conn: Connection, e: unknown): void {
    warn('a WebSocket connection was closed after an unexpected failure', e);
    conn.ws.terminate();
  }
}

/** The path of a request target; '' for one that is not a URL (`//[` throws in `new URL`). */
function pathOf(target: string | undefined): string {
  try {
    return new URL(target ?? '/', 'http://x').pathname;
  } catch {
    return '';
  }
}

function warn(what: string, e: unknown): void {
  process.stderr.write(`substrate: ${what}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validId(v: unknown): boolean {
  return v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

function errorResponse(id: JsonRpcId, code: number, message: string, data?: unknown): Response {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
}

