// kernel/egress.ts: the per-tree journal (a re-run after a state conflict is served the recorded
// responses of identical requests, in order, without reaching the server; a divergent request goes
// out) and the fixture performer of gates (never the network). Hits are counted on a real server.

import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { EffectRecord } from '../capabilities/effects.ts';
import { Egress } from '../kernel/egress.ts';
import { caller, closeServers, err, manifest, ok, req, startServer, tableLookup, TestPolicy, type TestServer } from './kernel.egress.helpers.ts';

afterAll(closeServers);

let policy: TestPolicy;
let server: TestServer;
let records: EffectRecord[];
let egress: Egress;
let failNext = 0;

beforeEach(async () => {
  policy = new TestPolicy();
  policy.manifests.set('h1', manifest({ http: [{ host: 'api.test' }] }));
  policy.grants = [{ id: 'g1', target: 'api.test' }];
  failNext = 0;
  server = await startServer((r, res, hit) => {
    if (failNext > 0) {
      failNext--;
      return void r.socket.destroy();
    }
    res.end(`hit ${server.hits.length}: ${hit.method} ${hit.url} ${hit.body}`);
  });
  records = [];
  egress = new Egress({ policy, lookup: tableLookup({ 'api.test': ['127.0.0.1'] }), onRecord: (r) => records.push(r) });
});

const url = (p: string): string => `http://api.test:${server.port}${p}`;

describe('egress: the journal', () => {
  it('a re-run with identical requests makes no new hit; a divergent one does', async () => {
    const s = egress.session('inv_1');
    const first = [
      ok(await s.perform(caller(), req(url('/a')))).text,
      ok(await s.perform(caller(), req(url('/b'), { method: 'POST', body: 'x', headers: [['content-type', 'text/plain']] }))).text,
    ];
    expect(server.hits).toHaveLength(2);
    s.nextAttempt();
    const second = [
      ok(await s.perform(caller(), req(url('/a')))).text,
      ok(await s.perform(caller(), req(url('/b'), { method: 'POST', body: 'x', headers: [['content-type', 'text/plain']] }))).text,
    ];
    expect(second).toEqual(first);
    expect(server.hits).toHaveLength(2);
    expect(records.slice(2).map((r) => r.replayed)).toEqual([true, true]);
    expect(records[2]).toMatchObject({ status: 200, invocationId: 'inv_1', url: url('/a'), finalUrl: url('/a'), response: records[0]?.response });

    s.nextAttempt();
    ok(await s.perform(caller(), req(url('/a'))));
    const divergent = ok(await s.perform(caller(), req(url('/b'), { method: 'POST', body: 'y', headers: [['content-type', 'text/plain']] })));
    expect(divergent.text).toBe('hit 3: POST /b y');
    const otherHeader = ok(await s.perform(caller(), req(url('/a'), { headers: [['x-v', '2']] })));
    expect(otherHeader.text).toBe('hit 4: GET /a ');
    expect(server.hits).toHaveLength(4);
  });

  it('identical requests are served in the order they were recorded, then go out', async () => {
    const s = egress.session('inv_1');
    const a = [ok(await s.perform(caller(), req(url('/n')))).text, ok(await s.perform(caller(), req(url('/n')))).text];
    expect(a).toEqual(['hit 1: GET /n ', 'hit 2: GET /n ']);
    s.nextAttempt();
    const b = [0, 1, 2].map(() => s.perform(caller(), req(url('/n'))));
    const texts: string[] = [];
    for (const p of b) texts.push(ok(await p).text);
    expect(texts).toEqual(['hit 1: GET /n ', 'hit 2: GET /n ', 'hit 3: GET /n ']);
    s.nextAttempt();
    const c: string[] = [];
    for (let i = 0; i < 4; i++) c.push(ok(await s.perform(caller(), req(url('/n')))).text);
    expect(c).toEqual(['hit 1: GET /n ', 'hit 2: GET /n ', 'hit 3: GET /n ', 'hit 4: GET /n ']);
    expect(server.hits).toHaveLength(4);
  });

  it('a failed request is not replayed: the re-run makes it again', async () => {
    const s = egress.session('inv_1');
    failNext = 1;
    expect(err(await s.perform(caller(), req(url('/f')))).type).toBe('EFFECT_FAILED');
    expect(records[0]).toMatchObject({ status: null, response: null, error: expect.stringContaining('connection') });
    s.nextAttempt();
    expect(ok(await s.perform(caller(), req(url('/f')))).text).toBe('hit 2: GET /f ');
    expect(records[1]?.replayed).toBe(false);
  });

  it('a replay checks the grant again; another session shares nothing', async () => {
    const s = egress.session('inv_1');
    ok(await s.perform(caller(), req(url('/g'))));
    s.nextAttempt();
    policy.grants = [];
    expect(err(await s.perform(caller(), req(url('/g')))).data).toMatchObject({ reason: 'not granted' });
    policy.grants = [{ id: 'g1', target: 'api.test' }];
    ok(await egress.session('inv_2').perform(caller({ invocationId: 'inv_2' }), req(url('/g'))));
    expect(server.hits).toHaveLength(2);
    expect(records.at(-1)).toMatchObject({ invocationId: 'inv_2', replayed: false });
  });

  it('records say who, what, how much and how long, and the session lists them', async () => {
    const s = egress.session('inv_1');
    ok(await s.perform(caller(), req(url('/r'), { method: 'PUT', body: 'abcd' })));
    expect(s.records).toEqual(records);
    expect(records[0]).toMatchObject({
      id: expect.stringMatching(/^eff_/),
      invocationId: 'inv_1',
      name: 'weather',
      version: '1.0.0',
      hash: 'h1',
      principal: 'tok_alice',
      principalName: 'alice',
      method: 'PUT',
      url: url('/r'),
      status: 200,
      requestBytes: 4,
      responseBytes: 'hit 1: PUT /r abcd'.length,
      replayed: false,
    });
    expect(records[0]?.durationMs).toBeGreaterThanOrEqual(0);
  });
});

describe('egress: fixtures (gates, dry runs)', () => {
  const fixtures = [
    { request: { method: 'GET', url: 'https://api.test/v1/weather?city=Oslo' }, response: { status: 200, body: { temp: 3 } } },
    { request: { url: 'https://api.test/any' }, response: { body: 'text', headers: { 'X-A': 'b' } } },
  ];

  it('serves a matching fixture and never the network', async () => {
    const s = Egress.fixtures({ fixtures, manifestOf: (h) => policy.manifestOf(h) });
    const r = ok(await s.perform(caller(), req('https://API.test:443/v1/weather?city=Oslo')));
    expect(r).toMatchObject({ status: 200, url: 'https://api.test/v1/weather?city=Oslo' });
    expect(JSON.parse(r.text)).toEqual({ temp: 3 });
    expect(r.headers).toContainEqual(['content-type', 'application/json']);
    const any = ok(await s.perform(caller(), req('https://api.test/any', { method: 'DELETE' })));
    expect(any.text).toBe('text');
    expect(any.headers).toContainEqual(['x-a', 'b']);
    expect(s.unfixtured).toEqual([]);
    expect(s.records).toHaveLength(2);
    expect(server.hits).toHaveLength(0);
  });

  it('a request without a fixture fails, naming it, and is listed for the gate', async () => {
    const s = Egress.fixtures({ fixtures, manifestOf: (h) => policy.manifestOf(h) });
    const e = err(await s.perform(caller(), req('https://api.test/v1/weather?city=Bergen')));
    expect(e).toMatchObject({ type: 'EFFECT_FORBIDDEN', message: expect.stringContaining('no http fixture for GET https://api.test/v1/weather?city=Bergen') });
    expect(err(await s.perform(caller(), req('https://api.test/v1/weather?city=Oslo', { method: 'POST', body: 'x' }))).type).toBe('EFFECT_FORBIDDEN');
    expect(s.unfixtured).toEqual(['GET https://api.test/v1/weather?city=Bergen', 'POST https://api.test/v1/weather?city=Oslo']);
  });

  it('the manifest still decides what may be fetched; grants do not matter', async () => {
    policy.grants = [];
    const s = Egress.fixtures({ fixtures: [{ request: { url: 'https://undeclared.test/' }, response: {} }, ...fixtures], manifestOf: (h) => policy.manifestOf(h) });
    expect(err(await s.perform(caller(), req('https://undeclared.test/'))).data).toMatchObject({ reason: 'not declared' });
    expect(ok(await s.perform(caller(), req('https://api.test/any'))).status).toBe(200);
    expect(s.unfixtured).toEqual([]);
  });
});
