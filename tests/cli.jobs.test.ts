// `substrate jobs` and `substrate schedules` through the real binary against a real kernel: human
// and --json output, retry and cancel, pause and resume, the owner rule and exit codes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from './cli-run.ts';
import type { TokenCreateResult } from '../kernel/api.ts';
import { cap, eventually, startTestKernel, type TestKernel } from './helpers.ts';


let k: TestKernel;
let alice: TokenCreateResult;
let bob: TokenCreateResult;
let failed: string;
let later: string;

function run(token: string, ...args: string[]): Promise<CliResult> {
  return runCli(['--url', k.url, '--token', token, ...args]);
}

beforeAll(async () => {
  k = await startTestKernel();
  alice = k.auth.create('agent', 'alice');
  bob = k.auth.create('agent', 'bob');
  const a = await k.client(alice.token);
  const fails = cap({ name: 'cj.fails', body: 'throw new Error("always");' }).replace('"description":"test capability cj.fails"', '"description":"test capability cj.fails","retry":{"attempts":1}');
  const ticks = cap({ name: 'cj.tick' }).replace('"description":"test capability cj.tick"', '"description":"test capability cj.tick","schedules":[{"cron":"0 3 * * *","timezone":"Europe/Berlin"}]');
  await a.call('capabilities/apply', {
    changes: [
      { op: 'register', source: fails },
      { op: 'register', source: ticks },
      { op: 'register', source: cap({ name: 'cj.enq', deps: { 'cj.fails': '^1', 'cj.tick': '^1' }, body: 'return [(await ctx.enqueue("cj.fails", 1)).jobId, (await ctx.enqueue("cj.tick", 2, { delayMs: 3600000 })).jobId];' }) },
    ],
  });
  [failed, later] = (await a.call('capabilities/invoke', { name: 'cj.enq', input: null })).output as string[];
  await eventually(async () => expect((await a.call('jobs/get', { id: failed })).status).toBe('dead'));
});
afterAll(async () => {
  await k?.stop();
});

describe('substrate jobs', () => {
  it('lists jobs as a table and as JSON, and shows one', async () => {
    const ls = await run(alice.token, 'jobs');
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/^ID\s+CAPABILITY\s+STATUS/m);
    expect(ls.stdout).toContain(failed);
    expect(ls.stdout).toMatch(/dead .*CAPABILITY_ERROR: always/);
    const json = JSON.parse((await run(alice.token, 'jobs', 'ls', '--status', 'pending', '--json')).stdout) as { items: Array<{ id: string }> };
    expect(json.items.map((j) => j.id)).toEqual([later]);
    const show = await run(bob.token, 'jobs', 'show', failed);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/status\s+dead/);
    expect((await run(alice.token, 'jobs', 'show', 'job_nope')).code).toBe(1);
    expect((await run(alice.token, 'jobs', 'ls', '--status', 'weird')).code).toBe(2);
  });

  it('retries and cancels for the owner; another agent is refused', async () => {
    const refused = await run(bob.token, 'jobs', 'cancel', later);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/FORBIDDEN/);
    const cancel = await run(alice.token, 'jobs', 'cancel', later);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(/cancelled/);
    const retry = await run(alice.token, 'jobs', 'retry', failed, '--json');
    expect(JSON.parse(retry.stdout)).toMatchObject({ id: failed, status: 'pending' });
  });
});

describe('substrate schedules', () => {
  it('lists schedules with their next run, pauses and resumes them', async () => {
    const ls = await run(bob.token, 'schedules');
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/cj\.tick\s+1\.0\.0\s+0\s+0 3 \* \* \*\s+Europe\/Berlin\s+latest\s+\S+T0[12]:00:00\.000Z\s+active/);
    expect((await run(bob.token, 'schedules', 'pause', 'cj.tick')).code).toBe(1);
    expect((await run(alice.token, 'schedules', 'pause', 'cj.tick')).stdout).toMatch(/paused the schedules of cj\.tick/);
    const paused = JSON.parse((await run(alice.token, 'schedules', '--json')).stdout) as { items: Array<{ paused: boolean }> };
    expect(paused.items[0].paused).toBe(true);
    expect((await run(alice.token, 'schedules', 'resume', 'cj.tick')).code).toBe(0);
  });
});
