// `substrate secrets set | list | remove`, `substrate effects` and the destinations in `show`,
// `graph` and `impact`, through the real binary against a real kernel: the value only ever on
// stdin and never printed, exit codes, tables and --json.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from './cli-run.ts';
import type { EffectsListResult, SecretsListResult } from '../kernel/api.ts';
import { startTestKernel, type TestKernel } from './helpers.ts';

const VALUE = 'ghp_cli_value_0123456789';
let k: TestKernel;

function run(args: string[], input?: string, token = k.operatorToken): Promise<CliResult> {
  return runCli(['--url', k.url, '--token', token, ...args], input === undefined ? {} : { input });
}

beforeAll(async () => {
  k = await startTestKernel();
});
afterAll(async () => {
  await k?.stop();
});

describe('substrate secrets', () => {
  it('set reads the value from stdin (less one newline) and never prints it', async () => {
    const set = await run(['secrets', 'set', 'github', '--hosts', 'api.github.com,*.github.io'], `${VALUE}\n`);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe('stored secret github: Authorization: Bearer {} to api.github.com, *.github.io\n');
    expect(set.stdout + set.stderr).not.toContain(VALUE);
    expect(k.kernel.secrets.resolve('github')?.value).toBe(VALUE);

    const json = await run(['secrets', 'set', 'github', '--hosts', 'api.github.com', '--header', 'X-Token', '--format', 'token {}', '--json'], VALUE);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ name: 'github', header: 'X-Token', format: 'token {}', replaced: true });
    expect(json.stdout).not.toContain(VALUE);
  });

  it('list and remove (also spelled secret ls / rm)', async () => {
    const ls = await run(['secrets', 'list']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/^NAME\s+HOSTS\s+HEADER\s+FORMAT\s+CREATED\n/);
    expect(ls.stdout).toMatch(/github\s+api\.github\.com\s+X-Token\s+token \{\}/);
    expect(ls.stdout).not.toContain(VALUE);
    const doc = JSON.parse((await run(['secret', 'ls', '--json'])).stdout) as SecretsListResult;
    expect(doc.items.map((i) => i.name)).toEqual(['github']);
    const rm = await run(['secret', 'rm', 'github']);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout).toBe('removed secret github\n');
    const again = await run(['secrets', 'remove', 'github']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: NOT_FOUND: no secret 'github'/);
    expect((await run(['secrets', 'list'])).stdout).toBe('no secrets\n');
  });

  it('refuses an empty value and a missing --hosts as bad usage, bad input and agents as kernel errors', async () => {
    const empty = await run(['secrets', 'set', 'x', '--hosts', 'a.example'], '\n');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('the secret value is empty');
    const noHosts = await run(['secrets', 'set', 'x'], 'v');
    expect(noHosts.code).toBe(2);
    const crlf = await run(['secrets', 'set', 'x', '--hosts', 'a.example'], 'a\r\nb');
    expect(crlf.code).toBe(1);
    expect(crlf.stderr).toMatch(/^error: INVALID_INPUT: the secret value contains a control character/);
    const noBraces = await run(['secrets', 'set', 'x', '--hosts', 'a.example', '--format', 'Bearer'], 'v');
    expect(noBraces.code).toBe(1);
    expect(noBraces.stderr).toMatch(/^error: INVALID_INPUT: format "Bearer" has no \{\}/);
    const agent = k.auth.create('agent', 'cli-agent');
    const refused = await run(['secrets', 'set', 'x', '--hosts', 'a.example'], 'v', agent.token);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: FORBIDDEN: role 'agent' may not call secrets\/set/);
  });
});

describe('substrate effects, and destinations in show, graph and impact', () => {
  it('effects prints the journal as a table, and --json', async () => {
    const op = await k.client();
    await op.call('capabilities/register', {
      source:
        'export const manifest = { name: "cli.fetch", version: "1.0.0", description: "fetches", effects: { http: [{ host: "api.example.com", methods: ["GET"], secrets: ["github"] }, "*.cdn.test"] } };\nexport default async function (input) { return input; }\n',
    });
    await op.call('capabilities/register', {
      source: 'export const manifest = { name: "cli.user", version: "1.0.0", description: "uses", dependencies: { "cli.fetch": "^1.0.0" } };\nexport default async function (input) { return input; }\n',
    });
    const base = { invocationId: 'inv_cli', name: 'cli.fetch', version: '1.0.0', hash: 'sha256:x', principal: 'local', principalName: 'local', requestBytes: 0, durationMs: 41.6, response: null };
    k.kernel.effects.record({ ...base, id: 'eff_1', at: Date.now() - 5000, method: 'GET', url: 'https://api.example.com/a', finalUrl: 'https://api.example.com/b', status: 200, error: null, responseBytes: 2048, replayed: false });
    k.kernel.effects.record({ ...base, id: 'eff_2', at: Date.now(), method: 'GET', url: 'https://x.cdn.test/', finalUrl: 'https://x.cdn.test/', status: null, error: 'connect ECONNREFUSED', responseBytes: 0, replayed: true });
    const table = await run(['effects']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^AT\s+CAPABILITY\s+METHOD\s+URL\s+STATUS\s+BYTES\s+MS\s+REPLAYED\n/);
    expect(table.stdout).toMatch(/cli\.fetch@1\.0\.0\s+GET\s+https:\/\/x\.cdn\.test\/\s+connect ECONNREFUSED\s+0 B\s+42\s+yes/);
    expect(table.stdout).toMatch(/https:\/\/api\.example\.com\/a -> https:\/\/api\.example\.com\/b\s+200\s+2\.0 KiB\s+42/);
    const json = JSON.parse((await run(['effects', 'cli.fetch', '--invocation', 'inv_cli', '--limit', '1', '--json'])).stdout) as EffectsListResult;
    expect(json.items.map((i) => i.id)).toEqual(['eff_2']);
    expect(json.nextCursor).not.toBeNull();
    expect((await run(['effects', 'nobody.here'])).stdout).toBe('no requests recorded\n');
    const client = k.auth.create('client', 'cli-client');
    expect((await run(['effects'], undefined, client.token)).code).toBe(1);
  });

  it('show, graph and impact name the declared destinations', async () => {
    const show = await run(['show', 'cli.fetch']);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/http\s+api\.example\.com \(GET; secrets github\), \*\.cdn\.test/);
    expect((await run(['show', 'cli.user'])).stdout).toMatch(/http\s+none/);
    const graph = await run(['graph']);
    expect(graph.stdout).toContain('http destinations\n  cli.fetch@1.0.0  api.example.com (GET; secrets github), *.cdn.test\n');
    const impact = await run(['impact', 'cli.fetch']);
    expect(impact.stdout).toContain('These reach the network (effects.http):\n  cli.fetch@1.0.0  api.example.com (GET; secrets github), *.cdn.test\n');
  });
});
