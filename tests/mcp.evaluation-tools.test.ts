// The MCP tools of metrics and records against a real kernel (in-process backend): substrate_metrics
// answers a line per version and the metrics/get JSON; substrate_records the records/list JSON, to
// operators and owners only.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultOf } from '../capabilities/protocol/methods.ts';
import { LOCAL_OPERATOR, type Principal } from '../capabilities/types.ts';
import { inProcessBackend } from '../kernel/mcp-backend.ts';
import { createMcpServer } from '../mcp/server.ts';
import { cap, startTestKernel, type TestKernel } from './helpers.ts';

let k: TestKernel;

async function mcp(principal: Principal): Promise<Client> {
  const [a, b] = InMemoryTransport.createLinkedPair();
  await createMcpServer(inProcessBackend(k.rpc, k.kernel, principal)).connect(a);
  const client = new Client({ name: 'evaluation-test', version: '1.0.0' });
  await client.connect(b);
  return client;
}

beforeAll(async () => {
  k = await startTestKernel();
  const op = await k.client();
  await op.call('capabilities/register', { source: cap({ name: 'me.echo', body: 'if (input.fail) throw new Error("no"); return input;' }) });
  await op.call('capabilities/invoke', { name: 'me.echo', input: { a: 1 } });
  await op.call('capabilities/invoke', { name: 'me.echo', input: { fail: true } }).catch(() => undefined);
}, 120_000);
afterAll(async () => {
  await k?.stop();
});

describe('substrate_metrics and substrate_records', () => {
  it('are listed, read-only', async () => {
    const client = await mcp(LOCAL_OPERATOR);
    const tools = (await client.listTools()).tools.filter((t) => t.name === 'substrate_metrics' || t.name === 'substrate_records');
    expect(tools.map((t) => [t.name, t.annotations?.readOnlyHint])).toEqual([['substrate_metrics', true], ['substrate_records', true]]);
    await client.close();
  });

  it('substrate_metrics: a line per version and the structured metrics/get result', async () => {
    const client = await mcp(LOCAL_OPERATOR);
    const res = (await client.callTool({ name: 'substrate_metrics', arguments: { name: 'me.echo' } })) as CallToolResult;
    expect(res.isError).toBeFalsy();
    const text = (res.content[0] as { text: string }).text;
    expect(text).toMatch(/^Over the last [\d.]+s \(since /);
    expect(text).toContain('me.echo@1.0.0 (current): 2 calls');
    expect(text).toContain('1 errors (CAPABILITY_ERROR 1)');
    const doc = res.structuredContent as ResultOf<'metrics/get'>;
    expect(doc.items[0]).toMatchObject({ name: 'me.echo', calls: 2, errors: 1 });
    await client.close();
  });

  it('substrate_records: the records for the operator; another agent gets FORBIDDEN', async () => {
    const client = await mcp(LOCAL_OPERATOR);
    const res = (await client.callTool({ name: 'substrate_records', arguments: { name: 'me.echo', limit: 5 } })) as CallToolResult;
    expect(res.isError).toBeFalsy();
    const doc = res.structuredContent as ResultOf<'records/list'>;
    expect(doc.items.map((r) => r.input)).toEqual([{ fail: true }, { a: 1 }]);
    expect(doc.items[0].error?.type).toBe('CAPABILITY_ERROR');
    expect(JSON.parse((res.content[0] as { text: string }).text)).toEqual(doc);
    await client.close();
    const tok = k.auth.create('agent', 'stranger');
    const agent = await mcp({ id: tok.id, name: 'stranger', role: 'agent' });
    const refused = (await agent.callTool({ name: 'substrate_records', arguments: { name: 'me.echo' } })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect((refused.content[0] as { text: string }).text).toContain('FORBIDDEN');
    await agent.close();
  });
});
