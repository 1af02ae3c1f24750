// kernel/egress.ts: secrets reach the server and nothing else (response headers and body, the
// final URL, errors, records), and TLS is verified against the URL's host name while the
// connection goes to the address the kernel checked. Real local servers on 127.0.0.1.

import https from 'node:https';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { EffectRecord } from '../capabilities/effects.ts';
import { Egress } from '../kernel/egress.ts';
import { selfSignedCertificate } from './tls-cert.ts';
import { caller, closeServers, err, manifest, ok, req, startServer, tableLookup, TestPolicy, type TestServer } from './kernel.egress.helpers.ts';

const VALUE = 's3cr3t/value+"x"';
afterAll(async () => {
  await closeServers();
});

let policy: TestPolicy;
let server: TestServer;
let records: EffectRecord[];
let egress: Egress;

beforeEach(async () => {
  policy = new TestPolicy();
  policy.secrets.set('gh', { name: 'gh', value: VALUE, hosts: ['api.test'], header: 'Authorization', format: 'Bearer {}' });
  policy.manifests.set('h1', manifest({ http: [{ host: 'api.test', secrets: ['gh'] }, { host: 'other.test', secrets: ['gh'] }, { host: 'evil.test' }] }));
  policy.grants = [{ id: 'g1', target: 'api.test' }, { id: 'g2', target: 'other.test' }];
  server = await startServer((_r, res, hit) => {
    const auth = String(hit.headers.authorization ?? '');
    if (hit.url === '/leak-redirect') return void res.writeHead(302, { location: `http://evil.test:${server.port}/?t=${encodeURIComponent(VALUE)}` }).end();
    res.writeHead(200, { 'content-type': 'application/json', 'x-echo': auth, 'x-raw': VALUE });
    res.end(JSON.stringify({ auth, raw: VALUE, url: hit.url }));
  });
  records = [];
  egress = new Egress({ policy, lookup: tableLookup({ 'api.test': ['127.0.0.1'], 'other.test': ['127.0.0.1'], 'evil.test': ['127.0.0.1'] }), onRecord: (r) => records.push(r) });
});

describe('egress: secrets', () => {
  it('the secret arrives at the server and is redacted from everything that comes back', async () => {
    const r = ok(await egress.session('i').perform(caller(), req(`http://api.test:${server.port}/v1`, { headers: [['authorization', 'Bearer mine']] })));
    expect(server.hits[0]?.headers.authorization).toBe(`Bearer ${VALUE}`); // the kernel's header wins
    const body = JSON.parse(r.text) as { auth: string; raw: string };
    expect(body).toMatchObject({ auth: '[REDACTED:gh]', raw: '[REDACTED:gh]' });
    expect(r.headers).toContainEqual(['x-echo', '[REDACTED:gh]']);
    expect(r.headers).toContainEqual(['x-raw', '[REDACTED:gh]']);
    const everything = JSON.stringify(records) + r.text + JSON.stringify(r.headers);
    expect(everything).not.toContain('s3cr3t');
    expect(records[0]).toMatchObject({ status: 200, principal: 'tok_alice', principalName: 'alice', name: 'weather', replayed: false, error: null });
  });

  it('is not sent to a host outside its hosts, and stays redacted there for the tree', async () => {
    const s = egress.session('i');
    ok(await s.perform(caller(), req(`http://api.test:${server.port}/first`)));
    const r = ok(await s.perform(caller(), req(`http://other.test:${server.port}/second`)));
    expect(server.hits[1]?.headers.authorization).toBeUndefined();
    expect(r.text).not.toContain('s3cr3t');
    expect(JSON.parse(r.text)).toMatchObject({ raw: '[REDACTED:gh]' });
  });

  it('never appears in an error, even when a redirect carries it', async () => {
    const s = egress.session('i');
    const e = err(await s.perform(caller(), req(`http://api.test:${server.port}/leak-redirect`)));
    expect(e.type).toBe('EFFECT_FORBIDDEN');
    expect(e.message).toContain('[REDACTED:gh]');
    expect(JSON.stringify(e) + JSON.stringify(records)).not.toContain('s3cr3t');
    expect(records.at(-1)?.error).toContain('evil.test');
  });

  it('a secret a matching entry names that is not set fails the request', async () => {
    policy.secrets.clear();
    const e = err(await egress.session('i').perform(caller(), req(`http://api.test:${server.port}/`)));
    expect(e).toMatchObject({ type: 'EFFECT_FAILED', data: { reason: expect.stringContaining('secret "gh" is not set'), secret: 'gh' } });
    expect(server.hits).toHaveLength(0);
  });

  it('a custom header and format', async () => {
    policy.secrets.set('gh', { name: 'gh', value: 'k123456', hosts: ['api.test'], header: 'X-Api-Key', format: 'key={}' });
    const r = ok(await egress.session('i').perform(caller(), req(`http://api.test:${server.port}/`, { headers: [['x-api-key', 'mine']] })));
    expect(server.hits[0]?.headers['x-api-key']).toBe('key=k123456');
    expect(r.text).not.toContain('k123456');
  });
});

const pem = selfSignedCertificate('tls.test');

describe('egress: TLS', () => {
  it('verifies the certificate against the host name while connecting to the checked address', async () => {
    const { key, cert } = pem;
    const tls = await startServer((_r, res) => res.end('secure'), { make: (l) => https.createServer({ key, cert }, l) });
    policy.manifests.set('h1', manifest({ http: [{ host: 'tls.test' }, { host: 'wrong.test' }] }));
    policy.grants = [{ id: 'g1', target: 'tls.test' }, { id: 'g2', target: 'wrong.test' }];
    const lookup = tableLookup({ 'tls.test': ['127.0.0.1'], 'wrong.test': ['127.0.0.1'] });
    const trusting = new Egress({ policy, lookup, ca: cert });
    expect(ok(await trusting.session('i').perform(caller(), req(`https://tls.test:${tls.port}/`))).text).toBe('secure');
    // Same address, another name: the certificate does not name it.
    const mismatch = err(await trusting.session('i').perform(caller(), req(`https://wrong.test:${tls.port}/`)));
    expect(mismatch).toMatchObject({ type: 'EFFECT_FAILED', data: { reason: expect.stringMatching(/^TLS: .*ERR_TLS_CERT_ALTNAME_INVALID/) } });
    // Node's default CAs do not trust a self-signed certificate.
    const untrusting = new Egress({ policy, lookup });
    const e = err(await untrusting.session('i').perform(caller(), req(`https://tls.test:${tls.port}/`)));
    expect(e).toMatchObject({ type: 'EFFECT_FAILED', data: { reason: expect.stringMatching(/^TLS: .*SELF_SIGNED/) } });
    expect(tls.hits).toHaveLength(1);
  });
});
