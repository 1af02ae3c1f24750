// Issue 13's acceptance, end to end: a real kernel, real workers, and real HTTP servers on
// 127.0.0.1 started here. Authority flows operator grant -> owner -> manifest -> request; the
// kernel makes every request, injects secrets the sandbox never sees, journals every request so
// re-runs do not repeat them, and gates run on fixtures without reaching the network.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubstrateClient } from '../kernel/client.ts';
import type { TokenCreateResult } from '../kernel/api.ts';
import type { Json } from '../capabilities/types.ts';
import { cap, expectType, startTestKernel, type TestKernel } from './helpers.ts';

const SECRET = 's3cr3t-VALUE-9f2c';

interface Hit {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<{ server: Server; port: number; hits: Hit[] }> {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

const json = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
};

let api: Awaited<ReturnType<typeof listen>>;
let other: Awaited<ReturnType<typeof listen>>;
let closedPort: number;
let k: TestKernel;
let op: SubstrateClient;
let alice: SubstrateClient;
let aliceTok: TokenCreateResult;
let httpGrant: string;

/** A capability of alice's doing one fetch of `url` (an expression over input) with `init`. */
const fetcher = (name: string, hosts: unknown[], expr: string, opts: { init?: string; version?: string; tests?: object[]; limits?: object; effectsLimits?: object } = {}) =>
  cap({
    name,
    version: opts.version ?? '1.0.0',
    effects: { http: hosts, ...(opts.effectsLimits ? { limits: opts.effectsLimits } : {}) },
    ...(opts.tests ? { tests: opts.tests } : {}),
    ...(opts.limits ? { limits: opts.limits } : {}),
    body: `
      try {
        const r = await fetch(${expr}, ${opts.init ?? 'undefined'});
        const text = await r.text();
        return { status: r.status, ok: r.ok, redirected: r.redirected, url: r.url, text, headers: Object.fromEntries(r.headers) };
      } catch (e) {
        return { error: e.type ?? e.name, message: e.message, data: e.data ?? null };
      }`,
  });

beforeAll(async () => {
  api = await listen((req, res, body) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/echo') return json(res, 200, { method: req.method, body, auth: req.headers.authorization ?? null, ua: req.headers['user-agent'] ?? null });
    if (u.pathname === '/secret-echo') return json(res, 200, { got: req.headers.authorization ?? null }, { 'x-echo': req.headers.authorization ?? '' });
    if (u.pathname === '/redirect') {
      res.writeHead(302, { location: u.searchParams.get('to') ?? '/echo' });
      return res.end();
    }
    if (u.pathname === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(1024 * 1024, 97);
      for (let i = 0; i < 9; i++) res.write(chunk);
      return res.end();
    }
    if (u.pathname === '/slow') return; // never answers: the deadline ends it
    if (u.pathname === '/missing') return json(res, 404, { error: 'no such thing' });
    return json(res, 200, { path: u.pathname, query: u.search });
  });
  other = await listen((_req, res) => json(res, 200, { other: true }));
  const probe = await listen(() => undefined);
  closedPort = probe.port;
  await new Promise<void>((resolve) => probe.server.close(() => resolve()));

  k = await startTestKernel({
    // Names under svc.test resolve to loopback, as an internal name would; the address check
    // applies to what the resolver returns.
    egressLookup: async (host) => {
      if (host.endsWith('.svc.test')) return [{ address: '127.0.0.1', family: 4 }];
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    },
  });
  op = await k.client();
  aliceTok = k.auth.create('agent', 'alice');
  alice = await k.client(aliceTok.token);
  httpGrant = (await op.call('grants/add', { principal: aliceTok.id, kind: 'http', target: `127.0.0.1:${api.port}`, methods: ['GET', 'POST'] })).id;
});

afterAll(async () => {
  await k?.stop();
  for (const s of [api, other]) {
    s?.server.closeAllConnections();
    s?.server.close();
  }
});

const invoke = async (c: SubstrateClient, name: string, input: Json = {}) => (await c.call('capabilities/invoke', { name, input })).output as Record<string, unknown>;

describe('grants, manifests and requests', () => {
  it('a granted destination: the kernel makes the request, the capability gets the Response', async () => {
    await alice.call('capabilities/register', { source: fetcher('alice.get', [{ host: `127.0.0.1:${api.port}`, methods: ['GET', 'POST'] }], `input.url`, { init: 'input.init' }) });
    const out = await invoke(alice, 'alice.get', { url: `http://127.0.0.1:${api.port}/echo` });
    expect(out).toMatchObject({ status: 200, ok: true, redirected: false, url: `http://127.0.0.1:${api.port}/echo` });
    expect(JSON.parse(out.text as string)).toMatchObject({ method: 'GET', auth: null });
    // A POST with a JSON text body arrives as sent.
    const posted = await invoke(alice, 'alice.get', { url: `http://127.0.0.1:${api.port}/echo`, init: { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } } });
    expect(JSON.parse(posted.text as string)).toMatchObject({ method: 'POST', body: '{"a":1}' });
    // An HTTP error status is a normal Response.
    expect(await invoke(alice, 'alice.get', { url: `http://127.0.0.1:${api.port}/missing` })).toMatchObject({ status: 404, ok: false });
  });

  it('a manifest entry beyond the owner\'s grants is refused at registration, naming the grant', async () => {
    const e = await expectType(alice.call('capabilities/register', { source: fetcher('alice.other', [`127.0.0.1:${other.port}`], `'http://127.0.0.1:${other.port}/'`) }), 'EFFECT_FORBIDDEN');
    expect(e.message).toContain(`127.0.0.1:${other.port}`);
    expect(e.message).toContain(`substrate grant add ${aliceTok.id} http`);
    expect(e.data).toMatchObject({ missing: { kind: 'http', target: `127.0.0.1:${other.port}` } });
    // Methods: the grant allows GET and POST only.
    await expectType(alice.call('capabilities/register', { source: fetcher('alice.del', [{ host: `127.0.0.1:${api.port}`, methods: ['DELETE'] }], `'x'`) }), 'EFFECT_FORBIDDEN');
    await expectType(alice.call('capabilities/describe', { name: 'alice.other' }), 'NOT_FOUND');
  });

  it('a request beyond the manifest is refused: another port, another host, a method not declared', async () => {
    const other1 = await invoke(alice, 'alice.get', { url: `http://127.0.0.1:${other.port}/` });
    expect(other1).toMatchObject({ error: 'EFFECT_FORBIDDEN' });
    expect(other1.message).toContain(`127.0.0.1:${other.port}`);
    expect(await invoke(alice, 'alice.get', { url: `http://localhost:${api.port}/` })).toMatchObject({ error: 'EFFECT_FORBIDDEN' });
    expect(await invoke(alice, 'alice.get', { url: `http://127.0.0.1:${api.port}/echo`, init: { method: 'PUT' } })).toMatchObject({ error: 'EFFECT_FORBIDDEN' });
    expect(other.hits).toHaveLength(0);
  });

  it('a redirect to a refused destination is refused at that hop; an allowed one is followed', async () => {
    const to = `http://127.0.0.1:${other.port}/stolen`;
    const out = await invoke(alice, 'alice.get', { url: `http://127.0.0.1:${api.port}/redirect?to=${encodeURIComponent(to)}` });
    expect(out).toMatchObject({ error: 'EFFECT_FORBIDDEN' });
    expect(out.message).toContain(to);
    expect(other.hits).toHaveLength(0);
    const ok = await invoke(alice, 'alice.get', { url: `http://127.0.0.1:${api.port}/redirect?to=/echo` });
    expect(ok).toMatchObject({ status: 200, redirected: true, url: `http://127.0.0.1:${api.port}/echo` });
  });

  it('a name that matches only through a wildcard grant and resolves to loopback is refused; the literal name is allowed', async () => {
    await op.call('grants/add', { principal: aliceTok.id, kind: 'http', target: '*.svc.test' });
    await alice.call('capabilities/register', { source: fetcher('alice.wild', ['*.svc.test'], 'input.url') });
    const out = await invoke(alice, 'alice.wild', { url: `http://api.svc.test:${api.port}/echo` });
    expect(out).toMatchObject({ error: 'EFFECT_FORBIDDEN' });
    expect(out.message).toMatch(/loopback/);
    await op.call('grants/add', { principal: aliceTok.id, kind: 'http', target: 'api.svc.test' });
    await alice.call('capabilities/register', { source: fetcher('alice.literal', ['api.svc.test'], 'input.url') });
    expect(await invoke(alice, 'alice.literal', { url: `http://api.svc.test:${api.port}/echo` })).toMatchObject({ status: 200 });
  });

  it('revoking a grant takes effect on the next call', async () => {
    const g = await op.call('grants/add', { principal: aliceTok.id, kind: 'http', target: `127.0.0.1:${other.port}` });
    await alice.call('capabilities/register', { source: fetcher('alice.revocable', [`127.0.0.1:${other.port}`], `'http://127.0.0.1:${other.port}/'`) });
    expect(await invoke(alice, 'alice.revocable')).toMatchObject({ status: 200 });
    await op.call('grants/revoke', { id: g.id });
    const out = await invoke(alice, 'alice.revocable');
    expect(out).toMatchObject({ error: 'EFFECT_FORBIDDEN' });
    expect(other.hits).toHaveLength(1);
  });
});

describe('failures, each its typed error', () => {
  it('connection refused, timeout, oversize response, invalid URL, non-http scheme', async () => {
    await op.call('grants/add', { principal: aliceTok.id, kind: 'http', target: `127.0.0.1:${closedPort}` });
    await alice.call('capabilities/register', {
      source: fetcher('alice.fails', [{ host: `127.0.0.1:${api.port}`, methods: ['GET'] }, `127.0.0.1:${closedPort}`], 'input.url', { limits: { timeoutMs: 1500 } }),
    });
    const refused = await invoke(alice, 'alice.fails', { url: `http://127.0.0.1:${closedPort}/` });
    expect(refused).toMatchObject({ error: 'EFFECT_FAILED', data: { url: `http://127.0.0.1:${closedPort}/` } });
    expect(String((refused.data as { reason: string }).reason)).toMatch(/refused/i);

    const big = await invoke(alice, 'alice.fails', { url: `http://127.0.0.1:${api.port}/big` });
    expect(big).toMatchObject({ error: 'EFFECT_FAILED' });
    expect(String((big.data as { reason: string }).reason)).toMatch(/exceeds/);

    const bad = await invoke(alice, 'alice.fails', { url: 'http://exa mple.com:99999/' });
    expect(bad).toMatchObject({ error: 'EFFECT_FAILED', data: { reason: 'invalid URL' } });
    const ftp = await invoke(alice, 'alice.fails', { url: `ftp://127.0.0.1:${api.port}/` });
    expect(ftp).toMatchObject({ error: 'EFFECT_FORBIDDEN' });

    // The request is bounded by the invocation's deadline, ending just before it so that the
    // capability gets the timeout as an error it can handle.
    const slow = await invoke(alice, 'alice.fails', { url: `http://127.0.0.1:${api.port}/slow` });
    expect(slow).toMatchObject({ error: 'EFFECT_FAILED', data: { reason: 'timeout' } });
  });
});

describe('secrets', () => {
  it('arrive at the server, and are absent from everything the capability and every method returns', async () => {
    await op.call('secrets/set', { name: 'svc-key', value: SECRET, hosts: [`127.0.0.1:${api.port}`] });
    await alice.call('capabilities/register', {
      source: fetcher('alice.secret', [{ host: `127.0.0.1:${api.port}`, methods: ['GET'], secrets: ['svc-key'] }], `'http://127.0.0.1:${api.port}/secret-echo'`),
    });
    const out = await invoke(alice, 'alice.secret');
    const got = api.hits.filter((h) => h.url === '/secret-echo');
    expect(got.at(-1)?.headers.authorization).toBe(`Bearer ${SECRET}`);
    // The API echoed it back in the body and a header: redacted before the sandbox saw it.
    expect(JSON.stringify(out)).not.toContain(SECRET);
    expect(out.text).toContain('[REDACTED:svc-key]');
    // A capability that does not name the secret does not get it sent.
    await invoke(alice, 'alice.get', { url: `http://127.0.0.1:${api.port}/secret-echo` });
    expect(api.hits.at(-1)?.headers.authorization).toBeUndefined();

    const everything = JSON.stringify([
      await op.call('secrets/list', {}),
      await op.call('effects/list', {}),
      await op.call('capabilities/describe', { name: 'alice.secret' }),
      await op.call('logs/recent', {}),
      await op.call('grants/list', {}),
    ]);
    expect(everything).not.toContain(SECRET);
    expect(everything).toContain('svc-key');
  });

  it('are set and removed by operators only', async () => {
    await expectType(alice.call('secrets/set', { name: 'mine', value: 'x', hosts: ['example.com'] }), 'FORBIDDEN');
    await expectType(alice.call('secrets/list', {}), 'FORBIDDEN');
  });
});

describe('the journal', () => {
  it('re-runs under contention never repeat an identical request', async () => {
    await alice.call('capabilities/register', {
      source: cap({
        name: 'alice.counter',
        effects: { http: [{ host: `127.0.0.1:${api.port}`, methods: ['GET'] }] },
        body: `
          const n = (await ctx.state.get('n')) ?? 0;
          const r = await fetch('http://127.0.0.1:${api.port}/count?i=' + input.i);
          await r.text();
          await ctx.state.set('n', n + 1);
          return n + 1;`,
      }),
    });
    const before = k.kernel.rerunCount();
    const N = 24;
    let round = 0;
    // Contention makes re-runs; keep going until some happened (almost always the first round).
    do {
      await Promise.all(Array.from({ length: N }, (_, i) => alice.call('capabilities/invoke', { name: 'alice.counter', input: { i: round * N + i } })));
      round++;
    } while (k.kernel.rerunCount() === before && round < 5);
    const reruns = k.kernel.rerunCount() - before;
    expect(reruns).toBeGreaterThan(0);
    expect(k.kernel.stateGet('alice.counter', 'n').value).toBe(round * N);
    const counted = api.hits.filter((h) => h.url.startsWith('/count?i='));
    // One request per invocation however often it was re-run.
    expect(counted).toHaveLength(round * N);
    expect(new Set(counted.map((h) => h.url)).size).toBe(round * N);
    const records = (await op.call('effects/list', { name: 'alice.counter', limit: 1000 })).items;
    expect(records.filter((r) => !r.replayed)).toHaveLength(round * N);
    expect(records.filter((r) => r.replayed).length).toBeGreaterThan(0);
  });

  it('effects/list is the audit trail: who, which capability and version, destination, method, status, bytes, duration', async () => {
    const items = (await alice.call('effects/list', { name: 'alice.get' })).items;
    expect(items.length).toBeGreaterThan(0);
    expect(items[0]).toMatchObject({ name: 'alice.get', version: '1.0.0', principal: aliceTok.id, principalName: 'alice', method: expect.any(String), url: expect.any(String) });
    expect(items.some((r) => r.status === 404)).toBe(true);
    expect(items.some((r) => r.status === null && r.error)).toBe(true);
    for (const r of items) {
      expect(typeof r.durationMs).toBe('number');
      expect(typeof r.responseBytes).toBe('number');
    }
  });
});

describe('hermetic gates', () => {
  it('tests are served their fixtures; nothing reaches the network', async () => {
    const hits = api.hits.length;
    const url = `http://127.0.0.1:${api.port}/fixture`;
    await alice.call('capabilities/register', {
      source: fetcher('alice.fixtured', [{ host: `127.0.0.1:${api.port}`, methods: ['GET'] }], 'input.url', {
        tests: [{ name: 'served', input: { url }, http: [{ request: { method: 'GET', url }, response: { status: 201, body: { from: 'fixture' } } }], expect: { status: 201, ok: true, redirected: false, url, text: '{"from":"fixture"}', headers: { 'content-type': 'application/json' } } }],
      }),
    });
    expect(api.hits.length).toBe(hits);
  });

  it('a request without a fixture fails the test naming the request, even when the capability catches it', async () => {
    const url = `http://127.0.0.1:${api.port}/unfixtured`;
    const e = await expectType(
      alice.call('capabilities/register', {
        source: fetcher('alice.unfixtured', [{ host: `127.0.0.1:${api.port}`, methods: ['GET'] }], 'input.url', { tests: [{ name: 'forgot', input: { url }, expect: { error: 'EFFECT_FORBIDDEN' } }] }),
      }),
      'GATE_FAILED',
    );
    expect(e.message).toContain(`GET ${url}`);
    expect(api.hits.some((h) => h.url === '/unfixtured')).toBe(false);
  });

  it('a migration cannot make requests', async () => {
    const e = await expectType(
      alice.call('capabilities/register', {
        source: cap({ name: 'alice.migrating', effects: { http: [{ host: `127.0.0.1:${api.port}`, methods: ['GET'] }] }, migrate: `await fetch('http://127.0.0.1:${api.port}/from-migrate');` }),
      }),
      'MIGRATION_FAILED',
    );
    expect(e.message).toMatch(/EFFECT_FORBIDDEN|network|egress/);
    expect(api.hits.some((h) => h.url === '/from-migrate')).toBe(false);
  });

  it('a dry run with fixtures reaches nothing either', async () => {
    const hits = api.hits.length;
    const url = `http://127.0.0.1:${api.port}/dry`;
    const res = await alice.call('capabilities/apply', {
      dryRun: true,
      changes: [{ op: 'register', source: fetcher('alice.dry', [{ host: `127.0.0.1:${api.port}`, methods: ['GET'] }], 'input.url', { tests: [{ name: 'dry', input: { url }, http: [{ request: { url }, response: { body: 'ok' } }], expect: { status: 200, ok: true, redirected: false, url, text: 'ok', headers: { 'content-type': 'text/plain;charset=UTF-8' } } }] }) }],
    });
    expect(res.gates.every((g) => g.passed)).toBe(true);
    expect(api.hits.length).toBe(hits);
  });
});

describe('declared destinations', () => {
  it('describe and graph show them', async () => {
    const d = await alice.call('capabilities/describe', { name: 'alice.secret' });
    expect(JSON.stringify(d)).toContain(`127.0.0.1:${api.port}`);
    const g = await alice.call('graph/get', {});
    const node = g.nodes.find((n) => n.name === 'alice.secret');
    expect(JSON.stringify(node)).toContain(`127.0.0.1:${api.port}`);
    expect(httpGrant).toMatch(/./);
  });
});
