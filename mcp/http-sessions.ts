// The Streamable HTTP endpoint on the kernel's `/mcp`: stateful sessions (mcp-session-id), each an
// MCP Server (mcp/server.ts) over a backend bound to the principal whose token opened it; idle and
// surplus sessions closed, a revoked token's sessions ended at once. The only MCP file that imports
// the HTTP transport and node:http, so the stdio server does not load them.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { JSONRPC_CODES } from '../capabilities/jsonrpc-codes.ts';
import type { Principal } from '../capabilities/types.ts';
import type { McpBackend } from './backend.ts';
import { createMcpServer, type McpServerOptions } from './server.ts';

export interface McpEndpointOptions {
  /** The backend a new session runs on, bound to the principal whose token opened it. */
  backendFor(principal: Principal): McpBackend;
  /** Calls `cb` with the id of every token revoked from now on; returns an unsubscribe function. */
  onRevoke(cb: (tokenId: string) => void): () => void;
  /** Passed to every session's server (mcp/server.ts). */
  server?: McpServerOptions;
  /** A session without requests for this long is closed (default 30 minutes). */
  idleMs?: number;
  /** Open sessions per principal; beyond it the least recently used one is closed (default 64). */
  maxSessionsPerPrincipal?: number;
  /** Largest request body read for a new session (default 4 MiB, like the transport's own). */
  maxBodyBytes?: number;
}

export interface McpEndpoint {
  handle(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void>;
  close(): Promise<void>;
  sessionCount(): number;
}

interface Session {
  id: string;
  principal: Principal;
  server: Server;
  transport: StreamableHTTPServerTransport;
  lastSeen: number;
  active: number;
}

function sendJsonError(res: ServerResponse, status: number, code: number, message: string, data?: Record<string, unknown>): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message, ...(data ? { data } : {}) } }));
}

class BodyError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJsonBody(req: IncomingMessage, max: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) throw new BodyError(413, JSONRPC_CODES.INVALID_REQUEST, `request body larger than ${max} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > max) throw new BodyError(413, JSONRPC_CODES.INVALID_REQUEST, `request body larger than ${max} bytes`);
    chunks.push(b);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BodyError(400, JSONRPC_CODES.PARSE_ERROR, 'parse error: the body is not JSON');
  }
}

function isInitialize(body: unknown): boolean {
  return Array.isArray(body) ? body.some((m) => isInitializeRequest(m)) : isInitializeRequest(body);
}

/** The Streamable HTTP endpoint: stateful sessions (mcp-session-id), each an MCP Server over the
 *  backend of the principal whose token opened it. */
export function createMcpEndpoint(opts: McpEndpointOptions): McpEndpoint {
  const sessions = new Map<string, Session>();
  const idleMs = opts.idleMs ?? 30 * 60_000;
  const maxPerPrincipal = opts.maxSessionsPerPrincipal ?? 64;
  const maxBody = opts.maxBodyBytes ?? 4 * 1024 * 1024;
  let closed = false;

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const s of sessions.values()) if (s.active === 0 && now - s.lastSeen > idleMs) void closeSession(s);
  }, Math.max(1000, Math.min(60_000, idleMs / 4)));
  sweep.unref();
  // A revoked token's sessions end at once, their open SSE streams with them (the transport's
  // close ends every stream); its next request is refused with 401 before it reaches a session.
  const offRevoke = opts.onRevoke((id) => {
    for (const s of sessions.values()) if (s.principal.id === id) void closeSession(s);
  });

  async function closeSession(s: Session): Promise<void> {
    sessions.delete(s.id);
    await s.server.close().catch(() => undefined);
  }

  async function serve(s: Session, req: IncomingMessage, res: ServerResponse, body?: unknown): Promise<void> {
    s.active++;
    s.lastSeen = Date.now();
    res.once('close', () => {
      s.active--;
      s.lastSeen = Date.now();
    });
    await s.transport.handleRequest(req, res, body);
  }

  async function open(principal: Principal, req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const mine = [...sessions.values()].filter((s) => s.principal.id === principal.id);
    if (mine.length >= maxPerPrincipal) {
      mine.sort((a, b) => a.lastSeen - b.lastSeen);
      for (const s of mine.slice(0, mine.length - maxPerPrincipal + 1)) await closeSession(s);
    }
    const server = createMcpServer(opts.backendFor(principal), opts.server);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        session.id = id;
        sessions.set(id, session);
      },
    });
    const session: Session = { id: '', principal, server, transport, lastSeen: Date.now(), active: 0 };
    const prev = server.onclose;
    server.onclose = () => {
      prev?.();
      if (session.id && sessions.get(session.id) === session) sessions.delete(session.id);
    };
    await server.connect(transport);
    await serve(session, req, res, body);
    // A refused initialize (bad protocol version, malformed) leaves no session behind.
    if (!session.id) await server.close().catch(() => undefined);
  }

  return {
    async handle(req, res, principal) {
      if (closed) return sendJsonError(res, 503, JSONRPC_CODES.SERVER_ERROR, 'the kernel is shutting down');
      const header = req.headers['mcp-session-id'];
      const sid = Array.isArray(header) ? header[0] : header;
      if (sid) {
        const s = sessions.get(sid);
        if (!s) return sendJsonError(res, 404, -32001, 'session not found: initialize a new session');
        if (s.principal.id !== principal.id) {
          return sendJsonError(res, 403, JSONRPC_CODES.SERVER_ERROR, 'this session belongs to another token', { type: 'FORBIDDEN' });
        }
        return serve(s, req, res);
      }
      if (req.method !== 'POST') return sendJsonError(res, 400, JSONRPC_CODES.SERVER_ERROR, 'bad request: an mcp-session-id header is required (initialize with a POST first)');
      let body: unknown;
      try {
        body = await readJsonBody(req, maxBody);
      } catch (e) {
        if (e instanceof BodyError) return sendJsonError(res, e.status, e.code, e.message);
        throw e;
      }
      if (!isInitialize(body)) return sendJsonError(res, 400, JSONRPC_CODES.SERVER_ERROR, 'bad request: no valid session id; send initialize first');
      return open(principal, req, res, body);
    },
    async close() {
      closed = true;
      clearInterval(sweep);
      offRevoke();
      await Promise.all([...sessions.values()].map((s) => closeSession(s)));
    },
    sessionCount: () => sessions.size,
  };
}
