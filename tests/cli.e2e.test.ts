// The real `substrate` binary against a real kernel (startKernel on port 0 with the example graph):
// every command in human and --json form with its exit code, Graphviz accepting the dot output,
// Mermaid structure, logs --follow streaming, bad usage (exit 2, one-line hint), an unreachable URL
// and refused tokens (exit 1 with what to do).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startKernel, type RunningKernel } from '../kernel/index.ts';
import { SubstrateClient } from '../kernel/client.ts';
import type { DescribeResult, GraphResult, HistoryResult, ImpactResult, InvokeResult, ListResult } from '../kernel/api.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'cli', 'substrate.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let kernel: RunningKernel;
let dataDir: string;
let work: string;
const children = new Set<ChildProcess>();

/** The environment of every CLI run: nothing inherited that would point it elsewhere. */
function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of ['SUBSTRATE_URL', 'SUBSTRATE_TOKEN', 'SUBSTRATE_DATA', 'FORCE_COLOR']) if (!(k in extra)) delete env[k];
  return env;
}

function start(args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, ['--no-node-snapshot', BIN, ...args], {
    cwd: work,
    env: baseEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = start(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** A command against the test kernel, found through its data directory (kernel.json, operator.token). */
function sub(...args: string[]): Promise<Run> {
  return run(['--data', dataDir, ...args]);
}

/** The same with --json: exactly one JSON document on stdout. */
async function subJson<T>(...args: string[]): Promise<{ code: number | null; doc: T; stderr: string }> {
  const r = await sub(...args, '--json');
  let doc: T;
  try {
    doc = JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not one JSON document (exit ${r.code}):\n${r.stdout}\n--- stderr:\n${r.stderr}`);
  }
  return { code: r.code, doc, stderr: r.stderr };
}

function ok(r: Run): Run {
  if (r.code !== 0) throw new Error(`exit ${r.code}\n--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`);
  expect(r.stdout).not.toContain('\x1b['); // piped: no colour
  return r;
}

function file(name: string, text: string): string {
  const p = path.join(work, name);
  fs.writeFileSync(p, text);
  return p;
}

function capSource(o: { name: string; version: string; deps?: Record<string, string>; body: string; tests?: object[]; ts?: boolean }): string {
  const manifest = {
    name: o.name,
    version: o.version,
    description: `${o.name} for the CLI tests`,
    dependencies: o.deps ?? {},
    tests: o.tests ?? [],
  };
  const sig = o.ts ? '(input: { text: string }, ctx: any): Promise<unknown>' : '(input, ctx)';
  return `export const manifest = ${JSON.stringify(manifest)};\nexport default async function ${sig} {\n${o.body}\n}\n`;
}

function until(cond: () => boolean, ms: number): Promise<boolean> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const tick = (): void => {
      if (cond()) resolve(true);
      else if (Date.now() - t0 > ms) resolve(false);
      else setTimeout(tick, 20);
    };
    tick();
  });
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-cli-e2e-'));
  dataDir = path.join(work, 'data');
  kernel = await startKernel({ dataDir, port: 0, workers: 1, example: true });
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await kernel?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('reading the example graph', () => {
  it('info', async () => {
    const r = ok(await sub('info'));
    expect(r.stdout).toMatch(/generation\s+\d+/);
    expect(r.stdout).toContain(kernel.url);
    const j = await subJson<{ version: string; generation: number; capabilities: number }>('info');
    expect(j.code).toBe(0);
    expect(j.doc.capabilities).toBe(4);
  });

  it('ls', async () => {
    const r = ok(await sub('ls'));
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+CURRENT\s+VERSIONS\s+DESCRIPTION$/);
    expect(r.stdout).toMatch(/text\.tokenize\s+1\.0\.0\s+1\s+Splits a text/);
    expect(lines).toHaveLength(5);
    const j = await subJson<ListResult>('ls', 'text.w');
    expect(j.doc.items.map((i) => i.name)).toEqual(['text.wordcount']);
  });

  it('show, with dependencies resolved and the source on request', async () => {
    const r = ok(await sub('show', 'text.wordcount'));
    expect(r.stdout).toContain('text.wordcount@1.0.0 (current)');
    expect(r.stdout).toMatch(/text\.tokenize\s+\^1\.0\.0\s+1\.0\.0/);
    expect(r.stdout).toMatch(/dependents \(1\)\n\s+text\.report/);
    expect(r.stdout).toMatch(/state\s+shared:text\.stats \(rw\)/);
    expect(r.stdout).not.toContain('export default');
    const s = ok(await sub('show', 'text.wordcount@1.0.0', '--source'));
    expect(s.stdout).toContain('export default async function');
    const j = await subJson<DescribeResult>('show', 'text.frequency');
    expect(j.doc).toMatchObject({ name: 'text.frequency', language: 'ts', dependents: ['text.report'] });
    const missing = await sub('show', 'no.such');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: NOT_FOUND: /);
  });

  it('graph in every format; dot is accepted by Graphviz, mermaid is a flowchart', async () => {
    const tree = ok(await sub('graph'));
    expect(tree.stdout).toContain('text.report@1.0.0');
    expect(tree.stdout).toMatch(/[├└]── text\.wordcount@1\.0\.0 {2}\^1\.0\.0 → 1\.0\.0/);
    expect(tree.stdout).toMatch(/[├└]── shared:text\.stats {2}rw/);

    const dot = ok(await sub('graph', '--format', 'dot'));
    expect(dot.stdout.startsWith('digraph')).toBe(true);
    expect(spawnSync('dot', ['-V']).status, 'Graphviz `dot` is required (apt-get install graphviz)').toBe(0);
    {
      const svg = spawnSync('dot', ['-Tsvg'], { input: dot.stdout, encoding: 'utf8' });
      expect(svg.stderr).toBe('');
      expect(svg.status).toBe(0);
      expect(svg.stdout).toContain('<svg');
    }

    const mmd = ok(await sub('graph', '--format', 'mermaid'));
    const lines = mmd.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('flowchart LR');
    const edges = lines.filter((l) => l.includes('-->'));
    expect(edges.length).toBeGreaterThanOrEqual(5);
    for (const l of edges) expect(l).toMatch(/^ {2}[A-Za-z0-9_]+ -->\|"[^"]*"\| [A-Za-z0-9_]+$/);

    const j = await subJson<GraphResult>('graph', '--format', 'json');
    expect(j.doc.nodes.filter((n) => n.kind === 'capability')).toHaveLength(4);
    const j2 = await subJson<GraphResult>('graph', 'text.wordcount', '--depth', '1');
    expect(j2.doc.nodes.filter((n) => n.kind === 'capability').map((n) => n.name).sort()).toEqual(['text.tokenize', 'text.wordcount']);
    const rooted = ok(await sub('graph', 'text.frequency'));
    expect(rooted.stdout.split('\n')[0]).toContain('text.frequency@1.0.0');
    expect(rooted.stdout).not.toContain('text.report');
  });

  it('impact lists dependents and the tests that would run', async () => {
    const r = ok(await sub('impact', 'text.tokenize'));
    expect(r.stdout).toMatch(/touches 3 dependents/);
    expect(r.stdout).toMatch(/text\.wordcount\s+1\.0\.0\s+two words/);
    const j = await subJson<ImpactResult>('impact', 'text.tokenize');
    expect([...j.doc.dependents].sort()).toEqual(['text.frequency', 'text.report', 'text.wordcount']);
    expect(j.doc.tests.length).toBeGreaterThanOrEqual(5);
  });
});

describe('invoking, state and logs', () => {
  it('invoke prints the output; --json the whole result; --input reads a file', async () => {
    const r = ok(await sub('invoke', 'text.wordcount', '{"text":"a b c"}'));
    expect(JSON.parse(r.stdout)).toEqual({ words: 3 });
    expect(r.stdout.trim()).toBe('{"words":3}'); // compact when piped
    const j = await subJson<InvokeResult>('invoke', 'text.wordcount@1.0.0', '{"text":"x y"}');
    expect(j.doc).toMatchObject({ output: { words: 2 }, name: 'text.wordcount', version: '1.0.0' });
    expect(typeof j.doc.invocationId).toBe('string');
    const f = file('input.json', '{"text":"one two three four"}');
    expect(JSON.parse(ok(await sub('invoke', 'text.wordcount', '--input', f)).stdout)).toEqual({ words: 4 });
  });

  it('invoke reports kernel errors with exit 1', async () => {
    const bad = await sub('invoke', 'text.wordcount', '{"nope":1}');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: INVALID_INPUT: /);
    const j = await subJson<{ error: { type: string } }>('invoke', 'no.such', '{}');
    expect(j.code).toBe(1);
    expect(j.doc.error.type).toBe('NOT_FOUND');
  });

  it('state ls and state get', async () => {
    ok(await sub('invoke', 'text.wordcount', '{"text":"a b"}'));
    const ls = ok(await sub('state', 'ls', 'text.wordcount'));
    expect(ls.stdout).toMatch(/^KEY\s+VERSION\s+VALUE/);
    expect(ls.stdout).toMatch(/last\s+\d+\s+2/);
    const shared = await subJson<{ items: Array<{ key: string; value: number }> }>('state', 'ls', 'shared:text.stats');
    const total = shared.doc.items.find((i) => i.key === 'total')!.value;
    expect(total).toBeGreaterThanOrEqual(2);
    const get = ok(await sub('state', 'get', 'shared:text.stats', 'total'));
    expect(JSON.parse(get.stdout)).toBe(total);
    const gj = await subJson<{ value: number; key: string }>('state', 'get', 'text.wordcount', 'last');
    expect(gj.doc).toMatchObject({ key: 'last', value: 2 });
  });

  it('logs shows recent lines', async () => {
    ok(await sub('invoke', 'text.report', '{"text":"to be or not"}'));
    const r = ok(await sub('logs', 'text.report'));
    expect(r.stdout).toMatch(/ \w+\s+text\.report@1\.0\.0 report: 4 words/);
    const j = await subJson<{ items: Array<{ name: string; message: string }> }>('logs', '-n', '5');
    expect(j.doc.items.length).toBeGreaterThan(0);
    expect(j.doc.items.length).toBeLessThanOrEqual(5);
  });

  it('logs --follow prints a log line soon after the invocation, until interrupted', async () => {
    const child = start(['--data', dataDir, 'logs', 'text.frequency', '--follow', '-n', '0']);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    expect(await until(() => err.includes('following'), 30_000)).toBe(true);

    const client = await SubstrateClient.connect(kernel.url, { token: kernel.operatorToken });
    try {
      await client.call('capabilities/invoke', { name: 'text.frequency', input: { text: 'follow me follow' } });
      const t0 = Date.now();
      // The contract asks for within a second; the deadline here is generous for a loaded machine.
      expect(await until(() => out.includes('ranked 2 distinct words'), 10_000)).toBe(true);
      const latency = Date.now() - t0;
      expect(latency).toBeLessThan(10_000);
      expect(out).toMatch(/text\.frequency@1\.0\.0 ranked 2 distinct words/);
    } finally {
      await client.close();
    }
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('logs --follow --json streams one JSON object per line', async () => {
    const child = start(['--data', dataDir, 'logs', 'text.frequency', '--follow', '-n', '0', '--json']);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    expect(await until(() => err.includes('following'), 30_000)).toBe(true);
    const client = await SubstrateClient.connect(kernel.url, { token: kernel.operatorToken });
    try {
      await client.call('capabilities/invoke', { name: 'text.frequency', input: { text: 'json lines' } });
      expect(await until(() => out.includes('\n'), 10_000)).toBe(true);
    } finally {
      await client.close();
    }
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const first = JSON.parse(out.split('\n')[0]) as { type: string; name: string };
    expect(first).toMatchObject({ type: 'log', name: 'text.frequency' });
  });
});

describe('changing the graph', () => {
  it('register (human, --json, --no-activate)', async () => {
    const v1 = file('shout.ts', capSource({ name: 'text.shout', version: '1.0.0', ts: true, body: 'return { text: input.text.toUpperCase() };', tests: [{ name: 'shouts', input: { text: 'a' }, expect: { text: 'A' } }] }));
    const r = ok(await sub('register', v1));
    expect(r.stdout).toMatch(/registered text\.shout@1\.0\.0 \(now current, generation \d+\)/);
    expect(r.stdout).toContain('1 gate test passed');
    const v2 = file('shout2.js', capSource({ name: 'text.shout', version: '1.1.0', body: 'return { text: input.text.toUpperCase() + "!" };' }));
    const j = await subJson<{ name: string; version: string; activated: boolean; hash: string }>('register', v2);
    expect(j.code).toBe(0);
    expect(j.doc).toMatchObject({ name: 'text.shout', version: '1.1.0', activated: true });
    expect(j.doc.hash).toMatch(/^sha256:/);
    const v3 = file('shout3.js', capSource({ name: 'text.shout', version: '1.2.0', body: 'return { text: "?" };' }));
    const na = ok(await sub('register', v3, '--no-activate'));
    expect(na.stdout).toContain('not activated');
    expect(JSON.parse(ok(await sub('invoke', 'text.shout', '{"text":"hi"}')).stdout)).toEqual({ text: 'HI!' });
  });

  it('register refused by a gate prints the failing test with expected and actual', async () => {
    const broken = file(
      'tokenize-broken.js',
      // Upper case breaks text.frequency's test, which depends on text.tokenize.
      capSource({ name: 'text.tokenize', version: '1.1.0', body: 'return { tokens: input.text.toUpperCase().split(" ") };' }),
    );
    const r = await sub('register', broken);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: GATE_FAILED: /);
    expect(r.stderr).toMatch(/capability\s+text\.frequency@1\.0\.0/);
    expect(r.stderr).toMatch(/test\s+ranks by count/);
    expect(r.stderr).toMatch(/expected\s+/);
    expect(r.stderr).toMatch(/actual\s+/);
    const j = await subJson<{ error: { type: string; data: { test: string } } }>('register', broken);
    expect(j.code).toBe(1);
    expect(j.doc.error).toMatchObject({ type: 'GATE_FAILED', data: { test: 'ranks by count' } });
    expect(JSON.parse(ok(await sub('invoke', 'text.tokenize', '{"text":"Still Lower"}')).stdout)).toEqual({ tokens: ['still', 'lower'] });
  });

  it('apply commits files as one changeset, or plans it with --dry-run', async () => {
    const base = file('echo.js', capSource({ name: 'text.echo', version: '1.0.0', body: 'return { text: input.text };' }));
    const top = file(
      'loud.js',
      capSource({ name: 'text.loud', version: '1.0.0', deps: { 'text.echo': '^1.0.0', 'text.shout': '^1.0.0' }, body: 'const e = await ctx.call("text.echo", input); return ctx.call("text.shout", e);' }),
    );
    const dry = await subJson<{ dryRun: boolean; changes: unknown[] }>('apply', base, top, '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.doc).toMatchObject({ dryRun: true });
    expect(dry.doc.changes).toHaveLength(2);
    expect((await sub('show', 'text.echo')).code).toBe(1);
    const r = ok(await sub('apply', base, top));
    expect(r.stdout).toMatch(/applied generation \d+/);
    expect(r.stdout).toContain('register text.echo 1.0.0');
    expect(r.stdout).toContain('register text.loud 1.0.0');
    expect(JSON.parse(ok(await sub('invoke', 'text.loud', '{"text":"x"}')).stdout)).toEqual({ text: 'X!' });
    const j = await subJson<{ generation: number; changes: Array<{ op: string; name: string }> }>('apply', '--activate', 'text.shout@1.0.0');
    expect(j.code).toBe(0);
    expect(j.doc.changes[0]).toMatchObject({ op: 'activate', name: 'text.shout' });
  });

  it('history, rollback and rm', async () => {
    const h = ok(await sub('history', 'text.shout'));
    expect(h.stdout).toMatch(/^\s*GEN\s+WHEN\s+BY\s+CHANGES/);
    expect(h.stdout).toMatch(/ago|just now/);
    expect(h.stdout).toContain('activate text.shout 1.0.0 (was 1.1.0)');
    const hj = await subJson<HistoryResult>('history', '-n', '2');
    expect(hj.doc.items).toHaveLength(2);

    const rb = ok(await sub('rollback', 'text.shout', '--to', '1.1.0'));
    expect(rb.stdout).toMatch(/rolled back text\.shout to 1\.1\.0 \(generation \d+\)/);
    const rbj = await subJson<{ name: string; version: string }>('rollback', 'text.shout', '--to', '1.0.0');
    expect(rbj.doc).toMatchObject({ name: 'text.shout', version: '1.0.0' });

    const refused = await sub('rm', 'text.echo');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: DEPENDENTS_EXIST: /);
    expect(refused.stderr).toContain('text.loud');
    const rm = ok(await sub('rm', 'text.loud'));
    expect(rm.stdout).toMatch(/removed text\.loud \(generation \d+\)/);
    const rmj = await subJson<{ name: string }>('rm', 'text.echo');
    expect(rmj.code).toBe(0);
    expect(rmj.doc.name).toBe('text.echo');
  });

  it('backup writes a copy of the store', async () => {
    const target = path.join(work, 'backup.db');
    const r = ok(await sub('backup', target));
    expect(r.stdout).toContain(`backup written to ${target}`);
    expect(fs.statSync(target).size).toBeGreaterThan(0);
    const j = await subJson<{ file: string; bytes: number }>('backup', path.join(work, 'backup2.db'));
    expect(j.doc.bytes).toBeGreaterThan(0);
  });
});

describe('tokens and authentication', () => {
  it('token create shows the secret once with a warning; ls lists; revoke revokes at once', async () => {
    const c = ok(await sub('token', 'create', '--role', 'client', '--name', 'dashboard'));
    const [head, secret] = c.stdout.trimEnd().split('\n');
    expect(head).toMatch(/created token \S+ \(client, "dashboard"\)/);
    expect(c.stderr).toMatch(/shown only this once/);
    const id = /created token (\S+)/.exec(head)![1];

    // The new client token can read but not touch state.
    const asClient = await run(['--url', kernel.url, 'ls'], { SUBSTRATE_TOKEN: secret });
    expect(asClient.code).toBe(0);
    const forbidden = await run(['--url', kernel.url, 'state', 'ls', 'text.wordcount'], { SUBSTRATE_TOKEN: secret });
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toMatch(/^error: FORBIDDEN: /);

    const ls = ok(await sub('token', 'ls'));
    expect(ls.stdout).toMatch(/^ID\s+NAME\s+ROLE\s+CREATED\s+STATUS/);
    expect(ls.stdout).toMatch(new RegExp(`${id}\\s+dashboard\\s+client\\s+.*active`));
    const lj = await subJson<{ items: Array<{ id: string; revoked: boolean }> }>('token', 'ls');
    expect(lj.doc.items.find((t) => t.id === id)).toMatchObject({ revoked: false });

    const rv = ok(await sub('token', 'revoke', id));
    expect(rv.stdout).toContain(`revoked ${id}`);
    const refused = await run(['--url', kernel.url, 'ls'], { SUBSTRATE_TOKEN: secret });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: UNAUTHORIZED: /);
    expect(refused.stderr).toContain('SUBSTRATE_TOKEN environment variable');

    const cj = await subJson<{ id: string; token: string; role: string }>('token', 'create', '--role', 'agent', '--name', 'bot');
    expect(cj.doc).toMatchObject({ role: 'agent' });
    expect(cj.doc.token.length).toBeGreaterThan(10);
    const rj = await subJson<{ id: string; revoked: boolean }>('token', 'revoke', cj.doc.id);
    expect(rj.doc).toEqual({ id: cj.doc.id, revoked: true });
    // Revoking again is idempotent; an id that names no token is an error, not a silent success.
    const again = await subJson<{ id: string; revoked: boolean }>('token', 'revoke', cj.doc.id);
    expect(again.doc).toEqual({ id: cj.doc.id, revoked: true });
    const unknown = await sub('token', 'revoke', 'tok_doesnotexist');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/NOT_FOUND/);
    expect(unknown.stderr).toContain('tok_doesnotexist');
    expect(unknown.stderr).toContain('substrate token ls');
  });

  it('a refused --token is named as the source', async () => {
    const r = await run(['--url', kernel.url, '--token', 'not-a-token', 'ls']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: UNAUTHORIZED: /);
    expect(r.stderr).toContain('the --token flag');
  });

  it('no token anywhere says where it looked', async () => {
    const r = await run(['--url', kernel.url, '--data', path.join(work, 'empty'), 'ls']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no token was sent');
    expect(r.stderr).toContain(path.join(work, 'empty', 'operator.token'));
  });
});

describe('bad usage and unreachable kernels', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['unknown command', ['frobnicate'], /^error: unknown command 'frobnicate'\. See 'substrate --help'\.$/],
    ['missing argument', ['invoke'], /^error: missing argument <name>\. See 'substrate invoke --help'\.$/],
    ['bad JSON input', ['invoke', 'text.wordcount', '{nope'], /^error: the input is not valid JSON .*See 'substrate invoke --help'\.$/],
    ['unknown --format', ['graph', '--format', 'svg'], /^error: .*'svg' is invalid.*See 'substrate graph --help'\.$/],
    ['unknown option', ['ls', '--frob'], /^error: unknown option '--frob'.*See 'substrate ls --help'\.$/],
    ['missing state argument', ['state', 'get', 'ns'], /^error: missing argument <key>\. See 'substrate state get --help'\.$/],
    ['missing mandatory option', ['token', 'create', '--name', 'x'], /^error: .*--role.*See 'substrate token create --help'\.$/],
    ['missing file', ['register', 'does-not-exist.ts'], /^error: cannot read does-not-exist\.ts: no such file\. See 'substrate register --help'\.$/],
  ];
  for (const [what, args, hint] of cases) {
    it(`${what} exits 2 with a one-line hint`, async () => {
      const r = await sub(...args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(hint);
    });
  }

  it('--help on every command shows examples and exits 0', async () => {
    for (const cmd of [['invoke'], ['graph'], ['state', 'ls'], ['token', 'create'], ['logs'], ['start'], ['backup']]) {
      const r = await run([...cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Examples:');
      expect(r.stdout).toContain(`$ substrate ${cmd.join(' ')}`);
    }
    const help = await run(['help', 'invoke']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: substrate invoke');
    const bare = await run([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('Usage: substrate');
  });

  it('an unreachable kernel names the URL tried and suggests substrate start', async () => {
    const s = http.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const url = `ws://127.0.0.1:${port}/`;
    const r = await run(['--url', url, 'ls']);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe(`error: could not connect to ${url}: ECONNREFUSED`);
    expect(r.stderr).toContain("substrate start");
    const j = await run(['--url', url, 'ls', '--json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ error: { type: 'UNREACHABLE', data: { url } } });
  });
});

describe('start', () => {
  it('runs a kernel, prints the URL and the token file, is found through --data, and stops on SIGTERM', async () => {
    const dir = path.join(work, 'started');
    const child = start(['start', '--port', '0', '--data', dir, '--workers', '1']);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    expect(await until(() => out.includes('Press Ctrl+C'), 60_000), `${out}\n${err}`).toBe(true);
    const url = /listening on (ws:\/\/\S+)/.exec(out)![1];
    expect(out).toContain(path.join(dir, 'operator.token'));
    expect(fs.statSync(path.join(dir, 'operator.token')).mode & 0o777).toBe(0o600);

    const info = await run(['--data', dir, 'info', '--json']);
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ capabilities: 0 });
    const human = ok(await run(['--data', dir, 'info']));
    expect(human.stdout).toContain(url);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(fs.existsSync(path.join(dir, 'kernel.json'))).toBe(false);
  });
});
