// Issue 10 item 4 (guarantee 8): shared namespaces are owned by the principal whose capability
// declared them first; another principal's capability may declare one only with a grant from the
// owner or an operator, checked at registration and again at every call; over WebSocket and MCP.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { SubstrateClient } from '../kernel/client.ts';
import type { TokenCreateResult } from '../kernel/api.ts';
import { cap, expectType, startTestKernel, type TestKernel } from './helpers.ts';

let k: TestKernel;
let aliceTok: TokenCreateResult;
let bobTok: TokenCreateResult;
let carolTok: TokenCreateResult;
let alice: SubstrateClient;
let bob: SubstrateClient;
let carol: SubstrateClient;
let op: SubstrateClient;

const writer = (name: string, ns: string, mode: 'r' | 'rw' = 'rw', version = '1.0.0') =>
  cap({ name, version, shared: { [ns]: mode }, body: `await ctx.state.ns(${JSON.stringify(ns)}).set(input.key, input.value); return input.value;` });
const reader = (name: string, ns: string, version = '1.0.0') =>
  cap({ name, version, shared: { [ns]: 'r' }, body: `if (input && input.skip) return 'skipped'; return (await ctx.state.ns(${JSON.stringify(ns)}).get(input.key)) ?? null;` });

beforeAll(async () => {
  k = await startTestKernel();
  aliceTok = k.auth.create('agent', 'alice');
  bobTok = k.auth.create('agent', 'bob');
  carolTok = k.auth.create('agent', 'carol');
  [alice, bob, carol, op] = await Promise.all([k.client(aliceTok.token), k.client(bobTok.token), k.client(carolTok.token), k.client()]);
});
afterAll(async () => {
  await k?.stop();
});

describe('namespace ownership and grants over WebSocket', () => {
  it('the first capability to declare a shared namespace makes its owner the namespace owner', async () => {
    await alice.call('capabilities/register', { source: writer('alice.writer', 'g.data') });
    await alice.call('capabilities/invoke', { name: 'alice.writer', input: { key: 'k', value: 7 } });
    const mine = await alice.call('grants/list', {});
    expect(mine.owners).toEqual([expect.objectContaining({ namespace: 'g.data', owner: aliceTok.id, ownerName: 'alice', capability: 'alice.writer' })]);
    // Bob owns no namespace: he sees none of the owners.
    expect((await bob.call('grants/list', {})).owners).toEqual([]);
    expect((await op.call('grants/list', {})).owners.map((o) => o.namespace)).toContain('g.data');
  });

  it("another agent's capability may not declare it without a grant: STATE_FORBIDDEN names the missing grant", async () => {
    const generation = k.kernel.info().generation;
    const e = await expectType(bob.call('capabilities/register', { source: reader('bob.reader', 'g.data') }), 'STATE_FORBIDDEN');
    expect(e.message).toContain('g.data');
    expect(e.message).toContain(`substrate grant add ${bobTok.id} namespace g.data`);
    expect(e.data).toMatchObject({ namespace: 'g.data', owner: 'alice', held: null, missing: { principal: bobTok.id, kind: 'namespace', target: 'g.data', mode: 'r' } });
    // The same through apply, a dry run included; nothing committed.
    await expectType(bob.call('capabilities/apply', { changes: [{ op: 'register', source: reader('bob.reader', 'g.data') }] }), 'STATE_FORBIDDEN');
    await expectType(bob.call('capabilities/apply', { changes: [{ op: 'register', source: reader('bob.reader', 'g.data') }], dryRun: true }), 'STATE_FORBIDDEN');
    expect(k.kernel.info().generation).toBe(generation);
    await expectType(bob.call('capabilities/describe', { name: 'bob.reader' }), 'NOT_FOUND');
  });

  it('only the owner or an operator may grant: others get FORBIDDEN', async () => {
    const self = await expectType(bob.call('grants/add', { principal: bobTok.id, kind: 'namespace', target: 'g.data' }), 'FORBIDDEN');
    expect(self.message).toContain('owned by alice');
    await expectType(carol.call('grants/add', { principal: bobTok.id, kind: 'namespace', target: 'g.data', mode: 'rw' }), 'FORBIDDEN');
    // Nobody owns g.unclaimed: only an operator may grant it ahead of time.
    await expectType(alice.call('grants/add', { principal: bobTok.id, kind: 'namespace', target: 'g.unclaimed' }), 'FORBIDDEN');
    expect((await op.call('grants/list', { principal: bobTok.id })).items).toEqual([]);
  });

  it('with the owner\'s grant the registration is allowed, and r does not stand for rw', async () => {
    const g = await alice.call('grants/add', { principal: bobTok.id, kind: 'namespace', target: 'g.data' });
    expect(g).toMatchObject({ principal: bobTok.id, principalName: 'bob', kind: 'namespace', target: 'g.data', mode: 'r', grantedBy: 'alice' });
    expect(g.id).toMatch(/^grt_/);
    await bob.call('capabilities/register', { source: reader('bob.reader', 'g.data') });
    expect((await bob.call('capabilities/invoke', { name: 'bob.reader', input: { key: 'k' } })).output).toBe(7);
    // An r grant does not let a manifest declare rw.
    const e = await expectType(bob.call('capabilities/register', { source: writer('bob.writer', 'g.data', 'rw') }), 'STATE_FORBIDDEN');
    expect(e.data).toMatchObject({ held: 'r', missing: { mode: 'rw' } });
    // Bob sees the grant he holds; alice sees the grants on her namespace; carol sees none of it.
    expect((await bob.call('grants/list', {})).items.map((i) => i.id)).toEqual([g.id]);
    expect((await alice.call('grants/list', {})).items.map((i) => i.id)).toEqual([g.id]);
    expect((await carol.call('grants/list', {})).items).toEqual([]);
  });

  it('after grants/revoke the next call that opens the namespace fails with STATE_FORBIDDEN; one that does not still runs', async () => {
    const [g] = (await alice.call('grants/list', { principal: bobTok.id })).items;
    // Carol may not revoke what alice granted.
    await expectType(carol.call('grants/revoke', { id: g.id }), 'FORBIDDEN');
    expect(await alice.call('grants/revoke', { id: g.id })).toEqual({ id: g.id, revoked: true });
    const e = await expectType(bob.call('capabilities/invoke', { name: 'bob.reader', input: { key: 'k' } }), 'STATE_FORBIDDEN');
    expect(e.data).toMatchObject({ namespace: 'g.data', missing: { kind: 'namespace', target: 'g.data', mode: 'r' } });
    expect((await bob.call('capabilities/invoke', { name: 'bob.reader', input: { skip: true } })).output).toBe('skipped');
    // The owner's own capability is untouched; a new grant restores bob's access on the next call.
    expect((await alice.call('capabilities/invoke', { name: 'alice.writer', input: { key: 'k', value: 8 } })).output).toBe(8);
    await op.call('grants/add', { principal: bobTok.id, kind: 'namespace', target: 'g.data' });
    expect((await bob.call('capabilities/invoke', { name: 'bob.reader', input: { key: 'k' } })).output).toBe(8);
  });

  it('a grant to a role reaches every token of it; rw downgraded to r stops writes at the next call, reads go on', async () => {
    const g = await alice.call('grants/add', { principal: 'role:agent', kind: 'namespace', target: 'g.data', mode: 'rw' });
    expect(g).toMatchObject({ principal: 'role:agent', principalName: 'role:agent', mode: 'rw' });
    await carol.call('capabilities/register', { source: writer('carol.writer', 'g.data', 'rw') });
    expect((await carol.call('capabilities/invoke', { name: 'carol.writer', input: { key: 'c', value: 1 } })).output).toBe(1);
    // Adding the same principal/kind/target again changes that grant's mode (one grant to revoke).
    const down = await alice.call('grants/add', { principal: 'role:agent', kind: 'namespace', target: 'g.data', mode: 'r' });
    expect(down.id).toBe(g.id);
    const e = await expectType(carol.call('capabilities/invoke', { name: 'carol.writer', input: { key: 'c', value: 2 } }), 'STATE_FORBIDDEN');
    expect(e.message).toContain('read-only');
    expect(k.kernel.stateGet('shared:g.data', 'c').value).toBe(1);
    await alice.call('grants/revoke', { id: g.id });
    await expectType(carol.call('capabilities/invoke', { name: 'carol.writer', input: { key: 'c', value: 3 } }), 'STATE_FORBIDDEN');
  });

  it('operators hold every grant implicitly', async () => {
    await op.call('capabilities/register', { source: writer('op.writer', 'g.data', 'rw') });
    expect((await op.call('capabilities/invoke', { name: 'op.writer', input: { key: 'o', value: 'x' } })).output).toBe('x');
    // And may grant a namespace nobody owns yet.
    const g = await op.call('grants/add', { principal: carolTok.id, kind: 'namespace', target: 'g.later', mode: 'rw' });
    expect(g.target).toBe('g.later');
  });

  it('two agents declaring the same new namespace at once: one owns it, the other is refused', async () => {
    // Bob's gate is slow, so alice's registration can commit while it runs (gates run outside the
    // commit lock): whichever commits first owns g.race, the other is refused under the lock.
    const slow = cap({
      name: 'bob.race',
      shared: { 'g.race': 'rw' },
      body: 'await new Promise((r) => setTimeout(r, 1500)); return 1;',
      tests: [{ name: 'slow', input: null, expect: 1 }],
    });
    const results = await Promise.allSettled([
      bob.call('capabilities/register', { source: slow }),
      new Promise((r) => setTimeout(r, 300)).then(() => alice.call('capabilities/register', { source: writer('alice.race', 'g.race') })),
    ]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect((refused[0].reason as { type: string }).type).toBe('STATE_FORBIDDEN');
    const owner = (await op.call('grants/list', {})).owners.find((o) => o.namespace === 'g.race');
    expect(owner?.capability).toBe(results[0].status === 'fulfilled' ? 'bob.race' : 'alice.race');
  });

  it('the kernel checks what the sandbox asks it to commit against the same grants', async () => {
    // A worker that ignored RunSpec.shared would send a transaction like this one: refused here.
    const { hash } = await bob.call('capabilities/describe', { name: 'bob.reader' });
    const links = k.kernel.currentGraph().links(hash);
    const access = k.kernel.grants.runAccess(links);
    expect(access.shared[hash]).toEqual({ 'g.data': 'r' });
    expect(() => k.kernel.grants.checkTxn(access, { reads: [['shared:g.data', 'k', 1]], nsReads: [], writes: [] })).not.toThrow();
    const w = (() => {
      try {
        k.kernel.grants.checkTxn(access, { reads: [], nsReads: [], writes: [['shared:g.data', 'k', '1']] });
      } catch (e) {
        return e as { type: string };
      }
    })();
    expect(w?.type).toBe('STATE_FORBIDDEN');
    expect(() => k.kernel.grants.checkTxn(access, { reads: [['alice.writer', 'k', 0]], nsReads: [], writes: [] })).toThrow(/alice\.writer/);
  });

  it('refuses what it cannot grant with typed errors', async () => {
    // http grants are operators' (tests/kernel.http-grants.test.ts has the rest).
    const http = await expectType(bob.call('grants/add', { principal: bobTok.id, kind: 'http', target: 'api.example.com' }), 'FORBIDDEN');
    expect(http.data).toMatchObject({ kind: 'http', role: 'agent' });
    await expectType(op.call('grants/add', { principal: 'tok_nope', kind: 'namespace', target: 'g.data' }), 'NOT_FOUND');
    await expect(op.call('grants/add', { principal: 'role:root', kind: 'namespace', target: 'g.data' })).rejects.toMatchObject({ code: -32602 });
    await expect(op.call('grants/add', { principal: bobTok.id, kind: 'namespace', target: 'Not A Name' })).rejects.toMatchObject({ code: -32602 });
    await expectType(op.call('grants/revoke', { id: 'grt_nope' }), 'NOT_FOUND');
    const client = await k.client(k.auth.create('client', 'dash').token);
    await expectType(client.call('grants/list', {}), 'FORBIDDEN');
  });
});

describe('the same rules over MCP', () => {
  async function connect(token: string): Promise<Client> {
    const client = new Client({ name: 'grants-test', version: '1.0.0' });
    const url = new URL(`http://${k.host}:${k.port}/mcp`);
    await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    return client;
  }
  const errorType = (r: CallToolResult) => (r._meta?.['substrate/error'] as { type?: string } | undefined)?.type;

  it('registration refused without a grant, allowed with it, and the next tool call fails after the revoke', async () => {
    const dave = k.auth.create('agent', 'dave');
    const mcp = await connect(dave.token);
    try {
      const refused = (await mcp.callTool({ name: 'substrate_register', arguments: { source: reader('dave.reader', 'g.data') } })) as CallToolResult;
      expect(refused.isError).toBe(true);
      expect(errorType(refused)).toBe('STATE_FORBIDDEN');

      const g = await alice.call('grants/add', { principal: dave.id, kind: 'namespace', target: 'g.data' });
      const ok = (await mcp.callTool({ name: 'substrate_register', arguments: { source: reader('dave.reader', 'g.data') } })) as CallToolResult;
      expect(ok.isError, JSON.stringify(ok.content)).toBeFalsy();
      const read = (await mcp.callTool({ name: 'dave__reader', arguments: { key: 'k' } })) as CallToolResult;
      expect(read.isError, JSON.stringify(read.content)).toBeFalsy();
      expect(JSON.parse((read.content[0] as { text: string }).text)).toBe(8);

      await alice.call('grants/revoke', { id: g.id });
      const after = (await mcp.callTool({ name: 'dave__reader', arguments: { key: 'k' } })) as CallToolResult;
      expect(after.isError).toBe(true);
      expect(errorType(after)).toBe('STATE_FORBIDDEN');
    } finally {
      await mcp.close();
    }
  });
});
