// Origin and Host validation on the kernel's HTTP endpoints (MCP's /mcp and the WebSocket upgrade
// on /), with real HTTP requests to a real kernel: a web page of another site, or one reaching the
// loopback through DNS rebinding, is refused with 403 before authentication; non-browser clients
// (no Origin) and the kernel's own and configured origins are served. Also `substrate start
// --allow-origin` and SUBSTRATE_ALLOWED_ORIGINS on the real binary.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { OriginPolicy, isLoopbackBind, normalizeOrigin, parseOriginList } from '../kernel/http-origin.ts';
import { startTestKernel, tmpDir, type TestKernel } from './helpers.ts';

const BIN = fileURLToPath(new URL('../cli/substrate.js', import.meta.url));
const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'origin-test', version: '1.0.0' } },
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One real HTTP request to 127.0.0.1:port, with exactly the headers given (Host included). */
function request(port: number, opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'POST', path: opts.path ?? '/mcp', headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      // An accepted initialize answers on an SSE stream that ends with the reply.
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function initialize(port: number, token: string | undefined, extra: Record<string, string> = {}): Promise<Reply> {
  return request(port, {
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...extra,
    },
    body: INITIALIZE,
  });
}

function expectRefused(r: Reply, header: 'origin' | 'host'): void {
  expect(r.status).toBe(403);
  const doc = JSON.parse(r.body) as { jsonrpc: string; id: unknown; error: { code: number; message: string; data: { type: string; header: string } } };
  expect(doc).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000, data: { type: 'FORBIDDEN', header } } });
  expect(doc.error.message.length).toBeGreaterThan(10);
}

/** The status of a WebSocket upgrade to `/`: 101 when it opened. */
function upgrade(port: number, token: string, opts: { origin?: string; host?: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {
      headers: { authorization: `Bearer ${token}`, ...(opts.host ? { host: opts.host } : {}) },
      ...(opts.origin ? { origin: opts.origin } : {}),
    });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (e) => reject(e));
  });
}

describe('Origin and Host on a loopback kernel', () => {
  let k: TestKernel;
  let port: number;
  let token: string;

  beforeAll(async () => {
    k = await startTestKernel({ host: '127.0.0.1', allowedOrigins: ['http://localhost:5173', 'HTTPS://Console.Example.com:443/'] });
    port = k.port;
    token = k.auth.create('agent', 'origin-agent').token;
  });
  afterAll(async () => {
    await k?.stop();
  });

  it('serves a request without Origin (a non-browser MCP client)', async () => {
    const r = await initialize(port, token);
    expect(r.status).toBe(200);
    expect(r.body).toContain('"protocolVersion"');
  });

  it('refuses a foreign Origin with 403 and a JSON-RPC error, before authentication', async () => {
    expectRefused(await initialize(port, token, { origin: 'http://evil.example.com' }), 'origin');
    // Without a token the answer is the same 403, not a 401 that would confirm a kernel is there.
    expectRefused(await initialize(port, undefined, { origin: 'http://evil.example.com' }), 'origin');
    // Opaque origins (sandboxed frames, file: pages), another port or scheme of the loopback.
    expectRefused(await initialize(port, token, { origin: 'null' }), 'origin');
    expectRefused(await initialize(port, token, { origin: 'http://localhost:5174' }), 'origin');
    expectRefused(await initialize(port, token, { origin: `https://localhost:${port}` }), 'origin');
    // Every method of the endpoint: the GET stream and DELETE too.
    expectRefused(await request(port, { method: 'GET', headers: { authorization: `Bearer ${token}`, origin: 'http://evil.example.com', accept: 'text/event-stream' } }), 'origin');
    expectRefused(await request(port, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, origin: 'http://evil.example.com' } }), 'origin');
    const body = JSON.parse((await initialize(port, token, { origin: 'http://evil.example.com' })).body) as { error: { message: string } };
    expect(body.error.message).toContain('--allow-origin http://evil.example.com');
  });

  it("serves the kernel's own origins and the configured ones", async () => {
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`, 'http://localhost:5173', 'https://console.example.com']) {
      const r = await initialize(port, token, { origin });
      expect(r.status, origin).toBe(200);
    }
    // Allowed origins do not stand in for the token.
    expect((await initialize(port, undefined, { origin: 'http://localhost:5173' })).status).toBe(401);
  });

  it('answers the CORS preflight of an allowed page, and lets it read the answers and the session id', async () => {
    const preflight = (origin: string) =>
      request(port, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, mcp-session-id' },
      });
    const ok = await preflight('http://localhost:5173');
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    expect(ok.headers['access-control-allow-methods']).toBe('GET, POST, DELETE');
    expect(String(ok.headers['access-control-allow-headers']).split(', ')).toEqual(expect.arrayContaining(['authorization', 'content-type', 'mcp-session-id', 'mcp-protocol-version']));
    expectRefused(await preflight('http://evil.example.com'), 'origin');

    const init = await initialize(port, token, { origin: 'http://localhost:5173' });
    expect(init.status).toBe(200);
    expect(init.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    expect(init.headers.vary).toContain('Origin');
    expect(String(init.headers['access-control-expose-headers'])).toContain('mcp-session-id');
    expect(init.headers['mcp-session-id']).toBeTruthy();
    // A page with a bad token can read why.
    const denied = await initialize(port, 'sbt_wrong', { origin: 'http://localhost:5173' });
    expect(denied.status).toBe(401);
    expect(denied.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    // Clients that are not browsers get no CORS headers at all.
    const plain = await initialize(port, token);
    expect(plain.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('refuses a Host that does not name the loopback (DNS rebinding) with 403', async () => {
    expectRefused(await initialize(port, token, { host: `evil.example.com:${port}` }), 'host');
    expectRefused(await initialize(port, token, { host: 'evil.example.com' }), 'host');
    expectRefused(await initialize(port, token, { host: `evil.example.com@127.0.0.1:${port}` }), 'host');
    expectRefused(await initialize(port, token, { host: `127.0.0.1.evil.example.com:${port}` }), 'host');
    // The rebinding page's own origin does not help it: the Host check comes first.
    expectRefused(await initialize(port, token, { host: `evil.example.com:${port}`, origin: `http://evil.example.com:${port}` }), 'host');
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'LOCALHOST', 'localhost:8443']) {
      // Any port: a tunnel (ssh -L 8443:localhost:PORT) keeps the loopback name but not the port.
      const r = await initialize(port, token, { host });
      expect(r.status, host).toBe(200);
    }
  });

  it('refuses a request without Host (HTTP/1.0)', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write(`POST /mcp HTTP/1.0\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(INITIALIZE)}\r\n\r\n${INITIALIZE}`);
      });
      let data = '';
      s.on('data', (d) => (data += d));
      s.on('end', () => resolve(data));
      s.on('error', reject);
    });
    expect(raw.startsWith('HTTP/1.1 403')).toBe(true);
    expect(raw).toContain('"header":"host"');
  });

  it('applies the same rules to the WebSocket upgrade on /', async () => {
    expect(await upgrade(port, token, {})).toBe(101);
    expect(await upgrade(port, token, { origin: `http://localhost:${port}` })).toBe(101);
    expect(await upgrade(port, token, { origin: 'http://localhost:5173' })).toBe(101);
    expect(await upgrade(port, token, { origin: 'http://evil.example.com' })).toBe(403);
    expect(await upgrade(port, token, { host: `evil.example.com:${port}` })).toBe(403);
    // The kernel serves on after every refusal.
    const c = await k.client(token);
    expect(await c.call('kernel/info', {})).toMatchObject({ capabilities: expect.any(Number) });
  });
});

describe('OriginPolicy', () => {
  it('checks Host only on a loopback bind, Origin on every bind', () => {
    const lan = new OriginPolicy({ bindHost: '192.168.1.5', port: 7070 });
    expect(lan.hostNames).toBeUndefined();
    expect(lan.check({ host: 'substrate.lan:7070' })).toBeNull();
    expect(lan.check({ host: 'substrate.lan:7070', origin: 'http://192.168.1.5:7070' })).toBeNull();
    expect(lan.check({ host: 'substrate.lan:7070', origin: 'http://substrate.lan:7070' })?.data).toMatchObject({ type: 'FORBIDDEN', header: 'origin' });

    const any = new OriginPolicy({ bindHost: '0.0.0.0', port: 7070 });
    expect(any.hostNames).toBeUndefined();
    expect(any.origins).toContain('http://localhost:7070');
    expect(any.origins).toContain('http://127.0.0.1:7070');

    const v6 = new OriginPolicy({ bindHost: '::1', port: 7070 });
    expect(v6.hostNames).toEqual(['localhost', '127.0.0.1', '[::1]']);
    expect(v6.check({ host: '[::1]:7070', origin: 'http://[::1]:7070' })).toBeNull();
    expect(v6.check({ host: 'evil.example.com' })?.data.header).toBe('host');

    const other = new OriginPolicy({ bindHost: '127.0.0.2', port: 7070 });
    expect(other.check({ host: '127.0.0.2:7070', origin: 'http://127.0.0.2:7070' })).toBeNull();
  });

  it('normalizes configured origins as browsers write them and refuses what is not an origin', () => {
    expect(normalizeOrigin('HTTP://LocalHost:5173/')).toBe('http://localhost:5173');
    expect(normalizeOrigin('https://console.example.com:443')).toBe('https://console.example.com');
    expect(normalizeOrigin('http://[::1]:8080')).toBe('http://[::1]:8080');
    for (const bad of ['*', 'null', 'localhost:5173', 'ftp://example.com', 'http://example.com/app', 'http://example.com/?x', 'http://u:p@example.com', 'http://example.com#f']) {
      expect(() => normalizeOrigin(bad), bad).toThrow(/invalid origin/);
    }
    expect(parseOriginList(' http://a.example, https://b.example:8443  http://c.example:80 ')).toEqual(['http://a.example', 'https://b.example:8443', 'http://c.example']);
    expect(parseOriginList(undefined)).toEqual([]);
    expect(() => parseOriginList('http://a.example,/relative')).toThrow(/invalid origin/);
  });

  it('knows the loopback binds', () => {
    for (const h of ['127.0.0.1', 'localhost', 'LOCALHOST', '::1', '[::1]', '127.1.2.3', '0:0:0:0:0:0:0:1']) expect(isLoopbackBind(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.5', 'example.com', '128.0.0.1']) expect(isLoopbackBind(h), h).toBe(false);
  });
});

describe('substrate start --allow-origin', () => {
  const children = new Set<ChildProcess>();
  let work: string;
  beforeAll(() => {
    work = tmpDir('substrate-origin-cli-');
  });
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
  });

  function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
    const base: NodeJS.ProcessEnv = { ...process.env, ...env };
    for (const key of ['SUBSTRATE_URL', 'SUBSTRATE_TOKEN', 'SUBSTRATE_DATA', 'SUBSTRATE_ALLOWED_ORIGINS', 'FORCE_COLOR']) if (!(key in env)) delete base[key];
    const child = spawn(process.execPath, ['--no-node-snapshot', BIN, ...args], { cwd: work, env: base, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => (children.delete(child), r(code))));
    return { child, out: () => out, err: () => err, exited };
  }

  it('allows the origins of --allow-origin and SUBSTRATE_ALLOWED_ORIGINS, and no others', async () => {
    const dir = path.join(work, 'k');
    const k = start(['start', '--port', '0', '--data', dir, '--workers', '1', '--allow-origin', 'http://localhost:5173', '--allow-origin', 'http://tools.example:8080'], {
      SUBSTRATE_ALLOWED_ORIGINS: 'https://console.example.com, https://other.example.com',
    });
    const deadline = Date.now() + 60_000;
    while (!/listening on ws:\/\/\S+:(\d+)\//.test(k.out()) && Date.now() < deadline && k.child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    const m = /listening on ws:\/\/\S+:(\d+)\//.exec(k.out());
    expect(m, `${k.out()}\n${k.err()}`).not.toBeNull();
    const port = Number(m![1]);
    const token = fs.readFileSync(path.join(dir, 'operator.token'), 'utf8').trim();
    for (const origin of ['http://localhost:5173', 'http://tools.example:8080', 'https://console.example.com', 'https://other.example.com', `http://127.0.0.1:${port}`]) {
      expect((await initialize(port, token, { origin })).status, origin).toBe(200);
    }
    expectRefused(await initialize(port, token, { origin: 'https://evil.example.com' }), 'origin');
    k.child.kill('SIGTERM');
    expect(await k.exited).toBe(0);
  });

  it('refuses a malformed origin as bad usage (exit 2), from the flag or the environment', async () => {
    const flag = start(['start', '--port', '0', '--data', path.join(work, 'bad1'), '--allow-origin', 'localhost:5173']);
    expect(await flag.exited).toBe(2);
    expect(flag.err()).toContain('invalid origin "localhost:5173"');
    const env = start(['start', '--port', '0', '--data', path.join(work, 'bad2')], { SUBSTRATE_ALLOWED_ORIGINS: 'http://ok.example,http://x.example/path' });
    expect(await env.exited).toBe(2);
    expect(env.err()).toContain('SUBSTRATE_ALLOWED_ORIGINS');
    expect(env.err()).toContain('http://x.example/path');
  });
});
