// `substrate mcp` over stdio: the acceptance scenarios with the official SDK client spawning the
// CLI, which forwards to a real kernel over the WebSocket protocol.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startKernel, type RunningKernel } from '../kernel/index.ts';
import { mcpAcceptance, type McpHarness } from './mcp.scenarios.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let running: RunningKernel;
let dataDir: string;
const clients = new Set<Client>();

function transportFor(token: string): StdioClientTransport {
  return new StdioClientTransport({
    command: process.execPath,
    args: ['--no-node-snapshot', path.join(root, 'cli/substrate.js'), 'mcp', '--url', running.url, '--token', token],
    cwd: root,
    stderr: 'pipe',
  });
}

async function connect(token: string): Promise<Client> {
  const client = new Client({ name: 'mcp-stdio-test', version: '1.0.0' });
  const transport = transportFor(token);
  let stderr = '';
  transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  try {
    await client.connect(transport);
  } catch (e) {
    throw new Error(`substrate mcp did not start: ${(e as Error).message}\n${stderr}`, { cause: e });
  }
  clients.add(client);
  const close = client.close.bind(client);
  client.close = async () => {
    clients.delete(client);
    await close();
  };
  return client;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-mcp-stdio-'));
  running = await startKernel({ dataDir, port: 0, workers: 1, example: true });
});

afterAll(async () => {
  // Closing the client ends the spawned process (stdin closes, then SIGTERM/SIGKILL if needed).
  for (const c of [...clients]) await c.close();
  await running?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('MCP over stdio (substrate mcp)', () => {
  mcpAcceptance((): McpHarness => ({ running, connect }));

  it('ends when the MCP client closes its stdin', async () => {
    const client = await connect(running.operatorToken);
    const pid = (client.transport as StdioClientTransport).pid;
    expect(pid).toBeTruthy();
    await client.close();
    const alive = (): boolean => {
      try {
        process.kill(pid!, 0);
        return true;
      } catch {
        return false;
      }
    };
    const until = Date.now() + 10_000;
    while (alive() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });
});
