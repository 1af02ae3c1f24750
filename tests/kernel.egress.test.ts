// kernel/egress.ts, the kernel's request performer (issue 13): real local HTTP servers on
// 127.0.0.1, the real Egress with a policy of plain data. Granted and refused requests (host,
// port, method, wildcard, addresses), redirects, revocation, limits and network failures, each
// its typed error. Secrets and the journal are in kernel.egress-secrets / kernel.egress-journal.

import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import { Egress } from '../kernel/egress.ts';
import { caller, closeServers, err, manifest, ok, req, startServer, tableLookup, TestPolicy, type TestServer } from './kernel.egress.helpers.ts';

afterAll(closeServers);

let policy: TestPolicy;
let server: TestServer;
let lookup: ReturnType<typeof tableLookup>;
let egress: Egress;

beforeEach(async () => {
  policy = new TestPolicy();
  server = await startServer((r, res, hit) => {
    if (hit.url.startsWith('/redirect/')) {
      const [, , code, ...rest] = hit.url.split('/');
      res.writeHead(Number(code), { location: decodeURIComponent(rest.join('/')) }).end();
      return;
    }
    if (hit.url === '/loop') return void res.writeHead(302, { location: '/loop' }).end();
    if (hit.url === '/big') return void res.end('x'.repeat(5000));
    if (hit.url === '/gzip') return void res.writeHead(200, { 'content-encoding': 'gzip' }).end(zlib.gzipSync('hello compressed'));
    if (hit.url === '/bomb') return void res.writeHead(200, { 'content-encoding': 'gzip' }).end(zlib.gzipSync(Buffer.alloc(100_000)));
    if (hit.url === '/br') return void res.writeHead(200, { 'content-encoding': 'br' }).end(zlib.brotliCompressSync('hello brotli'));
    if (hit.url === '/hang') return; // never answers
    if (hit.url === '/hop') return void res.writeHead(200, { 'keep-alive': 'timeout=5', 'x-kept': '1', connection: 'x-private', 'x-private': 'p' }).end('ok');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: hit.method, url: hit.url, body: hit.body, host: hit.headers.host, ae: hit.headers['accept-encoding'] }));
  });
  lookup = tableLookup({ 'api.test': ['127.0.0.1'], 'a.svc.test': ['127.0.0.1'], 'other.test': ['127.0.0.1'], 'mixed.test': ['93.184.216.34', '10.0.0.1'] });
  egress = new Egress({ policy, lookup });
});

function declare(http: Array<{ host: string; methods?: string[]; secrets?: string[] }>, limits?: { [k: string]: number }): void {
  policy.manifests.set('h1', manifest({ http, ...(limits ? { limits } : {}) }));
}

const base = (): string => `http://api.test:${server.port}`;

describe('egress: what may be reached', () => {
  it('a declared and granted request reaches the server through the checked address', async () => {
    declare([{ host: 'api.test' }]);
    policy.grants = [{ id: 'grt_1', target: 'api.test' }];
    const r = ok(await egress.session('inv_1').perform(caller(), req(`${base()}/v1?q=1`)));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ method: 'GET', url: '/v1?q=1', host: `api.test:${server.port}`, ae: 'gzip, deflate, br' });
    expect(r.url).toBe(`${base()}/v1?q=1`);
    expect(r.redirected).toBe(false);
    expect(lookup.calls).toEqual(['api.test']);
  });

  it('refuses a host the manifest does not declare, naming it', async () => {
    declare([{ host: 'other.test' }]);
    policy.grants = [{ id: 'grt_1', target: 'api.test' }];
    const e = err(await egress.session('inv_1').perform(caller(), req(`${base()}/x`)));
    expect(e.type).toBe('EFFECT_FORBIDDEN');
    expect(e.message).toContain(`${base()}/x`);
    expect(e.data).toMatchObject({ url: `${base()}/x`, reason: 'not declared', missing: { kind: 'effects.http', target: `api.test:${server.port}` } });
    expect(server.hits).toHaveLength(0);
  });

  it('refuses a declared host without a grant, naming the grant and the command', async () => {
    declare([{ host: 'api.test' }]);
    policy.grants = [{ id: 'grt_1', target: 'other.test' }];
    const e = err(await egress.session('inv_1').perform(caller(), req(`${base()}/x`)));
    expect(e.type).toBe('EFFECT_FORBIDDEN');
    expect(e.data).toMatchObject({ reason: 'not granted', missing: { kind: 'http', target: 'api.test' }, command: 'substrate grant add tok_alice http api.test' });
    expect(e.message).toContain('substrate grant add tok_alice http api.test');
    expect(server.hits).toHaveLength(0);
  });

  it('ports: an entry or grant with another port does not match', async () => {
    declare([{ host: `api.test:${server.port}` }]);
    policy.grants = [{ id: 'grt_1', target: 'api.test:1' }];
    expect(err(await egress.session('i').perform(caller(), req(`${base()}/`))).data).toMatchObject({ reason: 'not granted' });
    declare([{ host: 'api.test:1' }]);
    policy.grants = [{ id: 'grt_1', target: 'api.test' }];
    expect(err(await egress.session('i').perform(caller(), req(`${base()}/`))).data).toMatchObject({ reason: 'not declared' });
    declare([{ host: `api.test:${server.port}` }]);
    policy.grants = [{ id: 'grt_1', target: `api.test:${server.port}` }];
    expect(ok(await egress.session('i').perform(caller(), req(`${base()}/`))).status).toBe(200);
  });

  it('methods: the entry and the grant must both allow it', async () => {
    declare([{ host: 'api.test', methods: ['GET'] }]);
    policy.grants = [{ id: 'grt_1', target: 'api.test' }];
    const s = egress.session('i');
    expect(err(await s.perform(caller(), req(`${base()}/`, { method: 'POST', body: 'x' }))).data).toMatchObject({ reason: 'method not declared', missing: { methods: ['POST'] } });
    declare([{ host: 'api.test' }]);
    policy.grants = [{ id: 'grt_1', target: 'api.test', methods: ['GET'] }];
    const e = err(await s.perform(caller(), req(`${base()}/`, { method: 'post', body: 'x' })));
    expect(e.data).toMatchObject({ reason: 'not granted', missing: { kind: 'http', target: 'api.test', methods: ['POST'] }, command: 'substrate grant add tok_alice http api.test --methods POST' });
    expect(ok(await s.perform(caller(), req(`${base()}/`))).status).toBe(200);
    expect(err(await s.perform(caller(), req(`${base()}/`, { method: 'CONNECT' }))).type).toBe('EFFECT_FORBIDDEN');
    expect(server.hits.map((h) => h.method)).toEqual(['GET']);
  });

  it('a name matched only through a wildcard grant that resolves to loopback is refused; a literal grant allows it', async () => {
    declare([{ host: '*.svc.test' }]);
    policy.grants = [{ id: 'grt_1', target: '*.svc.test' }];
    const url = `http://a.svc.test:${server.port}/`;
    const e = err(await egress.session('i').perform(caller(), req(url)));
    expect(e.type).toBe('EFFECT_FORBIDDEN');
    expect(e.data).toMatchObject({ url, reason: 'loopback address', address: '127.0.0.1', addressClass: 'loopback' });
    expect(e.message).toContain('a.svc.test resolves to 127.0.0.1');
    expect(server.hits).toHaveLength(0);
    policy.grants = [{ id: 'grt_2', target: 'a.svc.test' }];
    expect(ok(await egress.session('i').perform(caller(), req(url))).status).toBe(200);
  });

  it('operators: the manifest entry is the grant, and must name a private host literally', async () => {
    policy.grants = 'all';
    declare([{ host: '*.svc.test' }]);
    expect(err(await egress.session('i').perform(caller(), req(`http://a.svc.test:${server.port}/`))).data).toMatchObject({ reason: 'loopback address' });
    declare([{ host: 'a.svc.test' }]);
    expect(ok(await egress.session('i').perform(caller(), req(`http://a.svc.test:${server.port}/`))).status).toBe(200);
  });

  it('refuses when any resolved address is not public', async () => {
    declare([{ host: '*.test' }]);
    policy.grants = [{ id: 'grt_1', target: '*.test' }];
    const e = err(await egress.session('i').perform(caller(), req('http://mixed.test/')));
    expect(e.data).toMatchObject({ reason: 'private address', address: '10.0.0.1' });
  });

  it('IP literals skip DNS; an IP matches only a pattern naming it', async () => {
    declare([{ host: '127.0.0.1' }]);
    policy.grants = [{ id: 'grt_1', target: '127.0.0.1' }];
    expect(ok(await egress.session('i').perform(caller(), req(`http://127.0.0.1:${server.port}/`))).status).toBe(200);
    expect(lookup.calls).toEqual([]);
    declare([{ host: '*.test' }]);
    expect(err(await egress.session('i').perform(caller(), req('http://169.254.169.254/latest'))).data).toMatchObject({ reason: 'not declared' });
    // WHATWG URL parsing normalizes other spellings of an address before anything compares it.
    expect(err(await egress.session('i').perform(caller(), req(`http://0x7f.1:${server.port}/`))).data).toMatchObject({ url: `http://127.0.0.1:${server.port}/`, reason: 'not declared' });
  });

  it('IPv6: patterns compare in canonical form; a name resolving to an IPv4-mapped loopback is loopback', async () => {
    const v6 = await startServer((_r, res) => res.end('six'), { host: '::1' });
    declare([{ host: '0:0:0:0:0:0:0:1' }, { host: '*.svc.test' }]);
    policy.grants = [{ id: 'grt_1', target: `[::1]:${v6.port}` }, { id: 'grt_2', target: '*.svc.test' }];
    expect(ok(await egress.session('i').perform(caller(), req(`http://[::1]:${v6.port}/`))).text).toBe('six');
    const mapped = new Egress({ policy, lookup: tableLookup({ 'm.svc.test': ['::ffff:127.0.0.1'] }) });
    expect(err(await mapped.session('i').perform(caller(), req('http://m.svc.test/'))).data).toMatchObject({ reason: 'loopback address', address: '::ffff:127.0.0.1' });
  });

  it('revocation takes effect on the next request', async () => {
    declare([{ host: 'api.test' }]);
    policy.grants = [{ id: 'grt_1', target: 'api.test' }];
    const s = egress.session('i');
    expect(ok(await s.perform(caller(), req(`${base()}/1`))).status).toBe(200);
    policy.grants = [];
    expect(err(await s.perform(caller(), req(`${base()}/2`))).data).toMatchObject({ reason: 'not granted' });
    expect(server.hits).toHaveLength(1);
  });

  it('the kernel owns host, content-length, accept-encoding and hop-by-hop headers', async () => {
    declare([{ host: 'api.test' }]);
    policy.grants = [{ id: 'grt_1', target: 'api.test' }];
    const r = ok(await egress.session('i').perform(caller(), req(`${base()}/h`, { method: 'POST', body: 'abc', headers: [['host', 'evil.example'], ['content-length', '1'], ['accept-encoding', 'zstd'], ['x-mine', 'yes']] })));
    expect(JSON.parse(r.text)).toMatchObject({ host: `api.test:${server.port}`, body: 'abc', ae: 'gzip, deflate, br' });
    expect(server.hits[0]?.headers['x-mine']).toBe('yes');
    const hop = ok(await egress.session('i').perform(caller(), req(`${base()}/hop`)));
    const names = hop.headers.map(([n]) => n);
    expect(names).toContain('x-kept');
    expect(names).not.toContain('keep-alive');
    expect(names).not.toContain('connection');
    expect(names).not.toContain('x-private');
  });
});

describe('egress: redirects', () => {
  beforeEach(() => {
    declare([{ host: 'api.test' }, { host: 'other.test' }]);
    policy.grants = [{ id: 'grt_1', target: 'api.test' }, { id: 'grt_2', target: 'other.test' }];
  });
  const to = (code: number, url: string): string => `${base()}/redirect/${code}/${encodeURIComponent(url)}`;

  it('follows a checked redirect: redirected and url say so', async () => {
    const final = `http://other.test:${server.port}/final`;
    const r = ok(await egress.session('i').perform(caller(), req(to(302, final))));
    expect(r).toMatchObject({ status: 200, redirected: true, url: final });
    expect(server.hits.map((h) => h.url)).toEqual([expect.stringContaining('/redirect/302/'), '/final']);
  });

  it('a redirect to a host without a grant fails the whole fetch, naming the hop', async () => {
    policy.grants = [{ id: 'grt_1', target: 'api.test' }];
    const hop = `http://other.test:${server.port}/stolen`;
    const e = err(await egress.session('i').perform(caller(), req(to(302, hop))));
    expect(e.type).toBe('EFFECT_FORBIDDEN');
    expect(e.data).toMatchObject({ url: hop, redirectedFrom: to(302, hop), reason: 'not granted' });
    expect(e.message).toContain(hop);
    expect(server.hits).toHaveLength(1);
  });

  it('a redirect to a loopback name through a wildcard is refused; to another scheme too', async () => {
    declare([{ host: 'api.test' }, { host: '*.svc.test' }]);
    policy.grants = [{ id: 'grt_1', target: 'api.test' }, { id: 'grt_2', target: '*.svc.test' }];
    expect(err(await egress.session('i').perform(caller(), req(to(307, `http://a.svc.test:${server.port}/`)))).data).toMatchObject({ reason: 'loopback address' });
    expect(err(await egress.session('i').perform(caller(), req(to(302, 'file:///etc/passwd')))).data).toMatchObject({ reason: 'scheme not allowed', url: 'file:///etc/passwd' });
  });

  it('303 (and 302 of a POST) becomes a GET without body; 307 keeps method and body', async () => {
    const s = egress.session('i');
    const final = `${base()}/final`;
    for (const code of [303, 302]) {
      const r = JSON.parse(ok(await s.perform(caller(), req(to(code, final), { method: 'POST', body: 'payload', headers: [['content-type', 'text/plain']] }))).text);
      expect(r).toMatchObject({ method: 'GET', body: '' });
    }
    expect(server.hits[1]?.headers['content-type']).toBeUndefined();
    const r = JSON.parse(ok(await s.perform(caller(), req(to(307, final), { method: 'POST', body: 'payload' }))).text);
    expect(r).toMatchObject({ method: 'POST', body: 'payload' });
  });

  it(`stops after the redirect limit`, async () => {
    const e = err(await egress.session('i').perform(caller(), req(`${base()}/loop`)));
    expect(e).toMatchObject({ type: 'EFFECT_FAILED', data: { reason: 'more than 5 redirects', limit: 5 } });
    expect(server.hits).toHaveLength(6);
  });
});

describe('egress: limits and failures', () => {
  beforeEach(() => {
    declare([{ host: 'api.test' }, { host: 'ftp.test' }], { responseBodyBytes: 1000, requestBodyBytes: 10 });
    policy.grants = [{ id: 'grt_1', target: 'api.test' }];
  });

  it('a response body over the limit: EFFECT_FAILED with the limit', async () => {
    const e = err(await egress.session('i').perform(caller(), req(`${base()}/big`)));
    expect(e).toMatchObject({ type: 'EFFECT_FAILED', data: { url: `${base()}/big`, reason: 'response body exceeds 1000 bytes', limit: 1000 } });
  });

  it('decodes gzip and br; a decoded body over the limit fails (compressed bombs too)', async () => {
    const s = egress.session('i');
    const g = ok(await s.perform(caller(), req(`${base()}/gzip`)));
    expect(g.text).toBe('hello compressed');
    expect(g.headers.map(([n]) => n)).not.toContain('content-encoding');
    expect(ok(await s.perform(caller(), req(`${base()}/br`))).text).toBe('hello brotli');
    expect(err(await s.perform(caller(), req(`${base()}/bomb`))).data).toMatchObject({ reason: 'response body exceeds 1000 bytes', limit: 1000 });
  });

  it('a request body over the limit never leaves', async () => {
    const e = err(await egress.session('i').perform(caller(), req(`${base()}/`, { method: 'POST', body: 'x'.repeat(11) })));
    expect(e).toMatchObject({ type: 'EFFECT_FAILED', data: { reason: 'request body exceeds 10 bytes', limit: 10 } });
    expect(server.hits).toHaveLength(0);
  });

  it('the deadline bounds the request: timeout', async () => {
    const e = err(await egress.session('i').perform(caller({ deadline: Date.now() + 300 }), req(`${base()}/hang`)));
    expect(e).toMatchObject({ type: 'EFFECT_FAILED', data: { url: `${base()}/hang`, reason: 'timeout' } });
    expect(err(await egress.session('i').perform(caller({ deadline: Date.now() - 1 }), req(`${base()}/`))).data).toMatchObject({ reason: 'timeout' });
  });

  it('connection refused', async () => {
    const dead = await startServer(() => {});
    await dead.close();
    const e = err(await egress.session('i').perform(caller(), req(`http://api.test:${dead.port}/`)));
    expect(e).toMatchObject({ type: 'EFFECT_FAILED', data: { url: `http://api.test:${dead.port}/`, reason: 'connection refused (ECONNREFUSED)' } });
  });

  it('a DNS failure', async () => {
    declare([{ host: 'nowhere.test' }]);
    policy.grants = [{ id: 'g', target: 'nowhere.test' }];
    const e = err(await egress.session('i').perform(caller(), req('http://nowhere.test/')));
    expect(e).toMatchObject({ type: 'EFFECT_FAILED', data: { reason: 'DNS lookup of nowhere.test failed (ENOTFOUND)' } });
  });

  it('an invalid URL and a scheme other than http(s)', async () => {
    const s = egress.session('i');
    expect(err(await s.perform(caller(), req('not a url')))).toMatchObject({ type: 'EFFECT_FAILED', data: { url: 'not a url', reason: 'invalid URL' } });
    expect(err(await s.perform(caller(), req('ftp://ftp.test/file')))).toMatchObject({ type: 'EFFECT_FORBIDDEN', data: { url: 'ftp://ftp.test/file', reason: 'scheme not allowed' } });
    expect(err(await s.perform(caller(), req('http://u:p@api.test/')))).toMatchObject({ type: 'EFFECT_FORBIDDEN', data: { reason: 'credentials in URL' } });
  });

  it('the tree request limit, and in-flight requests wait for a slot', async () => {
    declare([{ host: 'api.test' }], { requests: 2 });
    const s = egress.session('i');
    expect(ok(await s.perform(caller(), req(`${base()}/1`))).status).toBe(200);
    expect(ok(await s.perform(caller(), req(`${base()}/2`))).status).toBe(200);
    expect(err(await s.perform(caller(), req(`${base()}/3`))).data).toMatchObject({ limit: 2 });

    let open = 0;
    let most = 0;
    const slow = await startServer((_r, res) => {
      open++;
      most = Math.max(most, open);
      setTimeout(() => { open--; res.end('ok'); }, 50);
    });
    declare([{ host: 'api.test' }], { inFlight: 2 });
    const t = egress.session('j');
    const all = await Promise.all(Array.from({ length: 5 }, (_, i) => t.perform(caller(), req(`http://api.test:${slow.port}/${i}`))));
    expect(all.every((r) => r.ok)).toBe(true);
    expect(most).toBeLessThanOrEqual(2);
    expect(slow.hits).toHaveLength(5);
  });
});
