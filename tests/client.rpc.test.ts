// The client library against a scripted WebSocket server: results, typed errors, progress routing,
// subscriptions, authentication failures, unreachable URLs, drops and reconnects.
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { ConnectionError, RpcError, SubstrateClient, connect, normalizeUrl } from '../kernel/client.ts';
import type { KernelEvent, ProgressEvent } from '../kernel/client.ts';

interface Req {
  jsonrpc: string;
  id?: number;
  method: string;
  params?: Record<string, unknown>;
}
type Handler = (req: Req, ws: WebSocket) => void;

interface Fake {
  url: string;
  received: Req[];
  headers: Array<string | undefined>;
  sockets: WebSocket[];
  close(): Promise<void>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function fakeServer(handler: Handler, opts: { status?: number; port?: number } = {}): Promise<Fake> {
  const server = http.createServer();
  const wss = new WebSocketServer({ noServer: true });
  const fake: Fake = { url: '', received: [], headers: [], sockets: [], close: async () => {} };
  server.on('upgrade', (req, socket, head) => {
    fake.headers.push(req.headers.authorization);
    if (opts.status) {
      const body = JSON.stringify({ error: { message: 'bad token' } });
      socket.end(`HTTP/1.1 ${opts.status} Unauthorized\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      fake.sockets.push(ws);
      ws.on('message', (data) => {
        const req = JSON.parse(data.toString()) as Req;
        fake.received.push(req);
        handler(req, ws);
      });
    });
  });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', () => r()));
  fake.url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  fake.close = async () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  cleanups.push(() => fake.close());
  return fake;
}

function reply(ws: WebSocket, id: number | undefined, result: unknown): void {
  ws.send(JSON.stringify({ jsonrpc: '2.0', id, result }));
}

async function client(url: string, opts?: Parameters<typeof connect>[1]): Promise<SubstrateClient> {
  const c = await SubstrateClient.connect(url, opts);
  cleanups.push(() => c.close());
  return c;
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() - start > ms) reject(new Error('condition not met in time'));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

describe('SubstrateClient', () => {
  it('sends the bearer token and JSON-RPC requests, and resolves results', async () => {
    const fake = await fakeServer((req, ws) => reply(ws, req.id, { version: '0.1.0', generation: 3, uptimeMs: 1, capabilities: 2 }));
    const c = await client(fake.url, { token: 'sekret' });
    const info = await c.call('kernel/info');
    expect(info.generation).toBe(3);
    expect(fake.headers[0]).toBe('Bearer sekret');
    expect(fake.received[0]).toMatchObject({ jsonrpc: '2.0', method: 'kernel/info' });
    expect(typeof fake.received[0].id).toBe('number');
    const list = await c.call('capabilities/list', { prefix: 'text.' });
    expect(list).toMatchObject({ version: '0.1.0' });
    expect(fake.received[1].params).toEqual({ prefix: 'text.' });
  });

  it('answers concurrent calls by id, whatever the order of replies', async () => {
    const held: Req[] = [];
    const fake = await fakeServer((req, ws) => {
      held.push(req);
      if (held.length === 3) for (const r of held.reverse()) reply(ws, r.id, { name: r.params!.name });
    });
    const c = await client(fake.url);
    const [a, b, d] = await Promise.all(
      ['a', 'b', 'd'].map((name) => c.call('capabilities/remove', { name })),
    );
    expect([a.name, b.name, d.name]).toEqual(['a', 'b', 'd']);
  });

  it('turns kernel errors into RpcError with the contract type', async () => {
    const fake = await fakeServer((req, ws) => {
      const error =
        req.method === 'capabilities/describe'
          ? { code: -32000, message: 'no capability x', data: { type: 'NOT_FOUND', name: 'x' } }
          : { code: -32602, message: 'invalid params', data: { path: ['name'] } };
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: req.id, error }));
    });
    const c = await client(fake.url);
    const e1 = await c.call('capabilities/describe', { name: 'x' }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(RpcError);
    expect(e1).toMatchObject({ code: -32000, type: 'NOT_FOUND', message: 'no capability x', data: { name: 'x' } });
    const e2 = await c.call('graph/impact', { name: '' }).catch((e: unknown) => e);
    expect(e2).toMatchObject({ code: -32602, type: undefined, data: { path: ['name'] } });
  });

  it('asks for progress and routes progress notifications to the call that asked', async () => {
    const fake = await fakeServer((req, ws) => {
      if (req.method === 'capabilities/register') {
        for (let i = 1; i <= 3; i++) {
          const p: ProgressEvent = { requestId: req.id!, phase: 'gates', capability: 'a', version: '1.0.0', test: `t${i}`, done: i, total: 3 };
          ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'progress', params: p }));
        }
        // Progress of some other request must not reach this call.
        ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'progress', params: { requestId: 999, phase: 'gates', done: 0, total: 1 } }));
      }
      reply(ws, req.id, { name: 'a', version: '1.0.0', hash: 'sha256:x', activated: true, generation: 1, gates: [] });
    });
    const c = await client(fake.url);
    const seen: ProgressEvent[] = [];
    const res = await c.call('capabilities/register', { source: 'x' }, { onProgress: (p) => seen.push(p) });
    expect(res.name).toBe('a');
    expect(fake.received[0].params).toEqual({ source: 'x', progress: true });
    expect(seen.map((p) => p.test)).toEqual(['t1', 't2', 't3']);
    await c.call('capabilities/register', { source: 'y' });
    expect(fake.received[1].params).toEqual({ source: 'y' });
  });

  it('delivers events to subscribers, filtered by their types', async () => {
    const fake = await fakeServer((req, ws) => {
      reply(ws, req.id, { subscribed: ['capability.registered', 'log'] });
      const ev = (e: KernelEvent): void => ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'event', params: e }));
      ev({ type: 'capability.registered', generation: 1, name: 'a', version: '1.0.0', previous: null, principal: 'p', at: 'now' });
      ev({ type: 'log', generation: 1, invocationId: 'i', name: 'a', version: '1.0.0', level: 'info', message: 'hi', at: 'now' });
    });
    const c = await client(fake.url);
    const logs: KernelEvent[] = [];
    const res = await c.subscribe({ types: ['log'] }, (e) => logs.push(e));
    expect(res.subscribed).toEqual(['log']);
    expect(fake.received[0]).toMatchObject({ method: 'events/subscribe', params: { types: ['log'] } });
    await until(() => logs.length >= 1);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ type: 'log', message: 'hi' });
  });

  it('reports a 401 on the upgrade as RpcError UNAUTHORIZED', async () => {
    const fake = await fakeServer(() => {}, { status: 401 });
    const e = await SubstrateClient.connect(fake.url, { token: 'nope' }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(RpcError);
    expect(e).toMatchObject({ type: 'UNAUTHORIZED', code: -32000, message: 'bad token' });
  });

  it('names the URL when the kernel is unreachable', async () => {
    const port = await freePort();
    const url = `ws://127.0.0.1:${port}/`;
    const e = await connect(url).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ConnectionError);
    expect((e as Error).message).toBe(`could not connect to ${url}: ECONNREFUSED`);
    expect(e).toMatchObject({ url, code: 'ECONNREFUSED' });
  });

  it('normalizes URLs without a scheme or with http', () => {
    expect(normalizeUrl('127.0.0.1:7070')).toBe('ws://127.0.0.1:7070/');
    expect(normalizeUrl('http://h:1')).toBe('ws://h:1/');
    expect(normalizeUrl('https://h')).toBe('wss://h/');
  });

  it('rejects calls in flight when the connection drops, and closes without reconnect', async () => {
    const fake = await fakeServer((req, ws) => {
      if (req.method === 'capabilities/invoke') ws.terminate();
    });
    const c = await client(fake.url);
    let closed = false;
    c.on('close', () => (closed = true));
    const e = await c.call('capabilities/invoke', { name: 'a', input: {} }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ConnectionError);
    expect((e as Error).message).toMatch(/dropped/);
    await until(() => closed);
    await expect(c.call('kernel/info')).rejects.toBeInstanceOf(ConnectionError);
  });

  it('reconnects with backoff, re-subscribes, and never resends a call in flight', async () => {
    let connections = 0;
    const fake = await fakeServer((req, ws) => {
      if (req.method === 'events/subscribe') {
        reply(ws, req.id, { subscribed: ['capability.registered'] });
        if (connections === 2) {
          const ev: KernelEvent = { type: 'capability.registered', generation: 7, name: 'b', version: '1.0.0', previous: null, principal: 'p', at: 'now' };
          ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'event', params: ev }));
        }
      } else if (req.method === 'capabilities/invoke') {
        ws.terminate();
      } else reply(ws, req.id, { ok: true });
    });
    const c = await client(fake.url, { reconnect: { minMs: 20, maxMs: 100 } });
    connections = 1;
    const events: KernelEvent[] = [];
    await c.subscribe({ types: ['capability.registered'] }, (e) => events.push(e));
    let reconnected = 0;
    c.on('reconnect', () => {
      reconnected++;
    });
    connections = 2;
    await expect(c.call('capabilities/invoke', { name: 'a', input: {} })).rejects.toBeInstanceOf(ConnectionError);
    await until(() => reconnected === 1 && events.length === 1);
    expect(events[0]).toMatchObject({ generation: 7, name: 'b' });
    expect(fake.received.filter((r) => r.method === 'events/subscribe')).toHaveLength(2);
    expect(fake.received.filter((r) => r.method === 'capabilities/invoke')).toHaveLength(1);
    expect(await c.call('kernel/info')).toEqual({ ok: true });
  });

  it('keeps trying while the kernel is away and carries on when it is back', async () => {
    const first = await fakeServer((req, ws) => reply(ws, req.id, { from: 'first' }));
    const port = Number(new URL(first.url).port);
    const c = await client(first.url, { reconnect: { minMs: 20, maxMs: 80 } });
    let disconnects = 0;
    c.on('disconnect', () => disconnects++);
    await first.close();
    await until(() => disconnects === 1);
    // A call made while reconnecting waits for the new connection instead of failing.
    const waiting = c.call('kernel/info');
    await new Promise((r) => setTimeout(r, 150));
    await fakeServer((req, ws) => reply(ws, req.id, { from: 'second' }), { port });
    expect(await waiting).toEqual({ from: 'second' });
  });

  it('gives up after the configured retries and emits close', async () => {
    const fake = await fakeServer(() => {});
    const c = await client(fake.url, { reconnect: { minMs: 10, maxMs: 20, retries: 2 } });
    let closed = false;
    c.on('close', () => (closed = true));
    await fake.close();
    await until(() => closed);
    await expect(c.call('kernel/info')).rejects.toThrow(/closed/);
  });

  it('times out a call that gets no answer', async () => {
    const fake = await fakeServer(() => {});
    const c = await client(fake.url);
    await expect(c.call('kernel/info', undefined, { timeoutMs: 50 })).rejects.toThrow(/within 50 ms/);
  });

  it('rejects waiting calls on close', async () => {
    const fake = await fakeServer(() => {});
    const c = await client(fake.url);
    const p = c.call('kernel/info').catch((e: unknown) => e);
    await c.close();
    expect(await p).toBeInstanceOf(ConnectionError);
  });
});
