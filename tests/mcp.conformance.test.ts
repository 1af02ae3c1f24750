// The official MCP conformance suite (@modelcontextprotocol/conformance, its `server` command and
// every server scenario it has, pending ones included) against a real kernel's /mcp, with an agent
// token. Scenarios that apply must pass every check; those that test features Substrate does not
// offer (prompts, resources, logging, completion, sampling, elicitation) or tools only the suite's
// reference server has must fail for exactly that reason, so that this table, and the one in
// docs/mcp.md, cannot go stale. The CLI runs under tests/conformance/preload.mjs (Node 20 and the
// bearer token: see there).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cap, startTestKernel, tmpDir, type TestKernel } from './helpers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const PRELOAD = path.join(ROOT, 'tests/conformance/preload.mjs');

type Status = 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
interface Check {
  id: string;
  status: Status;
  errorMessage?: string;
  details?: Record<string, unknown>;
}

/** Scenarios that apply to Substrate: every check must be SUCCESS (or INFO, which records). */
const APPLIES = ['server-initialize', 'ping', 'tools-list', 'server-sse-multiple-streams', 'dns-rebinding-protection'] as const;

/** Scenarios whose checks pass although their fixture tool cannot exist here (see docs/mcp.md). */
const VACUOUS = {
  'tools-call-error': 'test_error_handling',
  'tools-call-simple-text': 'test_simple_text',
} as const;

/** Scenarios that do not apply, and the failure each must show for that reason. */
const DOES_NOT_APPLY: Record<string, RegExp> = {
  // Capabilities the server does not declare: the method is not there.
  'logging-set-level': /Method not found/,
  'tools-call-with-logging': /Method not found/,
  'completion-complete': /Method not found/,
  'resources-list': /Method not found/,
  'resources-read-text': /Method not found/,
  'resources-read-binary': /Method not found/,
  'resources-templates-read': /Method not found/,
  'resources-subscribe': /Method not found/,
  'resources-unsubscribe': /Method not found/,
  'prompts-list': /Method not found/,
  'prompts-get-simple': /Method not found/,
  'prompts-get-with-args': /Method not found/,
  'prompts-get-embedded-resource': /Method not found/,
  'prompts-get-with-image': /Method not found/,
  // The server never asks the client to sample or elicit.
  'tools-call-sampling': /did not request sampling/,
  'tools-call-elicitation': /did not request elicitation/,
  'elicitation-sep1034-defaults': /did not request elicitation/,
  'elicitation-sep1330-enums': /did not request elicitation/,
  // Fixture tools of the suite's reference server (names with `_`, which no capability tool has).
  'tools-call-image': /No image content/,
  'tools-call-audio': /No audio content/,
  'tools-call-embedded-resource': /No resource content/,
  'tools-call-mixed-content': /Expected multiple content items/,
  'tools-call-with-progress': /No progress notifications/,
  'json-schema-2020-12': /Tool 'json_schema_2020_12_tool' not found/,
  'server-sse-polling': /Tool call failed/,
};

let k: TestKernel;
let out: string;
let run: { code: number | null; stdout: string; stderr: string };
const results = new Map<string, Check[]>();

/** The conformance CLI as a child process (the kernel serves it from this one meanwhile). */
function conformance(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', PRELOAD, CLI, ...args], {
      cwd: out,
      env: { ...process.env, ...env, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function checks(scenario: string): Check[] {
  const c = results.get(scenario);
  if (!c) throw new Error(`no results for ${scenario}:\n${run.stdout}\n${run.stderr}`);
  return c;
}

function summary(c: Check[]): string {
  return c.map((x) => `${x.status} ${x.id}${x.errorMessage ? `: ${x.errorMessage}` : ''}`).join('\n');
}

beforeAll(async () => {
  out = tmpDir('substrate-conformance-');
  k = await startTestKernel({ host: '127.0.0.1' });
  const agent = k.auth.create('agent', 'conformance');
  // A capability, so that tools-list checks a capability tool beside the management tools.
  const c = await k.client(agent.token);
  await c.call('capabilities/register', {
    source: cap({
      name: 'text.upper',
      inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
      body: 'return { text: input.text.toUpperCase() };',
    }),
  });
  const url = `http://127.0.0.1:${k.port}/mcp`;
  const env = { SUBSTRATE_CONFORMANCE_URL: url, SUBSTRATE_CONFORMANCE_TOKEN: agent.token };
  run = await conformance(['server', '--url', url, '--suite', 'all', '-o', path.join(out, 'results')], env);
  for (const dir of fs.readdirSync(path.join(out, 'results'))) {
    const m = /^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$/.exec(dir);
    if (m) results.set(m[1], JSON.parse(fs.readFileSync(path.join(out, 'results', dir, 'checks.json'), 'utf8')) as Check[]);
  }
}, 300_000);

afterAll(async () => {
  await k?.stop();
  if (out) fs.rmSync(out, { recursive: true, force: true });
});

describe('MCP conformance suite against /mcp', () => {
  it('runs every server scenario of the installed suite, each one classified here', () => {
    const known = [...APPLIES, ...Object.keys(VACUOUS), ...Object.keys(DOES_NOT_APPLY)].sort();
    expect([...results.keys()].sort(), `${run.stdout}\n${run.stderr}`).toEqual(known);
  });

  for (const scenario of APPLIES) {
    it(`${scenario} passes`, () => {
      const c = checks(scenario);
      expect(c.length).toBeGreaterThan(0);
      expect(c.filter((x) => x.status !== 'SUCCESS' && x.status !== 'INFO'), summary(c)).toEqual([]);
      expect(c.some((x) => x.status === 'SUCCESS'), summary(c)).toBe(true);
    });
  }

  it('dns-rebinding-protection is refused by the Host/Origin check (403), not by authentication', () => {
    const c = checks('dns-rebinding-protection');
    expect(c.find((x) => x.id === 'localhost-host-rebinding-rejected')?.details).toMatchObject({ statusCode: 403, body: { error: { data: { type: 'FORBIDDEN', header: 'host' } } } });
    expect(c.find((x) => x.id === 'localhost-host-valid-accepted')?.details).toMatchObject({ statusCode: 200 });
  });

  it('tools-list saw the capability tool and the management tools', () => {
    const c = checks('tools-list');
    expect(c[0].details?.tools).toEqual(expect.arrayContaining(['text__upper', 'substrate_register']));
  });

  for (const [scenario, tool] of Object.entries(VACUOUS)) {
    it(`${scenario} passes only on the NOT_FOUND error result for ${tool}`, () => {
      const c = checks(scenario);
      expect(c.map((x) => x.status), summary(c)).toEqual(['SUCCESS']);
      expect(c[0].details?.result).toMatchObject({ isError: true, _meta: { 'substrate/error': { type: 'NOT_FOUND', data: { tool } } } });
    });
  }

  for (const [scenario, reason] of Object.entries(DOES_NOT_APPLY)) {
    it(`${scenario} does not apply: fails with ${reason.source}`, () => {
      const c = checks(scenario);
      const failures = c.filter((x) => x.status === 'FAILURE');
      expect(failures.length, summary(c)).toBeGreaterThan(0);
      expect(failures.some((x) => reason.test(x.errorMessage ?? '')), summary(c)).toBe(true);
    });
  }

  it('leaves the kernel serving', async () => {
    const c = await k.client();
    expect(await c.call('capabilities/invoke', { name: 'text.upper', input: { text: 'ok' } })).toMatchObject({ output: { text: 'OK' } });
  });
});
