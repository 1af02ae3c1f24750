// Issue 5: graceful shutdown lets calls in flight finish; heartbeats drop a peer that stops answering.

import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SubstrateClient } from '../kernel/client.ts';
import { cap, eventually, startTestKernel, tmpDir } from './helpers.ts';
import { spawnKernel, type KernelProcess } from './kernel-process.ts';

const dirs: string[] = [];
let proc: KernelProcess | undefined;
afterAll(async () => {
  await proc?.kill9();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('lifecycle', () => {
  it('on SIGTERM the kernel stops accepting, lets the invocation in flight finish, then exits', async () => {
    const dataDir = tmpDir();
    dirs.push(dataDir);
    proc = await spawnKernel(dataDir);
    const client = await SubstrateClient.connect(proc.url, { token: proc.token });
    await client.call('capabilities/register', { source: cap({ name: 'slow.finish', body: 'await new Promise(r => setTimeout(r, 1500)); return "finished";' }) });
    const inFlight = client.call('capabilities/invoke', { name: 'slow.finish', input: null });
    await new Promise((r) => setTimeout(r, 300));
    const exited = new Promise<number | null>((r) => proc!.child.once('exit', (code) => r(code)));
    proc.child.kill('SIGTERM');
    expect((await inFlight).output).toBe('finished');
    // New connections are refused while it drains or once it is gone.
    await expect(SubstrateClient.connect(proc.url, { token: proc.token })).rejects.toThrow();
    expect(await exited).toBe(0);
    client.close();
  });

  it('a peer that stops answering pings is disconnected', async () => {
    const k = await startTestKernel({ heartbeatMs: 200 });
    try {
      const ws = new WebSocket(k.url, { headers: { Authorization: `Bearer ${k.operatorToken}` } });
      await new Promise((r) => ws.once('open', r));
      const closed = new Promise<void>((r) => ws.once('close', () => r()));
      // Stop reading: pings go unanswered.
      (ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
      expect(k.connections()).toBe(1);
      // Two heartbeats without a pong: the kernel terminates the connection.
      await eventually(() => expect(k.connections()).toBe(0), { timeoutMs: 10_000 });
      (ws as unknown as { _socket: import('node:net').Socket })._socket.resume();
      await closed;
    } finally {
      await k.stop();
    }
  });
});

