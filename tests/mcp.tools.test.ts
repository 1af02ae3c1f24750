// The shared MCP logic of mcp/ (server, names, errors) over a fake backend (no kernel): tool names and their
// reverse mapping, schema shaping, error texts, role gating and list_changed.

import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ToolListChangedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { fail, RpcProtocolError, RPC_CODES } from '../capabilities/errors.ts';
import type { Json, JsonObject } from '../capabilities/types.ts';
import type { McpBackend } from '../mcp/backend.ts';
import { formatToolError, toToolError } from '../mcp/errors.ts';
import { createMcpServer } from '../mcp/server.ts';
import { capabilityNameOf, toolNameOf } from '../mcp/tool-names.ts';

interface FakeCap {
  name: string;
  version: string;
  description: string;
  inputSchema?: JsonObject;
  outputSchema?: JsonObject;
  run(input: Json): Json;
}

function fakeBackend(caps: FakeCap[], manage: boolean) {
  const listeners = new Set<() => void>();
  const calls: Array<{ method: string; params: unknown }> = [];
  const backend: McpBackend = {
    canManage: async () => manage,
    onCommit(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    async call(method, params) {
      calls.push({ method, params });
      const p = params as Record<string, unknown>;
      switch (method) {
        case 'capabilities/list':
          return { items: caps.map((c) => ({ name: c.name, current: c.version, versions: [c.version], description: c.description })), nextCursor: null } as never;
        case 'capabilities/describe': {
          const c = caps.find((x) => x.name === p.name)!;
          return {
            name: c.name,
            version: c.version,
            hash: `sha256:${c.name}`,
            manifest: { description: c.description, inputSchema: c.inputSchema, outputSchema: c.outputSchema },
          } as never;
        }
        case 'capabilities/invoke': {
          const c = caps.find((x) => x.name === p.name);
          if (!c) throw fail('NOT_FOUND', `no current capability '${String(p.name)}'`, { name: p.name as string });
          return { output: c.run(p.input as Json), name: c.name, version: c.version, generation: 1, invocationId: 'i', durationMs: 1 } as never;
        }
        case 'capabilities/register':
          throw fail('GATE_FAILED', 'gate failed', {
            capability: 'a.b',
            version: '2.0.0',
            test: 'adds',
            expected: { sum: 3 },
            actual: { sum: 4 },
            failed: 1,
            results: [{ capability: 'a.b', version: '2.0.0', test: 'adds', passed: false, expected: { sum: 3 }, actual: { sum: 4 }, durationMs: 1 }],
          });
        case 'capabilities/rollback':
          throw new RpcProtocolError(RPC_CODES.INVALID_PARAMS, "invalid params at 'name': Invalid input", { path: 'name' });
        default:
          throw new Error(`unexpected ${method}`);
      }
    },
  };
  return { backend, calls, commit: () => listeners.forEach((l) => l()) };
}

async function connected(backend: McpBackend): Promise<Client> {
  const [a, b] = InMemoryTransport.createLinkedPair();
  await createMcpServer(backend).connect(a);
  const client = new Client({ name: 't', version: '1' });
  await client.connect(b);
  return client;
}

const text = (r: CallToolResult): string => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

const caps: FakeCap[] = [
  {
    name: 'math.add',
    version: '1.0.0',
    description: 'Adds',
    inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } },
    outputSchema: { type: 'object', properties: { sum: { type: 'number' } } },
    run: (i) => ({ sum: (i as { a: number }).a + (i as { b: number }).b }),
  },
  { name: 'str.len', version: '2.1.0', description: 'Length', inputSchema: { type: 'string' }, outputSchema: { type: 'integer' }, run: (i) => (i as string).length },
  { name: 'misc', version: '0.1.0', description: '', run: () => null },
];

describe('MCP tool logic', () => {
  it('maps capability names to tool names and back', () => {
    expect(toolNameOf('text.word-count.v2')).toBe('text__word-count__v2');
    expect(capabilityNameOf('text__word-count__v2')).toBe('text.word-count.v2');
    expect(capabilityNameOf('text.wordcount')).toBe('text.wordcount');
    expect(capabilityNameOf('substrate_register')).toBeUndefined();
    expect(capabilityNameOf('Bad__Name')).toBeUndefined();
  });

  it('lists capabilities sorted with schemas, meta and wrapping; management tools only when allowed', async () => {
    const writer = await connected(fakeBackend(caps, true).backend);
    const { tools } = await writer.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['math__add', 'str__len', 'misc', 'substrate_register', 'substrate_apply']));
    const misc = tools.find((t) => t.name === 'misc')!;
    expect(misc.inputSchema).toEqual({ type: 'object' });
    expect(misc.outputSchema).toBeUndefined();
    const add = tools.find((t) => t.name === 'math__add')!;
    expect(add._meta).toMatchObject({ 'substrate/version': '1.0.0', 'substrate/hash': 'sha256:math.add' });
    const len = tools.find((t) => t.name === 'str__len')!;
    expect(len.inputSchema).toMatchObject({ type: 'object', properties: { input: { type: 'string' } } });

    const reader = await connected(fakeBackend(caps, false).backend);
    expect((await reader.listTools()).tools.map((t) => t.name).filter((n) => n.startsWith('substrate_'))).toEqual([]);
  });

  it('calls capabilities with structured results, wrapped when not objects', async () => {
    const client = await connected(fakeBackend(caps, true).backend);
    await client.listTools();
    const add = (await client.callTool({ name: 'math__add', arguments: { a: 1, b: 2 } })) as CallToolResult;
    expect(add.structuredContent).toEqual({ sum: 3 });
    const len = (await client.callTool({ name: 'str__len', arguments: { input: 'abcd' } })) as CallToolResult;
    expect(len.structuredContent).toEqual({ result: 4 });
    const misc = (await client.callTool({ name: 'misc', arguments: {} })) as CallToolResult;
    expect(misc.structuredContent).toBeUndefined();
    expect(text(misc)).toBe('null');
  });

  it('returns errors as isError results, never as protocol errors', async () => {
    const client = await connected(fakeBackend(caps, true).backend);
    const gate = (await client.callTool({ name: 'substrate_register', arguments: { source: 'x' } })) as CallToolResult;
    expect(gate.isError).toBe(true);
    expect(text(gate)).toContain('Failing test: "adds" of a.b 2.0.0');
    expect(text(gate)).toContain('Expected: {"sum":3}');
    expect(text(gate)).toContain('Actual:   {"sum":4}');
    const params = (await client.callTool({ name: 'substrate_rollback', arguments: {} })) as CallToolResult;
    expect(params.isError).toBe(true);
    expect(text(params)).toContain("at 'name'");
    const missing = (await client.callTool({ name: 'nope__gone', arguments: {} })) as CallToolResult;
    expect(missing.isError).toBe(true);
    expect(text(missing)).toContain('NOT_FOUND');
    const weird = (await client.callTool({ name: 'Not A Tool', arguments: {} })) as CallToolResult;
    expect(weird.isError).toBe(true);

    const reader = await connected(fakeBackend(caps, false).backend);
    const refused = (await reader.callTool({ name: 'substrate_register', arguments: { source: 'x' } })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(text(refused)).toContain('not allowed for role client');
  });

  it('formats compile errors, bad inputs and limits for a model', () => {
    expect(formatToolError(toToolError(fail('COMPILE_ERROR', 'line 3, column 5: x', { line: 3, column: 5, message: "';' expected." })), 't')).toContain(
      "COMPILE_ERROR at line 3, column 5: ';' expected.",
    );
    expect(formatToolError(toToolError(fail('INVALID_INPUT', 'must be string', { path: '/text' })), 'text__wordcount')).toContain('INVALID_INPUT at /text');
    expect(formatToolError(toToolError(fail('TIMEOUT', 'took too long', { timeoutMs: 2000 })), 't')).toContain('timeoutMs=2000');
    expect(formatToolError(toToolError(fail('MEMORY_LIMIT', 'out of memory', { memoryMb: 64 })), 't')).toContain('memoryMb=64');
  });

  it('sends list_changed after a commit and lists again', async () => {
    const fake = fakeBackend(caps.slice(0, 1), true);
    const client = await connected(fake.backend);
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changed++;
    });
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain('str__len');
    const before = fake.calls.filter((c) => c.method === 'capabilities/list').length;
    await client.listTools();
    expect(fake.calls.filter((c) => c.method === 'capabilities/list').length).toBe(before);
    fake.commit();
    for (let i = 0; i < 100 && changed === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(changed).toBe(1);
    await client.listTools();
    expect(fake.calls.filter((c) => c.method === 'capabilities/list').length).toBe(before + 1);
  });
});
