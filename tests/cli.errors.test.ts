// How the CLI finds its kernel and token, and how it reports failures: exit codes, the one-line
// usage hint, gate failures with expected/actual, the token source on UNAUTHORIZED, the URL tried.
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConnectionError, RpcError } from '../kernel/client.ts';
import { commanderMessage, describeError, usageLine, UsageError } from '../cli/errors.ts';
import { resolveTarget, DEFAULT_URL, type Target } from '../cli/target.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-cli-'));
  dirs.push(d);
  return d;
}

describe('resolveTarget', () => {
  it('prefers --url/--token, then the environment, then the data directory, then the default', () => {
    const cwd = tmp();
    const data = path.join(cwd, '.substrate');
    fs.mkdirSync(data);
    fs.writeFileSync(path.join(data, 'operator.token'), 'filetoken\n');
    fs.writeFileSync(path.join(data, 'kernel.json'), JSON.stringify({ url: 'ws://127.0.0.1:4567/', pid: 1 }));

    const fromFiles = resolveTarget({}, {}, cwd);
    expect(fromFiles).toMatchObject({ url: 'ws://127.0.0.1:4567/', token: 'filetoken', dataDir: data });
    expect(fromFiles.urlSource).toEqual({ kind: 'file', path: path.join(data, 'kernel.json') });
    expect(fromFiles.tokenSource).toEqual({ kind: 'file', path: path.join(data, 'operator.token') });

    const fromEnv = resolveTarget({}, { SUBSTRATE_URL: 'ws://e/', SUBSTRATE_TOKEN: 'envtoken' }, cwd);
    expect(fromEnv).toMatchObject({ url: 'ws://e/', token: 'envtoken', tokenSource: { kind: 'env', name: 'SUBSTRATE_TOKEN' } });

    const fromFlags = resolveTarget({ url: 'ws://f/', token: 'flagtoken' }, { SUBSTRATE_URL: 'ws://e/', SUBSTRATE_TOKEN: 'x' }, cwd);
    expect(fromFlags).toMatchObject({ url: 'ws://f/', token: 'flagtoken', tokenSource: { kind: 'flag', flag: '--token' } });
  });

  it('uses --data / SUBSTRATE_DATA to find a local kernel, and reports where it looked when nothing is there', () => {
    const cwd = tmp();
    const other = path.join(cwd, 'elsewhere');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'operator.token'), 't');
    expect(resolveTarget({}, { SUBSTRATE_DATA: other }, cwd).token).toBe('t');
    expect(resolveTarget({ data: 'elsewhere' }, {}, cwd).token).toBe('t');
    const none = resolveTarget({}, {}, cwd);
    expect(none.url).toBe(DEFAULT_URL);
    expect(none.token).toBeUndefined();
    expect(none.tokenSource).toEqual({ kind: 'none', looked: ['--token', 'SUBSTRATE_TOKEN', path.join(cwd, '.substrate', 'operator.token')] });
  });
});

const target: Target = {
  url: 'ws://127.0.0.1:7070/',
  urlSource: { kind: 'default' },
  token: 'x',
  tokenSource: { kind: 'file', path: '/d/operator.token' },
  dataDir: '/d',
};

describe('describeError', () => {
  it('bad usage: exit 2 with a one-line hint naming the help', () => {
    const r = describeError(new UsageError('the input is not valid JSON', 'substrate invoke'), target);
    expect(r.exitCode).toBe(2);
    expect(r.lines).toEqual(["error: the input is not valid JSON. See 'substrate invoke --help'."]);
    expect(usageLine(commanderMessage("error: missing required argument 'name'"), 'substrate invoke')).toBe(
      "error: missing argument <name>. See 'substrate invoke --help'.",
    );
    expect(commanderMessage("error: unknown command 'frob'\n(Did you mean from?)")).toBe("unknown command 'frob'");
  });

  it('GATE_FAILED names the capability, test, expected and actual, and the other failures', () => {
    const e = new RpcError(-32000, 'gate failed: text.count@1.1.0 › two words', {
      type: 'GATE_FAILED',
      capability: 'text.count',
      version: '1.1.0',
      test: 'two words',
      expected: { words: 2 },
      actual: { words: 3 },
      results: [
        { capability: 'text.count', version: '1.1.0', test: 'two words', passed: false, expected: { words: 2 }, actual: { words: 3 }, durationMs: 1 },
        { capability: 'text.report', version: '1.0.0', test: 'reports', passed: false, error: { type: 'TIMEOUT', message: 'too slow' }, durationMs: 1 },
        { capability: 'text.count', version: '1.1.0', test: 'empty', passed: true, durationMs: 1 },
      ],
    });
    const r = describeError(e, target);
    expect(r.exitCode).toBe(1);
    const text = r.lines.join('\n');
    expect(r.lines[0]).toBe('error: GATE_FAILED: gate failed: text.count@1.1.0 › two words');
    expect(text).toMatch(/capability\s+text\.count@1\.1\.0/);
    expect(text).toMatch(/test\s+two words/);
    expect(text).toMatch(/expected\s+\{"words":2\}/);
    expect(text).toMatch(/actual\s+\{"words":3\}/);
    expect(text).toContain('1 passed, 2 failed of 3');
    expect(text).toContain('text.report@1.0.0 › reports: TIMEOUT: too slow');
    expect(r.json.error).toMatchObject({ type: 'GATE_FAILED', code: -32000 });
  });

  it('UNAUTHORIZED says which token source was used', () => {
    const e = new RpcError(-32000, 'the bearer token is unknown or revoked', { type: 'UNAUTHORIZED' });
    expect(describeError(e, target).lines.join('\n')).toContain('the token came from /d/operator.token');
    const env = describeError(e, { ...target, tokenSource: { kind: 'env', name: 'SUBSTRATE_TOKEN' } }).lines.join('\n');
    expect(env).toContain('the SUBSTRATE_TOKEN environment variable');
    const none = describeError(e, { ...target, token: undefined, tokenSource: { kind: 'none', looked: ['--token', 'SUBSTRATE_TOKEN', '/d/operator.token'] } });
    expect(none.lines.join('\n')).toContain('no token was sent: none found at --token, SUBSTRATE_TOKEN, /d/operator.token');
  });

  it('an unreachable kernel names the URL and suggests substrate start', () => {
    const e = new ConnectionError('ws://127.0.0.1:9/', 'ECONNREFUSED', 'could not connect to ws://127.0.0.1:9/: ECONNREFUSED');
    const r = describeError(e, target);
    expect(r.exitCode).toBe(1);
    expect(r.lines[0]).toBe('error: could not connect to ws://127.0.0.1:9/: ECONNREFUSED');
    expect(r.lines.join('\n')).toContain("substrate start");
    expect(r.json.error).toMatchObject({ type: 'UNREACHABLE', data: { url: 'ws://127.0.0.1:9/' } });
  });

  it('other kernel errors print TYPE: message and the details', () => {
    const e = new RpcError(-32000, "text.x has dependents", { type: 'DEPENDENTS_EXIST', name: 'text.x', dependents: ['a', 'b'] });
    const r = describeError(e, target);
    expect(r.lines[0]).toBe('error: DEPENDENTS_EXIST: text.x has dependents');
    expect(r.lines.join('\n')).toMatch(/dependents\s+a, b/);
    const p = describeError(new RpcError(-32602, 'invalid params', { path: ['name'] }), target);
    expect(p.lines[0]).toBe('error: INVALID_PARAMS: invalid params');
  });
});
