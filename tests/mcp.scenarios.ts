// The MCP acceptance scenarios of issue 7, written once and run over both transports
// (tests/mcp.http.test.ts, tests/mcp.stdio.test.ts) against a real kernel with the example graph.

import { expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { RunningKernel } from '../kernel/index.ts';

export interface McpHarness {
  running: RunningKernel;
  /** An initialized MCP client for a token. */
  connect(token: string): Promise<Client>;
}

export const MANAGEMENT = ['substrate_apply', 'substrate_describe', 'substrate_graph', 'substrate_impact', 'substrate_register', 'substrate_rollback'];

export async function waitFor(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

export function text(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

function greetSource(name: string, version: string, greeting: string): string {
  return `export const manifest = {
  name: ${JSON.stringify(name)},
  version: ${JSON.stringify(version)},
  description: "Greets someone",
  inputSchema: { type: "object", properties: { who: { type: "string" } }, required: ["who"] },
  outputSchema: { type: "object", properties: { greeting: { type: "string" } }, required: ["greeting"] },
  tests: [ { name: "greets Ada", input: { who: "Ada" }, expect: { greeting: "Hello, Ada!" } } ],
};
export default async function (input) {
  return { greeting: ${JSON.stringify(greeting)} + ", " + input.who + "!" };
}
`;
}

/** Registers the acceptance tests; `h()` is read when they run (after beforeAll). */
export function mcpAcceptance(h: () => McpHarness): void {
  it('lists every current capability as a tool, sorted, and calls one with a structured result', async () => {
    const { running, connect } = h();
    const client = await connect(running.operatorToken);
    try {
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      expect(names).toEqual([...names].sort());
      for (const m of MANAGEMENT) expect(names).toContain(m);
      for (const n of ['text__tokenize', 'text__wordcount', 'text__frequency', 'text__report']) expect(names).toContain(n);
      const wc = tools.find((t) => t.name === 'text__wordcount') as Tool;
      expect(wc.description).toContain('Counts words');
      expect(wc.inputSchema).toMatchObject({ type: 'object', required: ['text'] });
      expect(wc.outputSchema).toMatchObject({ type: 'object', required: ['words'] });
      expect(wc._meta).toMatchObject({ 'substrate/version': '1.0.0' });
      expect(String(wc._meta?.['substrate/hash'])).toMatch(/^sha256:/);
      // text.report declares no outputSchema
      expect(tools.find((t) => t.name === 'text__report')?.outputSchema).toBeUndefined();

      const r = await call(client, 'text__wordcount', { text: 'one two three' });
      expect(r.isError).toBeFalsy();
      expect(r.structuredContent).toEqual({ words: 3 });
      expect(JSON.parse(text(r))).toEqual({ words: 3 });

      const report = await call(client, 'text__report', { text: 'to be or not to be' });
      expect(report.isError).toBeFalsy();
      expect(report.structuredContent).toBeUndefined();
      expect(JSON.parse(text(report))).toMatchObject({ words: 6 });
    } finally {
      await client.close();
    }
  });

  it('registers a capability through substrate_register, announces list_changed, and serves the new tool', async () => {
    const { running, connect } = h();
    const client = await connect(running.operatorToken);
    try {
      let changed = 0;
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        changed++;
      });
      const before = (await client.listTools()).tools.map((t) => t.name);
      expect(before).not.toContain('demo__greet');

      const reg = await call(client, 'substrate_register', { source: greetSource('demo.greet', '1.0.0', 'Hello') });
      expect(reg.isError, text(reg)).toBeFalsy();
      expect(reg.structuredContent).toMatchObject({ name: 'demo.greet', version: '1.0.0', activated: true });
      expect(text(reg)).toContain('demo__greet');
      await waitFor(() => changed > 0, 'notifications/tools/list_changed');

      const { tools } = await client.listTools();
      const greet = tools.find((t) => t.name === 'demo__greet');
      expect(greet?._meta).toMatchObject({ 'substrate/version': '1.0.0', 'substrate/name': 'demo.greet' });
      const r = await call(client, 'demo__greet', { who: 'Grace' });
      expect(r.structuredContent).toEqual({ greeting: 'Hello, Grace!' });
    } finally {
      await client.close();
    }
  });

  it('refuses an upgrade whose gate fails with the failing test, expected and actual, and changes nothing', async () => {
    const { running, connect } = h();
    const client = await connect(running.operatorToken);
    try {
      const first = await call(client, 'substrate_register', { source: greetSource('demo.hello', '1.0.0', 'Hello') });
      expect(first.isError, text(first)).toBeFalsy();
      const generation = running.kernel.info().generation;

      const r = await call(client, 'substrate_register', { source: greetSource('demo.hello', '1.1.0', 'Hi') });
      expect(r.isError).toBe(true);
      const msg = text(r);
      expect(msg).toContain('GATE_FAILED');
      expect(msg).toContain('greets Ada');
      expect(msg).toContain('"Hello, Ada!"');
      expect(msg).toContain('"Hi, Ada!"');
      expect(r._meta?.['substrate/error']).toMatchObject({ type: 'GATE_FAILED', data: { test: 'greets Ada', expected: { greeting: 'Hello, Ada!' }, actual: { greeting: 'Hi, Ada!' } } });

      expect(running.kernel.info().generation).toBe(generation);
      const info = await running.rpc.dispatch({ principal: { id: 'local', name: 'local', role: 'operator' } }, 'kernel/info', undefined);
      expect((info as { generation: number }).generation).toBe(generation);
      const tool = (await client.listTools()).tools.find((t) => t.name === 'demo__hello');
      expect(tool?._meta?.['substrate/version']).toBe('1.0.0');
      const still = await call(client, 'demo__hello', { who: 'Ada' });
      expect(still.structuredContent).toEqual({ greeting: 'Hello, Ada!' });
    } finally {
      await client.close();
    }
  });

  it('turns a bad input and a compile error into isError results a model can act on', async () => {
    const { running, connect } = h();
    const client = await connect(running.operatorToken);
    try {
      const bad = await call(client, 'text__wordcount', { words: 'x' });
      expect(bad.isError).toBe(true);
      expect(text(bad)).toContain('INVALID_INPUT');
      expect(text(bad)).toContain('/text');

      const broken = await call(client, 'substrate_register', { source: 'export const manifest = { name: "demo.broken", version: "1.0.0" };\nexport default async function (input) {\n  return { x: ;\n}\n' });
      expect(broken.isError).toBe(true);
      expect(text(broken)).toMatch(/COMPILE_ERROR at line 3, column \d+/);
    } finally {
      await client.close();
    }
  });

  it('shows a client token no management tools and refuses them', async () => {
    const { running, connect } = h();
    const { token } = running.auth.create('client', `c-${Date.now()}`);
    const client = await connect(token);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('text__wordcount');
      for (const m of MANAGEMENT) expect(names).not.toContain(m);
      const r = await call(client, 'substrate_register', { source: greetSource('demo.sneaky', '1.0.0', 'Hello') });
      expect(r.isError).toBe(true);
      expect(text(r)).toContain('not allowed for role client');
      const d = await call(client, 'substrate_describe', { name: 'text.wordcount' });
      expect(d.isError).toBe(true);
      const ok = await call(client, 'text__wordcount', { text: 'still works' });
      expect(ok.structuredContent).toEqual({ words: 2 });
      expect((await running.kernel.list({ prefix: 'demo.sneaky' })).items).toEqual([]);
    } finally {
      await client.close();
    }
  });
}
