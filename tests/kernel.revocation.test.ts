// Issue 10 item 5: a revoked token loses what it holds open at once, not at its next call: its
// WebSocket connections (and their event subscriptions) are closed with 4001, its MCP sessions and
// their SSE streams end. And logs are their owners': an agent sees the lines of its own
// capabilities only (logs/recent and `log` events), operators see all.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { KernelEvent } from '../kernel/api.ts';
import { SubstrateClient } from '../kernel/client.ts';
import { CLOSE_UNAUTHORIZED } from '../kernel/server.ts';
import { cap, eventually, expectType, startTestKernel, type TestKernel } from './helpers.ts';

let k: TestKernel;
let op: SubstrateClient;
const sockets = new Set<WebSocket>();

beforeAll(async () => {
  k = await startTestKernel();
  op = await k.client();
});
afterAll(async () => {
  for (const s of sockets) s.terminate();
  await k?.stop();
});

/** A raw WebSocket for a token, with its messages and how it closed. */
async function socket(token: string) {
  const ws = new WebSocket(k.url, { headers: { Authorization: `Bearer ${token}` } });
  sockets.add(ws);
  const messages: Array<{ id?: number; result?: unknown; error?: { data?: { type?: string } }; method?: string; params?: KernelEvent }> = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('message', (d) => messages.push(JSON.parse(d.toString())));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let next = 1;
  const call = async (method: string, params?: unknown) => {
    const id = next++;
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    return eventually(() => {
      const m = messages.find((x) => x.id === id);
      if (!m) throw new Error(`no reply to ${method}`);
      return m;
    });
  };
  return { ws, messages, closed, call };
}

describe('revocation reaches what a token holds open', () => {
  it("a revoked token's subscribed connection is closed with 4001 at once, without a call of its own", async () => {
    const t = k.auth.create('agent', 'watcher');
    const s = await socket(t.token);
    expect((await s.call('events/subscribe', { types: ['capability.registered'] })).result).toEqual({ subscribed: ['capability.registered'] });
    // Another token's subscription, which must stay.
    const other = await socket(k.auth.create('agent', 'bystander').token);
    await other.call('events/subscribe', { types: ['capability.registered'] });

    await op.call('tokens/revoke', { id: t.id });
    expect(await s.closed).toEqual({ code: CLOSE_UNAUTHORIZED, reason: 'the token was revoked' });
    expect(k.connections()).toBeGreaterThanOrEqual(1);

    await op.call('capabilities/register', { source: cap({ name: 'rev.after' }) });
    await eventually(() => expect(other.messages.some((m) => m.method === 'event' && m.params?.name === 'rev.after')).toBe(true));
    expect(s.messages.some((m) => m.method === 'event')).toBe(false);
    expect(other.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('a token that revokes itself gets its answer first, then its connection closes with 4001', async () => {
    const t = k.auth.create('operator', 'self-revoker');
    const s = await socket(t.token);
    expect((await s.call('tokens/revoke', { id: t.id })).result).toEqual({ id: t.id, revoked: true });
    expect((await s.closed).code).toBe(CLOSE_UNAUTHORIZED);
    // And it cannot come back.
    const again = new WebSocket(k.url, { headers: { Authorization: `Bearer ${t.token}` } });
    const status = await new Promise<number>((resolve) =>
      again.once('unexpected-response', (req, res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      }),
    );
    expect(status).toBe(401);
  });

  it('the client library reports the revocation as UNAUTHORIZED and does not reconnect', async () => {
    const t = k.auth.create('client', 'reconnecting');
    const c = await SubstrateClient.connect(k.url, { token: t.token, reconnect: { minMs: 10, retries: 1000 } });
    let reconnects = 0;
    c.on('disconnect', () => reconnects++);
    const closed = new Promise<number>((resolve) => c.on('close', (info) => resolve(info.code)));
    await c.call('kernel/info');
    await op.call('tokens/revoke', { id: t.id });
    expect(await closed).toBe(CLOSE_UNAUTHORIZED);
    await expectType(c.call('kernel/info'), 'UNAUTHORIZED');
    expect(reconnects).toBe(0);
    await c.close();
  });

  it("a revoked token's MCP session ends with its SSE stream, and its next request is refused", async () => {
    const t = k.auth.create('agent', 'mcp-user');
    const url = `http://${k.host}:${k.port}/mcp`;
    const headers = (session?: string): Record<string, string> => ({
      Authorization: `Bearer ${t.token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } : {}),
    });
    const init = await fetch(url, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'rev', version: '1' } } }),
    });
    expect(init.status).toBe(200);
    const session = init.headers.get('mcp-session-id')!;
    await init.body?.cancel();
    const note = await fetch(url, { method: 'POST', headers: headers(session), body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    expect(note.status).toBe(202);
    await note.body?.cancel();
    // The standalone SSE stream of the session, held open by the server.
    const stream = await fetch(url, { method: 'GET', headers: { ...headers(session), accept: 'text/event-stream' } });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    const ended = (async () => {
      for (;;) if ((await reader.read()).done) return 'ended';
    })();

    await op.call('tokens/revoke', { id: t.id });
    expect(await ended).toBe('ended');
    const next = await fetch(url, { method: 'POST', headers: headers(session), body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
    expect(next.status).toBe(401);
    await next.body?.cancel();
  });
});

describe('logs are their owners\'', () => {
  it('agent A sees the lines of its capabilities, agent B its own, operators all: logs/recent and log events alike', async () => {
    const aTok = k.auth.create('agent', 'log-a');
    const bTok = k.auth.create('agent', 'log-b');
    const a = await k.client(aTok.token);
    const b = await k.client(bTok.token);
    await a.call('capabilities/register', { source: cap({ name: 'logs.a', body: 'ctx.log("line of a " + input); return input;' }) });
    await b.call('capabilities/register', { source: cap({ name: 'logs.b', body: 'ctx.log("line of b " + input); return input;' }) });

    const seen = { a: [] as string[], b: [] as string[], op: [] as string[] };
    const collect = (into: string[]) => (e: KernelEvent) => {
      if (e.type === 'log') into.push(`${e.name}: ${e.message}`);
    };
    await a.subscribe({ types: ['log'] }, collect(seen.a));
    await b.subscribe({ types: ['log'] }, collect(seen.b));
    await op.subscribe({ types: ['log'] }, collect(seen.op));

    await op.call('capabilities/invoke', { name: 'logs.a', input: 1 });
    await op.call('capabilities/invoke', { name: 'logs.b', input: 1 });
    // A last line of each, after which each connection has had every event it will get of the two above.
    await op.call('capabilities/invoke', { name: 'logs.a', input: 2 });
    await op.call('capabilities/invoke', { name: 'logs.b', input: 2 });
    await eventually(() => expect(seen.op).toEqual(expect.arrayContaining(['logs.a: line of a 2', 'logs.b: line of b 2'])));
    await eventually(() => expect(seen.a).toContain('logs.a: line of a 2'));
    await eventually(() => expect(seen.b).toContain('logs.b: line of b 2'));
    expect(seen.a.filter((l) => l.startsWith('logs.'))).toEqual(['logs.a: line of a 1', 'logs.a: line of a 2']);
    expect(seen.b.filter((l) => l.startsWith('logs.'))).toEqual(['logs.b: line of b 1', 'logs.b: line of b 2']);
    expect(seen.a.every((l) => l.startsWith('logs.a:'))).toBe(true);
    expect(seen.b.every((l) => l.startsWith('logs.b:'))).toBe(true);

    const names = async (c: SubstrateClient) => new Set((await c.call('logs/recent', { limit: 1000 })).items.map((i) => i.name));
    expect(await names(a)).toEqual(new Set(['logs.a']));
    expect(await names(b)).toEqual(new Set(['logs.b']));
    expect([...(await names(op))]).toEqual(expect.arrayContaining(['logs.a', 'logs.b']));

    // Asking by name for another's capability is refused, not answered with nothing.
    await expectType(a.call('logs/recent', { name: 'logs.b' }), 'FORBIDDEN');
    await expectType(a.call('events/subscribe', { types: ['log'], name: 'logs.b' }), 'FORBIDDEN');
    expect((await a.call('logs/recent', { name: 'logs.a' })).items.map((i) => i.message)).toEqual(['line of a 1', 'line of a 2']);
  });
});
