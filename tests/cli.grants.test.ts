// `substrate grant add | ls | revoke` and `substrate logs` as an agent, through the real binary
// against a real kernel: exit codes, human and --json output, the owner/operator rule.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from './cli-run.ts';
import type { GrantInfo, GrantListResult, LogsResult, TokenCreateResult } from '../kernel/api.ts';
import { cap, startTestKernel, type TestKernel } from './helpers.ts';


let k: TestKernel;
let alice: TokenCreateResult;
let bob: TokenCreateResult;

function run(token: string, ...args: string[]): Promise<CliResult> {
  return runCli(['--url', k.url, '--token', token, ...args]);
}

beforeAll(async () => {
  k = await startTestKernel();
  alice = k.auth.create('agent', 'alice');
  bob = k.auth.create('agent', 'bob');
  const a = await k.client(alice.token);
  await a.call('capabilities/register', { source: cap({ name: 'cli.owner', shared: { 'cli.data': 'rw' }, body: 'ctx.log("owner ran"); return null;' }) });
  await a.call('capabilities/invoke', { name: 'cli.owner', input: null });
  const b = await k.client(bob.token);
  await b.call('capabilities/register', { source: cap({ name: 'cli.other', body: 'ctx.log("other ran"); return null;' }) });
  await b.call('capabilities/invoke', { name: 'cli.other', input: null });
});
afterAll(async () => {
  await k?.stop();
});

describe('substrate grant', () => {
  it('the owner grants, lists and revokes; a non-owner is refused with exit 1', async () => {
    const refused = await run(bob.token, 'grant', 'add', bob.id, 'namespace', 'cli.data');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: FORBIDDEN: .*owned by alice/);

    const add = await run(alice.token, 'grant', 'add', bob.id, 'namespace', 'cli.data', '--mode', 'rw');
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/^granted grt_\S+: bob may read and write namespace cli\.data/);

    const ls = await run(alice.token, 'grant', 'ls');
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/^ID\s+PRINCIPAL\s+KIND\s+TARGET\s+MODE\s+BY\s+CREATED/);
    expect(ls.stdout).toMatch(new RegExp(`bob \\(${bob.id}\\)\\s+namespace\\s+cli\\.data\\s+rw\\s+alice`));
    expect(ls.stdout).toMatch(/cli\.data\s+alice\s+cli\.owner/);

    const json = await run(alice.token, 'grant', 'ls', bob.id, '--json');
    const doc = JSON.parse(json.stdout) as GrantListResult;
    expect(doc.items).toEqual([expect.objectContaining({ principal: bob.id, target: 'cli.data', mode: 'rw' })]);
    const id = (doc.items[0] as GrantInfo).id;

    const rv = await run(alice.token, 'grant', 'revoke', id);
    expect(rv.code, rv.stderr).toBe(0);
    expect(rv.stdout).toContain(`revoked ${id}`);
    expect(JSON.parse((await run(alice.token, 'grant', 'ls', '--json')).stdout).items).toEqual([]);

    const unknown = await run(alice.token, 'grant', 'revoke', 'grt_nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: NOT_FOUND: no grant 'grt_nope'/);

    const http = await run(k.operatorToken, 'grant', 'add', 'role:agent', 'http', 'API.example.com', '--methods', 'get,post');
    expect(http.code, http.stderr).toBe(0);
    expect(http.stdout).toMatch(/^granted grt_\S+: role:agent may send GET, POST to http api\.example\.com/);
    const httpLs = await run(k.operatorToken, 'grant', 'ls');
    expect(httpLs.stdout).toMatch(/role:agent\s+http\s+api\.example\.com\s+GET,POST\s+/);
    const byAgent = await run(alice.token, 'grant', 'add', bob.id, 'http', 'evil.example');
    expect(byAgent.code).toBe(1);
    expect(byAgent.stderr).toMatch(/^error: FORBIDDEN: only an operator may grant http/);
    const badPattern = await run(k.operatorToken, 'grant', 'add', bob.id, 'http', 'https://x.example/');
    expect(badPattern.code).toBe(1);
    expect(badPattern.stderr).toMatch(/^error: INVALID_INPUT: http grant target .*\(no scheme/);

    const usage = await run(alice.token, 'grant', 'add', bob.id, 'bucket', 'cli.data');
    expect(usage.code).toBe(2);
  });

  it('substrate logs shows an agent the lines of its own capabilities only', async () => {
    const mine = await run(alice.token, 'logs', '--json', '-n', '1000');
    expect(mine.code, mine.stderr).toBe(0);
    const names = new Set((JSON.parse(mine.stdout) as LogsResult).items.map((i) => i.name));
    expect(names).toEqual(new Set(['cli.owner']));
    const all = JSON.parse((await run(k.operatorToken, 'logs', '--json', '-n', '1000')).stdout) as LogsResult;
    expect(all.items.map((i) => i.name)).toEqual(expect.arrayContaining(['cli.owner', 'cli.other']));
    const other = await run(alice.token, 'logs', 'cli.other');
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/^error: FORBIDDEN: /);
  });
});
