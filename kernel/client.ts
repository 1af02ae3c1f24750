// Over 500 lines because it is one class, the whole client side of the protocol (calls, batches,
// reconnects, subscriptions), whose parts share the connection's state; its types come from the
// protocol source (capabilities/protocol/).
// The typed client library of the WebSocket JSON-RPC protocol: connects with a bearer token, calls
// methods with the params/result types of kernel/api.ts, turns JSON-RPC errors into RpcError with
// the contract's error type, routes `progress` notifications to the call that asked for them and
// `event` notifications to subscribers, and reconnects with exponential backoff when asked to.
// Calls in flight when a connection drops are rejected, never resent: an invocation is not
// idempotent from the caller's point of view.

import WebSocket from 'ws';
import { backoffMs } from '../capabilities/backoff.ts';
import { isErrorType, RPC_CODES, type ErrorType } from '../capabilities/errors.ts';
import { CLOSE_UNAUTHORIZED } from './api.ts';
import type {
  KernelEvent,
  MethodName,
  ParamsOf,
  ProgressEvent,
  ResultOf,
  SubscribeParams,
  SubscribeResult,
  EventType,
} from './api.ts';

export type * from './api.ts';
export type { ErrorType } from '../capabilities/errors.ts';

/** An error the kernel answered with. `type` is the contract's error type (from `error.data.type`
 *  when `code` is -32000); the standard JSON-RPC codes (-32700 … -32603) have no type. */
export class RpcError extends Error {
  readonly code: number;
  readonly type: ErrorType | undefined;
  readonly data: unknown;

  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
    const t = data && typeof data === 'object' ? (data as { type?: unknown }).type : undefined;
    this.type = code === RPC_CODES.SERVER_ERROR && isErrorType(t) ? t : undefined;
  }
}

/** The connection failed or dropped: nothing the kernel said. `code` is the system error code
 *  (`ECONNREFUSED`, `ENOTFOUND`, …), `ETIMEDOUT` for a handshake timeout, `ECONNRESET` for a drop,
 *  `ECLOSED` once the client was closed. */
export class ConnectionError extends Error {
  readonly url: string;
  readonly code: string;
  constructor(url: string, code: string, message: string) {
    super(message);
    this.name = 'ConnectionError';
    this.url = url;
    this.code = code;
  }
}

export interface ReconnectOptions {
  /** First delay (default 100 ms); doubles at every failed attempt. */
  minMs?: number;
  /** Largest delay (default 5000 ms). */
  maxMs?: number;
  /** Attempts before giving up (default: unlimited). */
  retries?: number;
}

export interface ConnectOptions {
  token?: string;
  reconnect?: boolean | ReconnectOptions;
  /** Bound on opening the connection (default 10000 ms). */
  timeoutMs?: number;
}

export interface CallOptions {
  onProgress?: (p: ProgressEvent) => void;
  /** Reject if no answer came within this many ms (the kernel may still finish the work). */
  timeoutMs?: number;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

interface ClientEvents {
  /** The client is closed for good: closed by the caller, or dropped with no (more) reconnects. */
  close: CloseInfo;
  /** The connection dropped; a reconnect is being attempted. */
  disconnect: CloseInfo;
  /** A new connection is open again and subscriptions are restored. */
  reconnect: { attempts: number };
}

type ClientEventName = keyof ClientEvents;

interface Pending {
  method: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (p: ProgressEvent) => void;
  timer?: NodeJS.Timeout;
  message: string;
  sent: boolean;
}

interface Subscription {
  params: SubscribeParams;
  onEvent: (e: KernelEvent) => void;
}

interface RpcResponse {
  jsonrpc?: string;
  id?: string | number | null;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
  method?: string;
  params?: unknown;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** What `events/subscribe` delivers when no `types` are given (the kernel's default). */
export const DEFAULT_EVENT_TYPES: readonly EventType[] = [
  'capability.registered',
  'capability.activated',
  'capability.removed',
  'capability.rolledBack',
];

function typesOf(p: SubscribeParams): readonly EventType[] {
  return p.types ?? DEFAULT_EVENT_TYPES;
}

/** `127.0.0.1:7070` → `ws://127.0.0.1:7070/`; `http(s)://` → `ws(s)://`. */
export function normalizeUrl(url: string): string {
  let u = url.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) u = `ws://${u}`;
  u = u.replace(/^http:/i, 'ws:').replace(/^https:/i, 'wss:');
  try {
    return new URL(u).href;
  } catch {
    return u;
  }
}

export class SubstrateClient {
  readonly url: string;
  private readonly token: string | undefined;
  private readonly connectTimeoutMs: number;
  private readonly reconnect: Required<ReconnectOptions> | null;
  private ws: WebSocket | null = null;
  private state: 'connecting' | 'open' | 'reconnecting' | 'closed' = 'connecting';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly subs: Subscription[] = [];
  private readonly listeners: { [K in ClientEventName]: Array<(info: ClientEvents[K]) => void> } = {
    close: [],
    disconnect: [],
    reconnect: [],
  };
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closedPromise: Promise<void> | null = null;
  /** Set when the kernel closed the connection for a revoked token: what every later call gets. */
  private refusal: RpcError | null = null;

  private constructor(url: string, opts: ConnectOptions) {
    this.url = normalizeUrl(url);
    this.token = opts.token;
    this.connectTimeoutMs = opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const r = opts.reconnect;
    this.reconnect = r
      ? {
          minMs: (typeof r === 'object' && r.minMs) || 100,
          maxMs: (typeof r === 'object' && r.maxMs) || 5000,
          retries: typeof r === 'object' && r.retries !== undefined ? r.retries : Infinity,
        }
      : null;
  }

  /** Opens a connection; rejects with ConnectionError (unreachable) or RpcError UNAUTHORIZED (401). */
  static async connect(url: string, opts: ConnectOptions = {}): Promise<SubstrateClient> {
    const client = new SubstrateClient(url, opts);
    client.ws = await client.open();
    client.state = 'open';
    return client;
  }

  /** Calls one method. With `onProgress`, asks the kernel for `progress` notifications. */
  call<M extends MethodName>(method: M, params?: ParamsOf<M>, opts: CallOptions = {}): Promise<ResultOf<M>> {
    if (this.state === 'closed') {
      return Promise.reject(this.refusal ?? new ConnectionError(this.url, 'ECLOSED', `the connection to ${this.url} is closed`));
    }
    const id = this.nextId++;
    let sentParams: unknown = params;
    if (opts.onProgress) sentParams = { ...((params as object | undefined) ?? {}), progress: true };
    const msg: { jsonrpc: '2.0'; id: number; method: string; params?: unknown } = { jsonrpc: '2.0', id, method };
    if (sentParams !== undefined) msg.params = sentParams;
    return new Promise<ResultOf<M>>((resolve, reject) => {
      const p: Pending = {
        method,
        resolve: resolve as (v: unknown) => void,
        reject,
        onProgress: opts.onProgress,
        message: JSON.stringify(msg),
        sent: false,
      };
      if (opts.timeoutMs !== undefined) {
        p.timer = setTimeout(() => {
          this.pending.delete(id);
          const e = new Error(`no answer to ${method} from ${this.url} within ${opts.timeoutMs} ms`);
          e.name = 'TimeoutError';
          reject(e);
        }, opts.timeoutMs);
      }
      this.pending.set(id, p);
      // While reconnecting the message waits; it is sent once the new connection is open.
      if (this.state === 'open') this.send(id, p);
    });
  }

  /** Subscribes to `event` notifications; the subscription is restored after a reconnect. */
  async subscribe(params: SubscribeParams, onEvent: (e: KernelEvent) => void): Promise<SubscribeResult> {
    const sub: Subscription = { params: { ...params }, onEvent };
    this.subs.push(sub);
    try {
      const res = await this.call('events/subscribe', this.mergedSubscription());
      const mine = typesOf(params);
      return { subscribed: res.subscribed.filter((t) => mine.includes(t)) };
    } catch (e) {
      this.subs.splice(this.subs.indexOf(sub), 1);
      throw e;
    }
  }

  on<K extends ClientEventName>(event: K, fn: (info: ClientEvents[K]) => void): this {
    this.listeners[event].push(fn);
    return this;
  }

  off<K extends ClientEventName>(event: K, fn: (info: ClientEvents[K]) => void): this {
    const list = this.listeners[event];
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  get connected(): boolean {
    return this.state === 'open';
  }

  /** Closes the connection; calls still waiting are rejected. */
  close(): Promise<void> {
    if (this.closedPromise) return this.closedPromise;
    const wasState = this.state;
    this.state = 'closed';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.failPending(new ConnectionError(this.url, 'ECLOSED', `the connection to ${this.url} was closed by the client`));
    const ws = this.ws;
    this.closedPromise = new Promise<void>((resolve) => {
      if (!ws || ws.readyState === WebSocket.CLOSED) return resolve();
      const t = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000);
      t.unref();
      ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      ws.close(1000, 'client closed');
    });
    if (wasState !== 'closed') this.emit('close', { code: 1000, reason: 'client closed' });
    return this.closedPromise;
  }

  // ---------------------------------------------------------------------------------------------

  private emit<K extends ClientEventName>(event: K, info: ClientEvents[K]): void {
    for (const fn of [...this.listeners[event]]) {
      try {
        fn(info);
      } catch {
        // A listener's failure must not break the connection's bookkeeping.
      }
    }
  }

  /** One connection attempt: resolves with an open socket wired to this client. */
  private open(): Promise<WebSocket> {
    return new Promise<WebSocket>((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (this.token) headers.Authorization = `Bearer ${this.token}`;
      let settled = false;
      const settle = (err: Error | null): void => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve(ws);
      };
      let ws: WebSocket;
      try {
        ws = new WebSocket(this.url, { headers, handshakeTimeout: this.connectTimeoutMs });
      } catch (e) {
        reject(new ConnectionError(this.url, 'EINVAL', `could not connect to ${this.url}: ${(e as Error).message}`));
        return;
      }
      ws.on('unexpected-response', (_req, res) => {
        const status = res.statusCode ?? 0;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (body.length < 4096) body += c;
        });
        const done = (): void => {
          settle(upgradeError(this.url, status, res.statusMessage ?? '', body, this.token !== undefined));
          ws.terminate();
        };
        res.on('end', done);
        res.on('error', done);
        res.on('aborted', done);
      });
      ws.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        const code = err.code ?? (/timed out/i.test(err.message) ? 'ETIMEDOUT' : 'ECONNFAILED');
        const why = err.code ?? err.message;
        settle(new ConnectionError(this.url, code, `could not connect to ${this.url}: ${why}`));
      });
      ws.on('open', () => {
        settle(null);
      });
      ws.on('message', (data, isBinary) => {
        if (!isBinary) this.onMessage(data.toString());
      });
      ws.on('close', (code, reason) => {
        if (!settled) {
          settle(new ConnectionError(this.url, 'ECONNRESET', `could not connect to ${this.url}: closed (${code})`));
          return;
        }
        if (this.ws === ws) this.onDrop(code, reason.toString());
      });
    });
  }

  private send(id: number, p: Pending): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    p.sent = true;
    ws.send(p.message, (err) => {
      if (err && this.pending.get(id) === p) {
        this.settlePending(id);
        p.reject(new ConnectionError(this.url, 'ECONNRESET', `could not send ${p.method} to ${this.url}: ${err.message}`));
      }
    });
  }

  private settlePending(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    return p;
  }

  private failPending(err: Error, onlySent = false): void {
    for (const [id, p] of [...this.pending]) {
      if (onlySent && !p.sent) continue;
      this.settlePending(id);
      p.reject(err);
    }
  }

  private onMessage(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    for (const m of Array.isArray(msg) ? msg : [msg]) {
      if (m && typeof m === 'object') this.onRpc(m as RpcResponse);
    }
  }

  private onRpc(m: RpcResponse): void {
    if (typeof m.method === 'string') {
      if (m.method === 'progress') this.onProgress(m.params as ProgressEvent);
      else if (m.method === 'event') this.onEvent(m.params as KernelEvent);
      return;
    }
    if (typeof m.id !== 'number') return;
    const p = this.settlePending(m.id);
    if (!p) return;
    if (m.error) {
      const e = m.error;
      p.reject(new RpcError(typeof e.code === 'number' ? e.code : RPC_CODES.INTERNAL, String(e.message ?? 'error'), e.data));
    } else {
      p.resolve(m.result);
    }
  }

  private onProgress(ev: ProgressEvent): void {
    if (!ev || typeof ev !== 'object') return;
    const id = typeof ev.requestId === 'string' ? Number(ev.requestId) : ev.requestId;
    const p = this.pending.get(id);
    if (!p?.onProgress) return;
    try {
      p.onProgress(ev);
    } catch {
      // A progress callback's failure does not fail the call.
    }
  }

  private onEvent(ev: KernelEvent): void {
    if (!ev || typeof ev !== 'object') return;
    const merged = this.mergedSubscription();
    for (const s of [...this.subs]) {
      if (!typesOf(s.params).includes(ev.type)) continue;
      // The kernel already filtered by name when every subscription asked for the same one; its
      // notion of "about this capability" (e.g. logs of nested calls) is then kept as it is.
      if (s.params.name && merged.name !== s.params.name && ev.name !== s.params.name) continue;
      try {
        s.onEvent(ev);
      } catch {
        // A subscriber's failure must not stop the others.
      }
    }
  }

  /** The one subscription the connection holds (the kernel keeps one per connection and replaces
   *  it at every `events/subscribe`): the union of what every subscriber asked for. */
  private mergedSubscription(): SubscribeParams {
    const out: SubscribeParams = {};
    if (this.subs.length === 0) return out;
    const types = new Set<EventType>();
    for (const s of this.subs) for (const t of typesOf(s.params)) types.add(t);
    out.types = [...types];
    const name = this.subs[0].params.name;
    if (name && this.subs.every((s) => s.params.name === name)) out.name = name;
    return out;
  }

  private onDrop(code: number, reason: string): void {
    this.ws = null;
    if (this.state === 'closed') return;
    const info = { code, reason };
    if (code === CLOSE_UNAUTHORIZED) {
      // The token was revoked: the kernel answers nothing more of it and reconnecting cannot help.
      // A call it was answering may still have completed; one sent after the revocation was not run.
      this.refusal = new RpcError(RPC_CODES.SERVER_ERROR, `unauthorized: ${reason || 'the token was revoked'} (a call in flight may have completed first)`, {
        type: 'UNAUTHORIZED',
        closeCode: code,
      });
      this.state = 'closed';
      this.failPending(this.refusal);
      this.emit('close', info);
      return;
    }
    // Only calls already sent are lost: the kernel may have started them, so they are not resent.
    this.failPending(
      new ConnectionError(this.url, 'ECONNRESET', `the connection to ${this.url} dropped (${code}${reason ? ` ${reason}` : ''}) before the answer came`),
      true,
    );
    if (!this.reconnect) {
      this.state = 'closed';
      this.failPending(new ConnectionError(this.url, 'ECLOSED', `the connection to ${this.url} is closed`));
      this.emit('close', info);
      return;
    }
    this.state = 'reconnecting';
    this.emit('disconnect', info);
    this.scheduleReconnect(1, info);
  }

  private scheduleReconnect(attempt: number, lastClose: CloseInfo): void {
    const r = this.reconnect!;
    if (attempt > r.retries) {
      this.state = 'closed';
      this.failPending(new ConnectionError(this.url, 'ECLOSED', `could not reconnect to ${this.url} after ${r.retries} attempts`));
      this.emit('close', lastClose);
      return;
    }
    const delay = backoffMs(attempt, { baseMs: r.minMs, maxMs: r.maxMs, jitter: 0.2 });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.state === 'closed') return;
      this.open().then(
        (ws) => {
          if (this.state === 'closed') {
            ws.close(1000, 'client closed');
            return;
          }
          this.ws = ws;
          this.state = 'open';
          this.restore(attempt);
        },
        (err: Error) => {
          if (this.state === 'closed') return;
          if (err instanceof RpcError && err.type === 'UNAUTHORIZED') {
            // A refused token will not become valid by retrying.
            this.state = 'closed';
            this.failPending(err);
            this.emit('close', { code: 4401, reason: err.message });
            return;
          }
          this.scheduleReconnect(attempt + 1, lastClose);
        },
      );
    }, delay);
  }

  private restore(attempts: number): void {
    if (this.subs.length > 0) {
      this.call('events/subscribe', this.mergedSubscription()).catch(() => {
        // A refused re-subscription surfaces as a missing stream; the next drop will retry it.
      });
    }
    for (const [id, p] of this.pending) if (!p.sent) this.send(id, p);
    this.emit('reconnect', { attempts });
  }
}

function upgradeError(url: string, status: number, statusText: string, body: string, hadToken: boolean): Error {
  let message: string;
  let data: Record<string, unknown> | undefined;
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string; data?: Record<string, unknown> }; message?: string };
    message = parsed.error?.message ?? parsed.message ?? '';
    data = parsed.error?.data;
  } catch {
    message = body.trim().split('\n')[0] ?? '';
  }
  if (status === 401) {
    const m = message || (hadToken ? 'the token was refused' : 'a token is required');
    return new RpcError(RPC_CODES.SERVER_ERROR, m, { ...data, type: 'UNAUTHORIZED' });
  }
  if (status === 403) {
    return new RpcError(RPC_CODES.SERVER_ERROR, message || 'forbidden', { ...data, type: 'FORBIDDEN' });
  }
  const text = `HTTP ${status}${statusText ? ` ${statusText}` : ''}${message ? `: ${message}` : ''}`;
  return new ConnectionError(url, `HTTP_${status}`, `could not connect to ${url}: ${text}`);
}

/** Shorthand for SubstrateClient.connect. */
export function connect(url: string, opts?: ConnectOptions): Promise<SubstrateClient> {
  return SubstrateClient.connect(url, opts);
}

export { DEFAULT_HOST, DEFAULT_PORT } from './api.ts';
