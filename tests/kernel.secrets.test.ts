// Issue 13 item 3: secrets. Operators set, list and remove them; no result holds a value; the
// kernel's resolve() gives the request performer the value in clear. At rest the value is
// AES-256-GCM ciphertext under a key outside the database: neither the SQLite files nor a backup
// hold it in clear, the key file is 0600, and a kernel given the wrong key (or none) refuses to
// start with a clear error.

import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { SubstrateClient } from '../kernel/client.ts';
import { SECRETS_KEY_FILE } from '../kernel/secrets.ts';
import { StartError } from '../kernel/start-error.ts';
import { expectType, startTestKernel, tmpDir, type TestKernel } from './helpers.ts';

const VALUE = `sk-live-${randomBytes(12).toString('hex')}`;

let dir: string;
let k: TestKernel;
let op: SubstrateClient;

function filesHolding(d: string, needle: string): string[] {
  const hits: string[] = [];
  for (const f of readdirSync(d)) {
    const p = path.join(d, f);
    if (!statSync(p).isFile()) continue;
    const bytes = readFileSync(p);
    if (bytes.includes(Buffer.from(needle)) || bytes.includes(Buffer.from(needle, 'utf16le'))) hits.push(f);
  }
  return hits;
}

beforeAll(async () => {
  dir = tmpDir('substrate-secrets-');
  k = await startTestKernel({ dataDir: dir });
  op = await k.client();
});
afterAll(async () => {
  await k?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('secrets/set, list, remove', () => {
  it('stores a secret and never answers with its value', async () => {
    expect(readdirSync(dir)).not.toContain(SECRETS_KEY_FILE); // created with the first secret
    const res = await op.call('secrets/set', { name: 'github', value: VALUE, hosts: ['API.GitHub.com', '*.githubusercontent.com:443'] });
    expect(res).toEqual({ name: 'github', hosts: ['api.github.com', '*.githubusercontent.com:443'], header: 'Authorization', format: 'Bearer {}', createdAt: expect.any(String), replaced: false });
    expect(JSON.stringify(res)).not.toContain(VALUE);
    const again = await op.call('secrets/set', { name: 'github', value: VALUE, hosts: ['api.github.com'], header: 'X-Token', format: 'token {}' });
    expect(again).toMatchObject({ replaced: true, header: 'X-Token', format: 'token {}' });
    await op.call('secrets/set', { name: 'acme.api', value: 'other-value', hosts: ['10.0.0.5:8443'] });
    const list = await op.call('secrets/list', {});
    expect(list.items.map((i) => i.name)).toEqual(['acme.api', 'github']);
    expect(JSON.stringify(list)).not.toContain(VALUE);
    expect(list.items[1]).toEqual({ name: 'github', hosts: ['api.github.com'], header: 'X-Token', format: 'token {}', createdAt: expect.any(String) });
  });

  it('resolve() gives the kernel the value in clear', () => {
    const s = k.kernel.secrets.resolve('github');
    expect(s).toMatchObject({ name: 'github', value: VALUE, hosts: ['api.github.com'], header: 'X-Token', format: 'token {}' });
    expect(s?.destinations[0]).toMatchObject({ host: 'api.github.com', wildcard: false });
    expect(k.kernel.secrets.resolve('nope')).toBeNull();
  });

  it('bad input is refused, each with its typed error', async () => {
    const bad = async (params: Record<string, unknown>, field: string, text: RegExp) => {
      const e = await expectType(op.call('secrets/set', { name: 'x', value: 'v', hosts: ['a.example'], ...params } as never), 'INVALID_INPUT');
      expect(e.data).toMatchObject({ field });
      expect(e.message).toMatch(text);
      expect(e.message).not.toContain('s3cr3t');
    };
    await bad({ name: 'Not A Name' }, 'name', /dot-separated lowercase/);
    await bad({ value: 's3cr3t\r\nX-Injected: 1' }, 'value', /control character/);
    await bad({ value: 's3cr3t\n' }, 'value', /control character/);
    await bad({ hosts: ['a.example', 'https://b.example/'] }, 'hosts.1', /hosts\[1\].*no scheme/);
    await bad({ header: 'X Token' }, 'header', /not a header name/);
    await bad({ header: 'Bad:Header' }, 'header', /not a header name/);
    await bad({ header: 'Host' }, 'header', /set by the kernel/);
    await bad({ format: 'Bearer' }, 'format', /no \{\}/);
    await bad({ format: 'Bearer {}\r\n' }, 'format', /control character/);
    // Schema-level: an empty value or hosts list is -32602.
    await expect(op.call('secrets/set', { name: 'x', value: '', hosts: ['a.example'] })).rejects.toMatchObject({ code: -32602 });
    await expect(op.call('secrets/set', { name: 'x', value: 'v', hosts: [] })).rejects.toMatchObject({ code: -32602 });
    const nf = await expectType(op.call('secrets/remove', { name: 'never.set' }), 'NOT_FOUND');
    expect(nf.data).toMatchObject({ name: 'never.set' });
  });

  it('agents and clients may not call any of them', async () => {
    for (const role of ['agent', 'client'] as const) {
      const c = await k.client(k.auth.create(role, `${role}-s`).token);
      for (const [m, p] of [
        ['secrets/set', { name: 'github', value: 'mine', hosts: ['evil.example'] }],
        ['secrets/list', {}],
        ['secrets/remove', { name: 'github' }],
      ] as const) {
        const e = await expectType(c.call(m, p as never), 'FORBIDDEN');
        expect(e.data).toMatchObject({ role, method: m });
      }
    }
    expect(k.kernel.secrets.resolve('github')?.value).toBe(VALUE);
  });

  it('MCP: the secret tools are operators\' and no result echoes the value', async () => {
    const connect = async (token: string): Promise<Client> => {
      const c = new Client({ name: 'secrets-test', version: '1.0.0' });
      await c.connect(new StreamableHTTPClientTransport(new URL(`http://${k.host}:${k.port}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
      return c;
    };
    const opMcp = await connect(k.operatorToken);
    const agentMcp = await connect(k.auth.create('agent', 'mcp-agent').token);
    try {
      const mcpValue = `mcp-${VALUE}`;
      const set = (await opMcp.callTool({ name: 'substrate_secret_set', arguments: { name: 'mcp.one', value: mcpValue, hosts: ['mcp.example'] } })) as CallToolResult;
      expect(set.isError).toBeFalsy();
      expect(set.structuredContent).toMatchObject({ name: 'mcp.one', hosts: ['mcp.example'], replaced: false });
      expect(JSON.stringify(set)).not.toContain(mcpValue);
      const listed = (await opMcp.callTool({ name: 'substrate_secrets', arguments: {} })) as CallToolResult;
      expect(JSON.stringify(listed)).toContain('mcp.one');
      expect(JSON.stringify(listed)).not.toContain(mcpValue);
      const bad = (await opMcp.callTool({ name: 'substrate_secret_set', arguments: { name: 'mcp.two', value: `${mcpValue}\r\n`, hosts: ['mcp.example'] } })) as CallToolResult;
      expect(bad.isError).toBe(true);
      expect(JSON.stringify(bad)).not.toContain(mcpValue);
      const refused = (await agentMcp.callTool({ name: 'substrate_secret_set', arguments: { name: 'mcp.one', value: 'theirs', hosts: ['evil.example'] } })) as CallToolResult;
      expect(refused.isError).toBe(true);
      expect((refused._meta?.['substrate/error'] as { type?: string } | undefined)?.type).toBe('FORBIDDEN');
      expect(k.kernel.secrets.resolve('mcp.one')?.value).toBe(mcpValue);
      const removed = (await opMcp.callTool({ name: 'substrate_secret_remove', arguments: { name: 'mcp.one' } })) as CallToolResult;
      expect(removed.structuredContent).toEqual({ name: 'mcp.one', removed: true });
    } finally {
      await opMcp.close();
      await agentMcp.close();
    }
  });

  it('the key file is 0600 and neither the store nor a backup holds the value in clear', async () => {
    const keyFile = path.join(dir, SECRETS_KEY_FILE);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const backup = path.join(dir, 'backups', 'copy.db');
    await op.call('kernel/backup', { file: backup });
    expect(filesHolding(dir, VALUE)).toEqual([]);
    expect(filesHolding(path.dirname(backup), VALUE)).toEqual([]);
    // The ciphertext is there (the name is, in clear, as the associated data and the key).
    expect(filesHolding(path.dirname(backup), 'github')).toEqual(['copy.db']);
  });

  it('remove: the next resolve finds nothing', async () => {
    expect(await op.call('secrets/remove', { name: 'acme.api' })).toEqual({ name: 'acme.api', removed: true });
    expect(k.kernel.secrets.resolve('acme.api')).toBeNull();
    expect((await op.call('secrets/list', {})).items.map((i) => i.name)).toEqual(['github']);
  });

  it('a restart with the same key decrypts; a wrong or missing key file refuses to start', async () => {
    await k.stop();
    k = await startTestKernel({ dataDir: dir });
    op = await k.client();
    expect(k.kernel.secrets.resolve('github')?.value).toBe(VALUE);
    await k.stop();

    const keyFile = path.join(dir, SECRETS_KEY_FILE);
    const good = readFileSync(keyFile);
    writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    const wrong = await startTestKernel({ dataDir: dir }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(wrong).toBeInstanceOf(StartError);
    expect((wrong as StartError).code).toBe('SECRETS_KEY');
    expect((wrong as Error).message).toMatch(/is not the key the store's secrets were encrypted with.*SUBSTRATE_SECRETS_KEY_FILE/);

    rmSync(keyFile);
    const missing = await startTestKernel({ dataDir: dir }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((missing as StartError).code).toBe('SECRETS_KEY');
    expect((missing as Error).message).toContain('does not exist');

    writeFileSync(keyFile, 'not a key\n', { mode: 0o600 });
    const garbled = await startTestKernel({ dataDir: dir }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((garbled as Error).message).toMatch(/does not hold a 32-byte key/);

    // The key kept elsewhere (the option; SUBSTRATE_SECRETS_KEY_FILE is its default).
    const elsewhere = path.join(tmpDir('substrate-key-'), 'keys', 'substrate.key');
    mkdirSync(path.dirname(elsewhere), { recursive: true });
    writeFileSync(elsewhere, good, { mode: 0o600 });
    k = await startTestKernel({ dataDir: dir, secretsKeyFile: elsewhere });
    op = await k.client();
    expect(k.kernel.secrets.resolve('github')?.value).toBe(VALUE);
    rmSync(path.dirname(path.dirname(elsewhere)), { recursive: true, force: true });
  });

  it('a new key file elsewhere is created 0600 with the first secret', async () => {
    const d = tmpDir('substrate-secrets-new-');
    const keyFile = path.join(tmpDir('substrate-key-'), 'sub', 'k.key');
    const k2 = await startTestKernel({ dataDir: d, secretsKeyFile: keyFile });
    try {
      const c = await k2.client();
      await c.call('secrets/set', { name: 'one', value: VALUE, hosts: ['a.example'] });
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(readdirSync(d)).not.toContain(SECRETS_KEY_FILE);
      expect(filesHolding(d, VALUE)).toEqual([]);
    } finally {
      await k2.stop();
      rmSync(d, { recursive: true, force: true });
      rmSync(path.dirname(path.dirname(keyFile)), { recursive: true, force: true });
    }
  });
});
