// One kernel per data directory (contract guarantee 9) with real processes: a second `substrate
// start` on a directory in use is refused naming the directory and the holder's pid, and changes
// nothing of the first; kill -9 leaves no stale lock; the directory is created 0700 and the files
// in it are 0600 (also ones an older kernel left looser). A busy port is refused with a pointer to
// --port and nothing made in the data directory. GET /healthz and /readyz without a token.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SubstrateClient } from '../kernel/client.ts';
import { Server } from '../kernel/server.ts';
import { spawnKernel, type KernelProcess } from './kernel-process.ts';
import { startTestKernel, tmpDir } from './helpers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'cli', 'substrate.js');
const dirs: string[] = [];
const kernels: KernelProcess[] = [];

afterAll(async () => {
  for (const k of kernels) await k.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function fresh(): string {
  const d = tmpDir();
  dirs.push(d);
  return path.join(d, 'data');
}

async function spawned(dataDir: string): Promise<KernelProcess> {
  const k = await spawnKernel(dataDir, 1);
  kernels.push(k);
  return k;
}

/** `substrate start` as a user runs it; resolves when it exits (or kills it after 60 s). */
function substrateStart(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  for (const k of ['SUBSTRATE_URL', 'SUBSTRATE_TOKEN', 'SUBSTRATE_DATA']) delete env[k];
  const child = spawn(process.execPath, ['--no-node-snapshot', BIN, 'start', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
}

function mode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

function snapshot(dir: string): Record<string, { text: string; mtimeMs: number }> {
  const out: Record<string, { text: string; mtimeMs: number }> = {};
  for (const name of ['kernel.json', 'operator.token', 'kernel.lock']) {
    const f = path.join(dir, name);
    out[name] = { text: fs.readFileSync(f, 'utf8'), mtimeMs: fs.statSync(f).mtimeMs };
  }
  return out;
}

async function info(url: string, token: string): Promise<{ version: string }> {
  const c = await SubstrateClient.connect(url, { token });
  try {
    return await c.call('kernel/info');
  } finally {
    c.close();
  }
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

const httpUrl = (wsUrl: string, p: string): string => wsUrl.replace(/^ws/, 'http').replace(/\/$/, '') + p;

describe('one kernel per data directory', () => {
  it('refuses a second `substrate start` naming the directory and the pid, and leaves the first alone', async () => {
    const dataDir = fresh();
    const first = await spawned(dataDir);
    const before = snapshot(dataDir);
    const second = await substrateStart(['--data', dataDir, '--port', '0']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(dataDir);
    expect(second.stderr).toContain(`process ${first.pid}`);
    expect(second.stderr).toMatch(/in use/);
    expect(snapshot(dataDir)).toEqual(before);
    // The first still serves, with the same token.
    expect((await info(first.url, first.token)).version).toBeTruthy();
    const json = await substrateStart(['--data', dataDir, '--port', '0', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { type: 'DATA_DIR_IN_USE', data: { dataDir, pid: first.pid } } });
    expect((await info(first.url, first.token)).version).toBeTruthy();
    await first.stop();
  });

  it('an in-process second kernel on the same directory is refused too', async () => {
    const k = await startTestKernel({ dataDir: fresh() });
    await expect(startTestKernel({ dataDir: k.dataDir })).rejects.toMatchObject({ code: 'DATA_DIR_IN_USE', data: { pid: process.pid } });
    expect((await info(k.url, k.operatorToken)).version).toBeTruthy();
    await k.stop();
    // Released on close: the directory can be opened again at once.
    const again = await startTestKernel({ dataDir: k.dataDir });
    expect((await info(again.url, again.operatorToken)).version).toBeTruthy();
    await again.stop();
  });

  it('kill -9 leaves no stale lock: a restart on the directory works and keeps the token', async () => {
    const dataDir = fresh();
    const first = await spawned(dataDir);
    await first.kill9();
    // The lock file still names the dead kernel; the OS lock went with it.
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, 'kernel.lock'), 'utf8')).pid).toBe(first.pid);
    const second = await spawned(dataDir);
    expect(second.token).toBe(first.token);
    expect((await info(second.url, second.token)).version).toBeTruthy();
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, 'kernel.lock'), 'utf8')).pid).toBe(second.pid);
    await second.stop();
  });
});

describe('file modes', () => {
  it('creates the data directory 0700 and its files 0600', async () => {
    const dataDir = fresh();
    const k = await spawned(dataDir);
    await info(k.url, k.token); // a write-ahead log exists once the kernel has written
    expect(mode(dataDir)).toBe(0o700);
    for (const f of ['substrate.db', 'substrate.db-wal', 'substrate.db-shm', 'operator.token', 'kernel.lock', 'kernel.json']) {
      expect([f, mode(path.join(dataDir, f))]).toEqual([f, 0o600]);
    }
    await k.stop();
  });

  it('tightens the files of an existing directory to 0600 and leaves the directory as made', async () => {
    const dataDir = fresh();
    const k = await spawned(dataDir);
    await k.kill9(); // leaves substrate.db-wal and -shm behind
    fs.chmodSync(dataDir, 0o750);
    for (const f of ['substrate.db', 'substrate.db-wal', 'substrate.db-shm', 'operator.token']) fs.chmodSync(path.join(dataDir, f), 0o644);
    const again = await spawned(dataDir);
    for (const f of ['substrate.db', 'substrate.db-wal', 'substrate.db-shm', 'operator.token', 'kernel.json']) {
      expect([f, mode(path.join(dataDir, f))]).toEqual([f, 0o600]);
    }
    expect(mode(dataDir)).toBe(0o750);
    await again.stop();
  });
});

describe('a busy port', () => {
  it('says so, suggests --port, and creates nothing in the data directory', async () => {
    const blocker = http.createServer((_q, s) => s.end());
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const dataDir = fresh();
      const r = await substrateStart(['--data', dataDir, '--port', String(port)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${port}`);
      expect(r.stderr).toContain('--port');
      expect(fs.existsSync(dataDir)).toBe(false);
      // An existing directory is left without a store, a token or a lock.
      fs.mkdirSync(dataDir, { mode: 0o700 });
      const again = await substrateStart(['--data', dataDir, '--port', String(port)]);
      expect(again.code).toBe(1);
      expect(fs.readdirSync(dataDir)).toEqual([]);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});

describe('health', () => {
  it('GET /healthz and /readyz answer 200 without a token and reveal nothing', async () => {
    const k = await spawned(fresh());
    const h = await get(httpUrl(k.url, '/healthz'));
    const r = await get(httpUrl(k.url, '/readyz'));
    expect(h).toEqual({ status: 200, body: 'ok\n' });
    expect(r).toEqual({ status: 200, body: 'ok\n' });
    await k.stop();
  });

  it('/readyz answers 503 while the kernel is not ready, /healthz still 200', async () => {
    const k = await startTestKernel();
    let ready = false;
    const server = new Server(k.rpc, k.auth, { host: '127.0.0.1', port: 0, ready: () => ready });
    const addr = await server.listen();
    try {
      expect((await get(httpUrl(addr.url, '/readyz'))).status).toBe(503);
      expect((await get(httpUrl(addr.url, '/readyz'))).body).toBe('not ready\n');
      expect((await get(httpUrl(addr.url, '/healthz'))).status).toBe(200);
      ready = true;
      expect((await get(httpUrl(addr.url, '/readyz'))).status).toBe(200);
    } finally {
      await server.close();
      await k.stop();
    }
  });
});
