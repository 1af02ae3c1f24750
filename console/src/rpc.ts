// The console's side of the kernel's protocol: one WebSocket to the page's own origin, JSON-RPC 2.0
// calls by id, `event` notifications to a listener. Browsers cannot set Authorization on a
// WebSocket, so the token goes as the subprotocol `substrate.token.<token>` beside `substrate.v1`
// (docs/protocol.md, "Browser authentication"); the kernel answers `substrate.v1` only.

export interface Principal {
  id: string;
  name: string;
  role: 'operator' | 'agent' | 'client';
}

/** A JSON-RPC error the kernel answered with; `type` is the contract's error type (data.type). */
export class RpcError extends Error {
  readonly code: number;
  readonly type: string | undefined;
  readonly data: unknown;
  constructor(code: number, message: string, data: unknown) {
    super(message);
    this.code = code;
    this.data = data;
    const t = (data as { type?: unknown } | undefined)?.type;
    this.type = typeof t === 'string' ? t : undefined;
  }
}

export type KernelEvent = { type: string; name?: string; generation?: number } & Record<string, unknown>;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class Rpc {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(e: KernelEvent) => void>();
  onClose: ((code: number, reason: string) => void) | undefined;

  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener('message', (m) => this.onMessage(String(m.data)));
    ws.addEventListener('close', (c) => {
      for (const p of this.pending.values()) p.reject(new RpcError(-32000, 'the connection to the kernel closed', { type: 'UNAVAILABLE' }));
      this.pending.clear();
      this.onClose?.(c.code, c.reason);
    });
  }

  /** Opens the connection; rejects when the kernel refuses it (the browser does not say why:
   *  a wrong or revoked token, or an origin the kernel does not allow). */
  static connect(token: string, url = kernelUrl()): Promise<Rpc> {
    return new Promise((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(url, ['substrate.v1', `substrate.token.${token}`]);
      } catch {
        // A token with characters a subprotocol may not hold is not a token.
        reject(new Error('that is not a Substrate token (sbt_…)'));
        return;
      }
      const fail = () => reject(new Error('the kernel refused the connection: the token is unknown or revoked (or this page’s origin is not allowed)'));
      ws.addEventListener('error', fail, { once: true });
      ws.addEventListener(
        'open',
        () => {
          ws.removeEventListener('error', fail);
          resolve(new Rpc(ws));
        },
        { once: true },
      );
    });
  }

  call<T = unknown>(method: string, params?: object): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) }));
    });
  }

  /** Calls a method that may not exist in this kernel; undefined when it does not (-32601). */
  async optional<T = unknown>(method: string, params?: object): Promise<T | undefined> {
    try {
      return await this.call<T>(method, params);
    } catch (e) {
      if (e instanceof RpcError && e.code === -32601) return undefined;
      throw e;
    }
  }

  onEvent(cb: (e: KernelEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  close(): void {
    this.onClose = undefined;
    this.ws.close(1000);
  }

  private onMessage(text: string): void {
    let msg: { id?: number; result?: unknown; error?: { code: number; message: string; data?: unknown }; method?: string; params?: unknown };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.method === 'event' && msg.params) {
      for (const l of this.listeners) l(msg.params as KernelEvent);
      return;
    }
    if (typeof msg.id !== 'number') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.error) p.reject(new RpcError(msg.error.code, msg.error.message, msg.error.data));
    else p.resolve(msg.result);
  }
}

/** The kernel that served this page (same origin); a dev server names another in VITE_KERNEL_URL. */
export function kernelUrl(): string {
  const configured = import.meta.env.VITE_KERNEL_URL as string | undefined;
  if (configured) return configured;
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
}

/** What a role may do beyond reading and invoking (docs/protocol.md, "Roles and ownership"). */
export function canManage(p: Principal): boolean {
  return p.role === 'operator' || p.role === 'agent';
}
