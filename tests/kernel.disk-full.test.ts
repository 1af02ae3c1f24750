// A disk that fills up, for real: the kernel runs as its own process with its data directory on a
// 3 MiB tmpfs (mounted in a user and mount namespace of its own, `unshare -rm`, so no privilege is
// needed and nothing is left mounted). Writes until the disk is full must get a typed error that
// names the data directory; every write acknowledged before stays readable, and the kernel keeps
// serving, also after kill -9 and a restart on the same full disk.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RpcError, SubstrateClient } from '../kernel/client.ts';
import { cap, tmpDir } from './helpers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = path.join(ROOT, 'tests', 'fixtures', 'run-kernel.ts');
const work = tmpDir();
let child: ChildProcess | undefined;

afterAll(() => {
  if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
});

describe('a full disk', () => {
  it('fails writes with STORAGE_FULL naming the data directory and loses nothing acknowledged', async () => {
    const mnt = path.join(work, 'mnt');
    const dataDir = path.join(mnt, 'data');
    fs.mkdirSync(mnt);
    // Two kernels, one after the other, on the same tmpfs (it lives as long as the namespace).
    const node = `${JSON.stringify(process.execPath)} --no-node-snapshot --import tsx ${JSON.stringify(FIXTURE)} ${JSON.stringify(dataDir)} 1`;
    const script = `mount -t tmpfs -o size=3m tmpfs ${JSON.stringify(mnt)} && ${node}; ${node}`;
    child = spawn('unshare', ['-rm', 'sh', '-c', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const next = async (): Promise<{ url: string; token: string; pid: number }> => {
      const r = await lines.next();
      if (r.done) throw new Error(`the kernel did not start: ${stderr}`);
      return JSON.parse(r.value) as { url: string; token: string; pid: number };
    };

    const first = await next();
    let c = await SubstrateClient.connect(first.url, { token: first.token });
    await c.call('capabilities/register', {
      source: cap({ name: 'fill', body: `await ctx.state.set(input.key, 'x'.repeat(input.size)); return input.key;`, limits: { timeoutMs: 20_000 } }),
    });
    const acked: string[] = [];
    let full: RpcError | undefined;
    for (let i = 0; i < 200 && !full; i++) {
      try {
        await c.call('capabilities/invoke', { name: 'fill', input: { key: `k${i}`, size: 200_000 } });
        acked.push(`k${i}`);
      } catch (e) {
        if (!(e instanceof RpcError)) throw e;
        full = e;
      }
    }
    expect(full, 'the disk never filled').toBeDefined();
    // JSON-RPC's internal error (the kernel could not do it), told apart by data.type.
    expect(full!.code).toBe(-32603);
    expect(full!.data).toEqual({ type: 'STORAGE_FULL', dataDir });
    expect(full!.message).toContain(dataDir);
    expect(acked.length).toBeGreaterThan(0);
    // The kernel serves on, and every acknowledged write reads back whole.
    expect((await c.call('kernel/info')).version).toBeTruthy();
    for (const key of acked) expect(((await c.call('state/get', { namespace: 'fill', key })) as { value: string }).value.length).toBe(200_000);
    const failedKey = `k${acked.length}`;
    await expect(c.call('state/get', { namespace: 'fill', key: failedKey })).rejects.toMatchObject({ type: 'NOT_FOUND' });
    c.close();

    // kill -9 of the kernel (its workers follow), then the second kernel opens the same full disk.
    process.kill(first.pid, 'SIGKILL');
    const second = await next();
    c = await SubstrateClient.connect(second.url, { token: second.token });
    for (const key of acked) expect(((await c.call('state/get', { namespace: 'fill', key })) as { value: string }).value.length).toBe(200_000);
    c.close();
    process.kill(-child.pid!, 'SIGKILL');
  });
});
