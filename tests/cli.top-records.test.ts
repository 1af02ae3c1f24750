// `substrate top` and `substrate records` through the real binary against a real kernel: top's one
// snapshot when piped and with --json, the records table, name@version and --json, the owner rule.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from './cli-run.ts';
import type { ResultOf } from '../capabilities/protocol/methods.ts';
import { cap, startTestKernel, type TestKernel } from './helpers.ts';

let k: TestKernel;

function run(token: string, ...args: string[]): Promise<CliResult> {
  return runCli(['--url', k.url, '--token', token, ...args]);
}

beforeAll(async () => {
  k = await startTestKernel();
  const op = await k.client();
  await op.call('capabilities/register', { source: cap({ name: 'ct.echo', body: 'if (input.fail) throw new Error("no"); return { echoed: input };' }) });
  await op.call('capabilities/register', { source: cap({ name: 'ct.echo', version: '1.1.0', body: 'return { v2: input };' }) });
  for (let i = 0; i < 4; i++) await op.call('capabilities/invoke', { name: 'ct.echo', input: { i } });
  await op.call('capabilities/invoke', { name: 'ct.echo', version: '1.0.0', input: { i: 9 } });
  await op.call('capabilities/invoke', { name: 'ct.echo', version: '1.0.0', input: { fail: true } }).catch(() => undefined);
}, 120_000);
afterAll(async () => {
  await k?.stop();
});

describe('substrate top', () => {
  it('--json: one metrics/get snapshot over the window', async () => {
    const r = await run(k.operatorToken, 'top', 'ct.echo', '--window', '60', '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as ResultOf<'metrics/get'>;
    expect(doc.windowS).toBe(60);
    expect(doc.items.map((i) => [i.version, i.current, i.calls, i.errors])).toEqual([
      ['1.1.0', true, 4, 0],
      ['1.0.0', false, 2, 1],
    ]);
  });

  it('piped: one table, busiest first, and the process ends', async () => {
    const r = await run(k.operatorToken, 'top', '--window', '600');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^last 600s, since /);
    expect(lines[1]).toMatch(/^NAME\s+VERSION\s+CALLS\/S\s+CALLS\s+ERRORS\s+P50 MS\s+P99 MS/);
    expect(lines[2]).toMatch(/^ct\.echo\s+1\.1\.0\s+0\.01\s+4\s+0\s/);
    expect(lines[3]).toMatch(/^ct\.echo\s+1\.0\.0\s+0\.00\s+2\s+1 \(CAPABILITY_ERROR 1\)/);
  });
});

describe('substrate records', () => {
  it('a table of the newest calls, of one version with name@version', async () => {
    const all = await run(k.operatorToken, 'records', 'ct.echo');
    expect(all.code, all.stderr).toBe(0);
    const lines = all.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^AT\s+VERSION\s+INPUT\s+RESULT\s+MS\s+READS\s+EGRESS\s+REPLAYABLE$/);
    expect(lines).toHaveLength(7);
    expect(lines[1]).toMatch(/1\.0\.0\s+\{"fail":true\}\s+CAPABILITY_ERROR: no\b.*\s0\s+0\s+yes$/);
    expect(lines[2]).toMatch(/1\.0\.0\s+\{"i":9\}\s+\{"echoed":\{"i":9\}\}/);
    for (const args of [['ct.echo@1.1.0']]) {
      const one = await run(k.operatorToken, 'records', ...args, '--limit', '2');
      expect(one.code, one.stderr).toBe(0);
      const rows = one.stdout.trim().split('\n').slice(1);
      expect(rows).toHaveLength(2);
      for (const row of rows) expect(row).toMatch(/1\.1\.0\s+\{"i":\d\}\s+\{"v2":/);
      expect(one.stderr).toContain('more: --limit 4');
    }
  });

  it('--json: the records whole; other agents are refused (exit 1)', async () => {
    const r = await run(k.operatorToken, 'records', 'ct.echo@1.0.0', '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as ResultOf<'records/list'>;
    expect(doc.items.map((i) => i.input)).toEqual([{ fail: true }, { i: 9 }]);
    expect(doc.items[1]).toMatchObject({ output: { echoed: { i: 9 } }, reads: [], egress: [], replayable: true });
    const agent = k.auth.create('agent', 'nosy');
    const refused = await run(agent.token, 'records', 'ct.echo');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('FORBIDDEN');
  });
});
