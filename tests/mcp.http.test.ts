// MCP over Streamable HTTP on /mcp: the acceptance scenarios with the official SDK client, plus
// what only HTTP has (sessions bound to a token, DELETE, authentication) and the tool mapping.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startKernel, type RunningKernel } from '../kernel/index.ts';
import { call, mcpAcceptance, text, type McpHarness } from './mcp.scenarios.ts';

let running: RunningKernel;
let mcpUrl: URL;
let dataDir: string;

async function connect(token: string): Promise<Client> {
  const client = new Client({ name: 'mcp-http-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-mcp-http-'));
  running = await startKernel({ dataDir, port: 0, workers: 1, example: true });
  mcpUrl = new URL(`http://${running.host}:${running.port}/mcp`);
});

afterAll(async () => {
  await running?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('MCP over Streamable HTTP', () => {
  mcpAcceptance((): McpHarness => ({ running, connect }));

  const initialize = {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  };
  const headers = (token: string, session?: string): Record<string, string> => ({
    Authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } : {}),
  });

  it('refuses requests without a valid token', async () => {
    const res = await fetch(mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify(initialize) });
    expect(res.status).toBe(401);
    const bad = await fetch(mcpUrl, { method: 'POST', headers: headers('sbt_nope'), body: JSON.stringify(initialize) });
    expect(bad.status).toBe(401);
  });

  it('binds a session to the token that opened it, and ends it on DELETE', async () => {
    const init = await fetch(mcpUrl, { method: 'POST', headers: headers(running.operatorToken), body: JSON.stringify(initialize) });
    expect(init.status).toBe(200);
    const session = init.headers.get('mcp-session-id');
    expect(session).toBeTruthy();
    await init.body?.cancel();
    const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });

    const other = running.auth.create('agent', `other-${Date.now()}`);
    const stolen = await fetch(mcpUrl, { method: 'POST', headers: headers(other.token, session!), body: list });
    expect(stolen.status).toBe(403);
    await stolen.body?.cancel();

    const noSession = await fetch(mcpUrl, { method: 'POST', headers: headers(running.operatorToken), body: list });
    expect(noSession.status).toBe(400);
    await noSession.body?.cancel();

    const del = await fetch(mcpUrl, { method: 'DELETE', headers: headers(running.operatorToken, session!) });
    expect(del.status).toBe(200);
    const gone = await fetch(mcpUrl, { method: 'POST', headers: headers(running.operatorToken, session!), body: list });
    expect(gone.status).toBe(404);
    await gone.body?.cancel();
  });

  it('wraps non-object schemas: input as `input`, output as { result }', async () => {
    const client = await connect(running.operatorToken);
    try {
      const source = `export const manifest = {
  name: "demo.length", version: "1.0.0", description: "Length of a string",
  inputSchema: { type: "string" }, outputSchema: { type: "integer" },
  tests: [ { name: "counts", input: "abc", expect: 3 } ],
};
export default async function (input) { return input.length; }
`;
      const reg = await call(client, 'substrate_register', { source });
      expect(reg.isError, text(reg)).toBeFalsy();
      const tool = (await client.listTools()).tools.find((t) => t.name === 'demo__length');
      expect(tool?.inputSchema).toMatchObject({ type: 'object', properties: { input: { type: 'string' } }, required: ['input'] });
      expect(tool?.outputSchema).toMatchObject({ type: 'object', properties: { result: { type: 'integer' } }, required: ['result'] });
      const r = await call(client, 'demo__length', { input: 'hello' });
      expect(r.structuredContent).toEqual({ result: 5 });
      expect(text(r)).toBe('5');
    } finally {
      await client.close();
    }
  });

  it('names a broken dependent when an upgrade fails its gate', async () => {
    const client = await connect(running.operatorToken);
    try {
      const generation = running.kernel.info().generation;
      const source = `export const manifest = {
  name: "text.tokenize", version: "1.1.0", description: "Splits a text into upper-case tokens",
  inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
  outputSchema: { type: "object", properties: { tokens: { type: "array", items: { type: "string" } } }, required: ["tokens"] },
};
export default async function (input) { return { tokens: input.text.toUpperCase().split(/\\s+/).filter(Boolean) }; }
`;
      const r = await call(client, 'substrate_register', { source });
      expect(r.isError).toBe(true);
      expect(text(r)).toContain('GATE_FAILED');
      expect(text(r)).toMatch(/text\.(frequency|report) was not part of your change/);
      expect(running.kernel.info().generation).toBe(generation);
    } finally {
      await client.close();
    }
  });

  it('serves the read-only management tools and dry runs', async () => {
    const client = await connect(running.operatorToken);
    try {
      const d = await call(client, 'substrate_describe', { name: 'text.wordcount' });
      expect(d.isError, text(d)).toBeFalsy();
      expect(d.structuredContent).toMatchObject({ name: 'text.wordcount', version: '1.0.0' });
      expect(text(d)).toContain('export default');

      const imp = await call(client, 'substrate_impact', { name: 'text.tokenize' });
      expect((imp.structuredContent as { dependents: string[] }).dependents).toEqual(expect.arrayContaining(['text.wordcount', 'text.frequency', 'text.report']));

      const g = await call(client, 'substrate_graph', { root: 'text.report' });
      expect(g.isError, text(g)).toBeFalsy();
      expect(text(g)).toContain('text.report 1.0.0 calls text.wordcount');

      const generation = running.kernel.info().generation;
      const dry = await call(client, 'substrate_apply', { changes: [{ op: 'remove', name: 'text.report' }], dryRun: true });
      expect(dry.isError, text(dry)).toBeFalsy();
      expect(dry.structuredContent).toMatchObject({ dryRun: true });
      expect(running.kernel.info().generation).toBe(generation);

      const badArgs = await call(client, 'substrate_rollback', { nom: 'x' });
      expect(badArgs.isError).toBe(true);
    } finally {
      await client.close();
    }
  });
});
