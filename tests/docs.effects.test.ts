// docs/effects.md's worked example works as the page says: weather.now registers on its fixtures
// (its gates reach nothing), then, with the owner's grant and the operator's secret, calls a real
// HTTPS server under the API's name (here on 127.0.0.1, with a certificate for that name), which
// receives the secret the capability never sees.

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubstrateClient } from '../kernel/client.ts';
import { startTestKernel, type TestKernel } from './helpers.ts';
import { selfSignedCertificate } from './tls-cert.ts';
import { REPO_ROOT } from './typecheck.ts';

const HOST = 'api.weather.example';
const KEY = 'wk-7d1e-secret';
const example = readFileSync(path.join(REPO_ROOT, 'docs', 'examples', 'weather-fetch.js'), 'utf8');
const pem = selfSignedCertificate(HOST);

let server: Server;
let port: number;
const seen: Array<{ url: string; auth: string | undefined }> = [];
let k: TestKernel;
let op: SubstrateClient;
let agent: SubstrateClient;

beforeAll(async () => {
  server = createServer({ key: pem.key, cert: pem.cert }, (req, res) => {
    seen.push({ url: req.url ?? '', auth: req.headers.authorization });
    const city = new URL(req.url ?? '/', `https://${HOST}`).searchParams.get('city');
    const body = city === 'Oslo' ? { city, celsius: 3.5 } : { error: 'no such city' };
    res.writeHead(city === 'Oslo' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  // The API's name resolves to the test server; the kernel trusts its certificate.
  k = await startTestKernel({ egressLookup: async () => [{ address: '127.0.0.1', family: 4 }], egressCa: pem.cert });
  op = await k.client();
  const tok = k.auth.create('agent', 'forecaster');
  agent = await k.client(tok.token);
  await op.call('grants/add', { principal: tok.id, kind: 'http', target: HOST, methods: ['GET'] });
  await op.call('secrets/set', { name: 'weather-key', value: KEY, hosts: [HOST] });
});
afterAll(async () => {
  await k?.stop();
  server?.closeAllConnections();
  server?.close();
});

describe('docs/effects.md example', () => {
  it('the page names the example', () => {
    expect(readFileSync(path.join(REPO_ROOT, 'docs', 'effects.md'), 'utf8')).toContain('examples/weather-fetch.js');
  });

  it('registers on its fixtures without a request leaving the machine', async () => {
    // The example is written for port 443; the test server listens elsewhere.
    const source = example.replace(`'https://${HOST}'`, `'https://${HOST}:${port}'`).replace(`host: '${HOST}'`, `host: '${HOST}:${port}'`).replace(/https:\/\/api\.weather\.example\/v1/g, `https://${HOST}:${port}/v1`);
    const r = await agent.call('capabilities/register', { source });
    expect(r).toMatchObject({ name: 'weather.now', activated: true });
    expect(seen).toEqual([]);
  });

  it('calls the API with the secret, which the capability never sees', async () => {
    const r = await agent.call('capabilities/invoke', { name: 'weather.now', input: { city: 'Oslo' } });
    expect(r.output).toEqual({ city: 'Oslo', celsius: 3.5 });
    expect(seen).toEqual([{ url: '/v1/now?city=Oslo', auth: `Bearer ${KEY}` }]);
    const e = await agent.call('capabilities/invoke', { name: 'weather.now', input: { city: 'Atlantis' } }).catch((x: { data: { type: string; message: string } }) => x.data);
    expect(e).toMatchObject({ type: 'CAPABILITY_ERROR' });
    const trail = (await agent.call('effects/list', { name: 'weather.now' })).items;
    expect(trail.map((t) => t.status).sort()).toEqual([200, 404]);
    expect(JSON.stringify(trail)).not.toContain(KEY);
  });
});
