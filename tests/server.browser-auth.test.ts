// Browser authentication of the WebSocket upgrade: the token offered as the subprotocol
// `substrate.token.<token>` beside `substrate.v1` (browsers cannot set Authorization), answered
// with `substrate.v1` only, and the Origin check that keeps other sites' pages out. With a real
// kernel and the `ws` client sending what a browser sends.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type http from 'node:http';
import WebSocket from 'ws';
import { startTestKernel, type TestKernel } from './helpers.ts';

interface Outcome {
  status: number;
  /** The Sec-WebSocket-Protocol the server answered with (101 only). */
  protocolHeader?: string;
  body?: string;
  ws?: WebSocket;
}

/** Opens a WebSocket as a browser would: subprotocols and an Origin, no Authorization. */
function open(url: string, protocols: string[], headers: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers });
    let protocolHeader: string | undefined;
    ws.on('upgrade', (res: http.IncomingMessage) => {
      protocolHeader = String(res.headers['sec-websocket-protocol'] ?? '');
    });
    ws.on('open', () => resolve({ status: 101, protocolHeader, ws }));
    ws.on('unexpected-response', (_req, res: http.IncomingMessage) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', (e) => reject(e));
  });
}

function call(ws: WebSocket, method: string, params?: object): Promise<{ result?: Record<string, unknown>; error?: { data?: { type?: string } } }> {
  return new Promise((resolve) => {
    const id = Math.floor(Math.random() * 1e9);
    const onMessage = (data: WebSocket.RawData) => {
      const msg = JSON.parse(data.toString());
      if (msg.id !== id) return;
      ws.off('message', onMessage);
      resolve(msg);
    };
    ws.on('message', onMessage);
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) }));
  });
}

describe('browser authentication (Sec-WebSocket-Protocol)', () => {
  let k: TestKernel;
  let origin: string;
  let clientToken: string;

  beforeAll(async () => {
    k = await startTestKernel();
    origin = `http://127.0.0.1:${k.port}`;
    clientToken = k.auth.create('client', 'browser-client').token;
  });
  afterAll(async () => {
    await k.stop();
  });

  it('accepts the right token from the kernel’s own origin, answers substrate.v1 only, and tells the caller its role', async () => {
    const o = await open(k.url, ['substrate.v1', `substrate.token.${k.operatorToken}`], { origin });
    expect(o.status).toBe(101);
    expect(o.protocolHeader).toBe('substrate.v1');
    expect(o.protocolHeader).not.toContain(k.operatorToken);
    expect(o.ws!.protocol).toBe('substrate.v1');
    const info = await call(o.ws!, 'kernel/info');
    expect(info.result?.principal).toMatchObject({ name: 'operator', role: 'operator' });
    o.ws!.close();

    const c = await open(k.url, ['substrate.v1', `substrate.token.${clientToken}`], { origin: `http://localhost:${k.port}` });
    expect(c.status).toBe(101);
    const cinfo = await call(c.ws!, 'kernel/info');
    expect(cinfo.result?.principal).toMatchObject({ name: 'browser-client', role: 'client' });
    // The role the console reads is the one the kernel enforces.
    const refused = await call(c.ws!, 'tokens/list');
    expect(refused.error?.data?.type).toBe('FORBIDDEN');
    c.ws!.close();
  });

  it('refuses a wrong token with 401, without echoing it', async () => {
    const o = await open(k.url, ['substrate.v1', 'substrate.token.sbt_wrong'], { origin });
    expect(o.status).toBe(401);
    expect(JSON.parse(o.body!).error).toMatchObject({ type: 'UNAUTHORIZED', message: 'the subprotocol token is unknown or revoked' });
    expect(o.body).not.toContain('sbt_wrong');
  });

  it('refuses a token offered without substrate.v1 (the server could only echo the token)', async () => {
    const o = await open(k.url, [`substrate.token.${k.operatorToken}`], { origin });
    expect(o.status).toBe(401);
    expect(o.body).not.toContain(k.operatorToken);
  });

  it('refuses a page of another origin with 403 even with the right token', async () => {
    const o = await open(k.url, ['substrate.v1', `substrate.token.${k.operatorToken}`], { origin: 'http://evil.example' });
    expect(o.status).toBe(403);
    expect(JSON.parse(o.body!).error.data).toMatchObject({ type: 'FORBIDDEN', header: 'origin' });
    expect(o.body).not.toContain(k.operatorToken);
  });

  it('refuses a revoked token', async () => {
    const t = k.auth.create('client', 'soon-revoked');
    k.auth.revoke(t.id);
    const o = await open(k.url, ['substrate.v1', `substrate.token.${t.token}`], { origin });
    expect(o.status).toBe(401);
  });

  it('keeps bearer-header authentication as it was, with or without substrate.v1', async () => {
    const plain = await open(k.url, [], { authorization: `Bearer ${k.operatorToken}` });
    expect(plain.status).toBe(101);
    expect(plain.ws!.protocol).toBe('');
    plain.ws!.close();
    const named = await open(k.url, ['substrate.v1'], { authorization: `Bearer ${k.operatorToken}` });
    expect(named.status).toBe(101);
    expect(named.ws!.protocol).toBe('substrate.v1');
    named.ws!.close();
    const none = await open(k.url, ['substrate.v1'], {});
    expect(none.status).toBe(401);
  });
});
