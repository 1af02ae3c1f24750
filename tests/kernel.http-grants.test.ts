// Issue 13 item 1: http grants. Operators grant destination patterns (with methods) to a token or a
// role; a manifest's effects.http entries must lie within its owner's grants at registration
// (EFFECT_FORBIDDEN naming the missing grant and the command); the request performer's lookup
// (GrantRules.httpGrantsOf) sees every add and revoke at once. Also the declared destinations in
// describe, graph and impact, and the MCP tools' openWorldHint.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { SubstrateClient } from '../kernel/client.ts';
import type { TokenCreateResult } from '../kernel/api.ts';
import { expectType, startTestKernel, type TestKernel } from './helpers.ts';

let k: TestKernel;
let aliceTok: TokenCreateResult;
let bobTok: TokenCreateResult;
let alice: SubstrateClient;
let bob: SubstrateClient;
let op: SubstrateClient;

function fetcher(name: string, http: unknown[], version = '1.0.0', deps?: Record<string, string>): string {
  const manifest = { name, version, description: `fetches for ${name}`, effects: { http }, ...(deps ? { dependencies: deps } : {}) };
  return `export const manifest = ${JSON.stringify(manifest)};\nexport default async function (input) { return input; }\n`;
}

beforeAll(async () => {
  k = await startTestKernel();
  aliceTok = k.auth.create('agent', 'alice');
  bobTok = k.auth.create('agent', 'bob');
  [alice, bob, op] = await Promise.all([k.client(aliceTok.token), k.client(bobTok.token), k.client()]);
});
afterAll(async () => {
  await k?.stop();
});

describe('http grants', () => {
  it('operators add them (canonical target, upper-case methods), agents may not', async () => {
    const g = await op.call('grants/add', { principal: aliceTok.id, kind: 'http', target: 'API.Example.COM.', methods: ['post', 'get'] });
    expect(g).toMatchObject({ principal: aliceTok.id, principalName: 'alice', kind: 'http', target: 'api.example.com', mode: null, methods: ['GET', 'POST'] });
    const v6 = await op.call('grants/add', { principal: 'role:agent', kind: 'http', target: '[::1]:8080' });
    expect(v6).toMatchObject({ target: '[::1]:8080', methods: null });
    // Adding again changes the methods of the same grant.
    const again = await op.call('grants/add', { principal: aliceTok.id, kind: 'http', target: 'api.example.com', methods: ['GET'] });
    expect(again.id).toBe(g.id);
    expect(again.methods).toEqual(['GET']);

    const e = await expectType(alice.call('grants/add', { principal: aliceTok.id, kind: 'http', target: 'evil.example' }), 'FORBIDDEN');
    expect(e.data).toMatchObject({ kind: 'http' });
    const rv = await expectType(alice.call('grants/revoke', { id: g.id }), 'FORBIDDEN');
    expect(rv.message).toContain('operator');
    // An agent lists the http grants it holds (by id and by role).
    const mine = await alice.call('grants/list', {});
    expect(mine.items.map((i) => i.target).sort()).toEqual(['[::1]:8080', 'api.example.com']);
  });

  it('bad targets, methods and modes are INVALID_INPUT naming the problem', async () => {
    const bad = async (params: Record<string, unknown>, field: string, text: RegExp) => {
      const e = await expectType(op.call('grants/add', { principal: aliceTok.id, kind: 'http', ...params } as never), 'INVALID_INPUT');
      expect(e.data).toMatchObject({ field });
      expect(e.message).toMatch(text);
    };
    await bad({ target: 'https://api.example.com/x' }, 'target', /no scheme, path/);
    await bad({ target: 'a.*.com' }, 'target', /\* only as a whole first label/);
    await bad({ target: 'host:99999' }, 'target', /port outside/);
    await bad({ target: '*.10.0.0.1' }, 'target', /cannot put \*\. before an IP/);
    await bad({ target: 'api.example.com', methods: ['GET', 'CONNECT'] }, 'methods', /"CONNECT" is not one of GET/);
    await bad({ target: 'api.example.com', methods: [] }, 'methods', /empty/);
    await bad({ target: 'api.example.com', mode: 'rw' }, 'mode', /mode belongs to 'namespace' grants/);
    await expectType(op.call('grants/add', { principal: 'tok_nobody', kind: 'http', target: 'x.example' }), 'NOT_FOUND');
  });

  it('registration: every effects.http entry must lie within a grant of the owner', async () => {
    // Within: the host itself with fewer methods, and a port of it.
    await alice.call('capabilities/register', { source: fetcher('alice.get', [{ host: 'api.example.com', methods: ['GET'] }, { host: 'api.example.com:443', methods: ['GET'] }]) });
    const e = await expectType(alice.call('capabilities/register', { source: fetcher('alice.post', [{ host: 'api.example.com', methods: ['POST'] }]) }), 'EFFECT_FORBIDDEN');
    expect(e.data).toMatchObject({ name: 'alice.post', principal: aliceTok.id, missing: { kind: 'http', target: 'api.example.com', methods: ['POST'] } });
    expect(e.message).toContain(`substrate grant add ${aliceTok.id} http api.example.com --methods POST`);
    expect(e.message).toContain('the grants alice holds for it allow fewer methods');
    // All methods is not within a GET grant.
    await expectType(alice.call('capabilities/register', { source: fetcher('alice.all', ['api.example.com']) }), 'EFFECT_FORBIDDEN');
    const other = await expectType(alice.call('capabilities/register', { source: fetcher('alice.other', ['other.example.com']) }), 'EFFECT_FORBIDDEN');
    expect(other.data).toMatchObject({ missing: { kind: 'http', target: 'other.example.com' }, command: `substrate grant add ${aliceTok.id} http other.example.com` });
    // The role grant covers [::1]:8080 for every agent, bob included.
    await bob.call('capabilities/register', { source: fetcher('bob.local', ['[::1]:8080']) });
    await expectType(bob.call('capabilities/register', { source: fetcher('bob.port', ['[::1]:9090']) }), 'EFFECT_FORBIDDEN');
    // Through apply (dry run too), nothing committed.
    const generation = k.kernel.info().generation;
    await expectType(alice.call('capabilities/apply', { changes: [{ op: 'register', source: fetcher('alice.post', [{ host: 'api.example.com', methods: ['POST'] }]) }], dryRun: true }), 'EFFECT_FORBIDDEN');
    expect(k.kernel.info().generation).toBe(generation);
    // Operators hold every grant.
    await op.call('capabilities/register', { source: fetcher('op.anything', ['*.anywhere.test', { host: '10.1.2.3:80', methods: ['DELETE'] }]) });
  });

  it('a wildcard grant covers subdomains and narrower wildcards, not its parent', async () => {
    await op.call('grants/add', { principal: bobTok.id, kind: 'http', target: '*.svc.test' });
    await bob.call('capabilities/register', { source: fetcher('bob.svc', ['a.svc.test', '*.b.svc.test:8443', { host: 'c.svc.test', methods: ['PUT'] }]) });
    await expectType(bob.call('capabilities/register', { source: fetcher('bob.parent', ['svc.test']) }), 'EFFECT_FORBIDDEN');
  });

  it('httpGrantsOf: all for operators, the current grants for others, by hash, name or owner', async () => {
    const grants = k.kernel.grants;
    expect(grants.httpGrantsOf('op.anything')).toBe('all');
    const hash = (await alice.call('capabilities/describe', { name: 'alice.get' })).hash;
    const byHash = grants.httpGrantsOf(hash);
    expect(byHash).not.toBe('all');
    const targets = (byHash as Array<{ target: string; methods?: string[] }>).map((g) => [g.target, g.methods]);
    expect(targets).toEqual(expect.arrayContaining([['api.example.com', ['GET']], ['[::1]:8080', undefined]]));
    expect(grants.httpGrantsOf('alice.get')).toEqual(byHash);
    expect(grants.httpGrantsOf('no.such.capability')).toEqual([]);
    // A revoke is seen by the next lookup.
    const id = (byHash as Array<{ id: string; target: string }>).find((g) => g.target === 'api.example.com')!.id;
    await op.call('grants/revoke', { id });
    expect((grants.httpGrantsOf(hash) as Array<{ target: string }>).map((g) => g.target)).toEqual(['[::1]:8080']);
    // Registered capabilities stay registered; a new version now needs the grant again.
    expect((await alice.call('capabilities/describe', { name: 'alice.get' })).current).toBe(true);
    await expectType(alice.call('capabilities/register', { source: fetcher('alice.get', [{ host: 'api.example.com', methods: ['GET'] }], '1.1.0') }), 'EFFECT_FORBIDDEN');
  });

  it('describe, graph and impact show the declared destinations; others have none', async () => {
    await op.call('capabilities/register', { source: fetcher('op.caller', [], '1.0.0', { 'op.anything': '^1.0.0' }).replace('"effects":{"http":[]},', '') });
    const d = await op.call('capabilities/describe', { name: 'op.anything' });
    expect(d.destinations).toEqual([{ host: '*.anywhere.test' }, { host: '10.1.2.3:80', methods: ['DELETE'] }]);
    expect(d.manifest.effects?.http).toEqual(d.destinations);
    const plain = await op.call('capabilities/describe', { name: 'op.caller' });
    expect(plain.destinations).toBeUndefined();
    const g = await op.call('graph/get', {});
    const node = g.nodes.find((n) => n.name === 'op.anything');
    expect(node).toMatchObject({ kind: 'capability', destinations: d.destinations });
    expect(g.nodes.find((n) => n.name === 'op.caller')).not.toHaveProperty('destinations');
    const imp = await op.call('graph/impact', { name: 'op.anything' });
    expect(imp.destinations).toEqual([{ capability: 'op.anything', version: '1.0.0', destinations: d.destinations }]);
    expect((await op.call('graph/impact', { name: 'op.caller' })).destinations).toBeUndefined();
  });

  it('MCP: a capability declaring effects.http is openWorldHint true, others false', async () => {
    const client = new Client({ name: 't', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://${k.host}:${k.port}/mcp`), { requestInit: { headers: { authorization: `Bearer ${k.operatorToken}` } } }));
    try {
      const tools = (await client.listTools()).tools;
      expect(tools.find((t) => t.name === 'op__anything')?.annotations?.openWorldHint).toBe(true);
      expect(tools.find((t) => t.name === 'op__caller')?.annotations?.openWorldHint).toBe(false);
      for (const n of ['substrate_grant_add', 'substrate_grants', 'substrate_grant_revoke', 'substrate_secret_set', 'substrate_secrets', 'substrate_secret_remove', 'substrate_effects']) {
        expect(tools.map((t) => t.name)).toContain(n);
      }
      const added = await client.callTool({ name: 'substrate_grant_add', arguments: { principal: bobTok.id, kind: 'http', target: 'mcp.example.com', methods: ['GET'] } });
      expect(added.isError).toBeFalsy();
      expect(added.structuredContent).toMatchObject({ kind: 'http', target: 'mcp.example.com', methods: ['GET'] });
    } finally {
      await client.close();
    }
  });
});
