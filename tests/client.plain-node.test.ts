// `substrate/client` from plain Node (no tsx, no TypeScript loader): the package's export points at
// the dist/ that `npm install` builds (the `prepare` script), with .d.ts beside it.

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestKernel, tmpDir, type TestKernel } from './helpers.ts';

const repo = path.resolve(import.meta.dirname, '..');
let k: TestKernel;
let work: string;

beforeAll(async () => {
  k = await startTestKernel();
  work = tmpDir('substrate-plain-node-');
  mkdirSync(path.join(work, 'node_modules'));
  symlinkSync(repo, path.join(work, 'node_modules', 'substrate'), 'dir');
}, 60_000);

afterAll(async () => {
  await k?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function node(script: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = path.join(work, 'main.mjs');
  writeFileSync(file, script);
  return new Promise((resolve) => {
    // A clean environment for the loader: no NODE_OPTIONS (vitest may set some) and no tsx.
    execFile(process.execPath, [file], { cwd: work, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('substrate/client in plain Node', () => {
  it('is built with its type declarations', () => {
    expect(existsSync(path.join(repo, 'dist/kernel/client.js'))).toBe(true);
    expect(existsSync(path.join(repo, 'dist/kernel/client.d.ts'))).toBe(true);
  });

  it('imports, connects to a real kernel and calls it; errors are typed', async () => {
    const r = await node(
      `import { SubstrateClient, RpcError } from 'substrate/client';
const c = await SubstrateClient.connect(process.env.URL, { token: process.env.TOKEN });
const info = await c.call('kernel/info');
let type;
try { await c.call('capabilities/describe', { name: 'no.such' }); } catch (e) { type = e instanceof RpcError ? e.type : 'not an RpcError'; }
console.log(JSON.stringify({ generation: info.generation, hasVersion: typeof info.version === 'string', type }));
await c.close();
`,
      { URL: k.url, TOKEN: k.operatorToken },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ generation: expect.any(Number), hasVersion: true, type: 'NOT_FOUND' });
  }, 90_000);
});
