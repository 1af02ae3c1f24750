// Issue 14 item 3: replay before commit. A known set of recorded calls of rp.calc 1.0.0 is replayed
// on the candidate 1.1.0 and on 1.0.0 itself (the noise filter), hermetically: counts exact for
// same, changed, errors, unstable (the current version reads Math.random; a record it no longer
// reproduces) and unreplayable (a record that says so, a candidate reading a key or making a
// request the record lacks); REPLAY_FAILED refuses and changes nothing; dry runs replay too; the
// CLI's table and diffs, MCP's structured result; the budget; and the same counts on records the
// kernel itself made of real invocations (a local HTTP server for the requests).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { inProcessBackend } from '../kernel/mcp-backend.ts';
import { createMcpServer } from '../mcp/server.ts';
import { runCli } from './cli-run.ts';
import type { EgressResult } from '../capabilities/effects.ts';
import type { Manifest } from '../capabilities/types.ts';
import { replaySession } from '../kernel/egress-replay.ts';
import { replaySource } from '../sandbox/transaction.ts';
import type { CallRecord, ReplaySummary } from '../capabilities/evaluation.ts';
import type { Json } from '../capabilities/types.ts';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import { cap, expectType, startTestKernel, type TestKernel } from './helpers.ts';

let k: TestKernel;
const op = LOCAL_OPERATOR;
const NAME = 'rp.calc';
const EFFECTS = { http: [{ host: 'api.test', methods: ['GET'] }] };

const CURRENT = `
  const { mode, n } = input;
  if (mode === 'plain') return { v: n * 2 };
  if (mode === 'state') { const x = (await ctx.state.get('k' + n)) ?? 0; await ctx.state.set('k' + n, x + 1); return { v: x + n }; }
  if (mode === 'clock') return { v: n, r: Math.random() };
  if (mode === 'fetch') { const r = await fetch('https://api.test/item/' + n); return { v: await r.text() }; }
  if (mode === 'fail') throw new Error('boom');
  const page = await ctx.state.list(); return { v: page.items.length };`;

const CANDIDATE = `
  const { mode, n } = input;
  if (mode === 'plain') return { v: n < 5 ? n * 2 : n * 3 };
  if (mode === 'state') { const x = (await ctx.state.get('k' + n)) ?? 0; if (n === 3) await ctx.state.get('other'); return { v: x + n }; }
  if (mode === 'clock') return { v: n };
  if (mode === 'fetch') { const r = await fetch('https://api.test/item/' + n + (n === 2 ? '?v=2' : '')); return { v: await r.text() }; }
  if (mode === 'fail') { if (n === 1) return { v: 'fixed' }; throw new Error('still'); }
  return { v: 0 };`;

const source = (version: string, body: string) => cap({ name: NAME, version, body, effects: EFFECTS });

let seq = 0;
function record(hash: string, input: Json, outcome: { output: Json } | { error: string }, extra: Partial<CallRecord> = {}): CallRecord {
  seq++;
  return {
    id: `rec_${seq}`,
    at: Date.now() - seq,
    name: NAME,
    version: '1.0.0',
    hash,
    generation: 1,
    invocationId: `inv_${seq}`,
    input,
    ...('output' in outcome ? { output: outcome.output } : { error: { type: outcome.error, message: 'recorded' } }),
    durationMs: 1,
    reads: [],
    egress: [],
    replayable: true,
    ...extra,
  };
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const exchange = (url: string, text: string): CallRecord['egress'][number] => ({
  request: { method: 'GET', url, headers: [], body: null },
  response: { status: 200, statusText: 'OK', headers: [['content-type', 'text/plain;charset=UTF-8']], url, redirected: false, body: b64(text) },
});

/** The known set: 19 records of 1.0.0 (see the counts in the first test). */
function knownRecords(hash: string): CallRecord[] {
  const out: CallRecord[] = [];
  for (let n = 1; n <= 8; n++) out.push(record(hash, { mode: 'plain', n }, { output: { v: n * 2 } }));
  out.push(record(hash, { mode: 'plain', n: 9 }, { output: { v: 0 } })); // 1.0.0 no longer answers this: unstable
  for (let n = 1; n <= 3; n++) out.push(record(hash, { mode: 'state', n }, { output: { v: 10 + n } }, { reads: [[NAME, `k${n}`, '10']] }));
  for (let n = 1; n <= 2; n++) out.push(record(hash, { mode: 'clock', n }, { output: { v: n, r: 0.5 } }));
  out.push(record(hash, { mode: 'fetch', n: 1 }, { output: { v: 'one' } }, { egress: [exchange('https://api.test/item/1', 'one')] }));
  out.push(record(hash, { mode: 'fetch', n: 2 }, { output: { v: 'two' } }, { egress: [exchange('https://api.test/item/2', 'two')] }));
  for (let n = 1; n <= 2; n++) out.push(record(hash, { mode: 'fail', n }, { error: 'CAPABILITY_ERROR' }));
  out.push(record(hash, { mode: 'list', n: 0 }, { output: { v: 0 } }, { replayable: false }));
  return out;
}

let oldHash = '';
let records: CallRecord[] = [];

beforeAll(async () => {
  k = await startTestKernel({ workers: 2 });
  const r = await k.kernel.register(op, { source: source('1.0.0', CURRENT) });
  oldHash = r.hash;
  records = knownRecords(oldHash);
  k.kernel.replayRecords = (hash, limit) => (hash === oldHash ? records.slice(0, limit) : []);
});
afterAll(async () => {
  await k?.stop();
});

const candidate = () => ({ op: 'register' as const, source: source('1.1.0', CANDIDATE) });

describe('replay before commit', () => {
  it('counts exact on a known set of records: same, changed, errors, unstable, unreplayable', async () => {
    const res = await k.kernel.apply(op, { changes: [candidate()], dryRun: true, replay: { samples: 100 } });
    expect(res.dryRun).toBe(true);
    expect(res.replay).toHaveLength(1);
    const s = res.replay?.[0] as ReplaySummary;
    expect({ ...s, examples: undefined }).toEqual({
      name: NAME, from: '1.0.0', to: '1.1.0', samples: 19, same: 8, changed: 5, errors: 1, unstable: 3, unreplayable: 3, examples: undefined,
    });
    // The first changed ones, in record order (newest first): plain 5..8, then fail 1.
    expect(s.examples).toHaveLength(5);
    expect(s.examples[0]).toEqual({ input: { mode: 'plain', n: 5 }, before: { v: 10 }, after: { v: 15 } });
    expect(s.examples[4]).toEqual({ input: { mode: 'fail', n: 1 }, before: { error: { type: 'CAPABILITY_ERROR', message: 'recorded' } }, after: { v: 'fixed' } });
    // Writes went nowhere: the recorded state call's set never reached the store.
    expect(() => k.kernel.stateGet(NAME, 'k1')).toThrow();
    expect(k.kernel.describe({ name: NAME }).version).toBe('1.0.0');
  });

  it('samples bounds the records replayed (newest first)', async () => {
    const res = await k.kernel.apply(op, { changes: [candidate()], dryRun: true, replay: { samples: 6 } });
    expect(res.replay?.[0]).toMatchObject({ samples: 6, same: 4, changed: 2, unstable: 0, unreplayable: 0 });
  });

  it('more changed than maxChanged: REPLAY_FAILED, nothing commits', async () => {
    const generation = k.kernel.info().generation;
    const history = k.kernel.history({ limit: 1000 }).items.length;
    const e = await expectType<{ data: Record<string, unknown> }>(k.kernel.apply(op, { changes: [candidate()], replay: { maxChanged: 4 } }), 'REPLAY_FAILED');
    expect(e.data).toMatchObject({ capability: NAME, from: '1.0.0', to: '1.1.0', changed: 5, maxChanged: 4 });
    expect((e.data.replay as ReplaySummary[])[0]).toMatchObject({ samples: 19, changed: 5 });
    expect(String(e.data.next)).toMatch(/maxChanged exceeded/);
    expect(k.kernel.info().generation).toBe(generation);
    expect(k.kernel.history({ limit: 1000 }).items.length).toBe(history);
    expect(k.kernel.describe({ name: NAME }).version).toBe('1.0.0');
    expect(k.kernel.list({ prefix: NAME }).items[0].versions).toEqual(['1.0.0']);
  });

  it('a dry run over maxChanged reports, it does not refuse', async () => {
    const res = await k.kernel.apply(op, { changes: [candidate()], dryRun: true, replay: { maxChanged: 0 } });
    expect(res.replay?.[0].changed).toBe(5);
  });

  it('substrate apply --replay prints the summary table and the first differences as diffs', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'substrate-replay-cli-'));
    try {
      const file = path.join(dir, 'calc-1.1.js');
      writeFileSync(file, source('1.1.0', CANDIDATE));
      const cli = (...args: string[]) => runCli(['--url', k.url, '--token', k.operatorToken, ...args]);
      const r = await cli('apply', file, '--dry-run', '--replay', '--samples', '50');
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.split('\n');
      const header = lines.find((l) => l.includes('capability') && l.includes('unreplayable')) ?? '';
      expect(header.trim().split(/\s{2,}/)).toEqual(['capability', 'from → to', 'samples', 'same', 'changed', 'errors', 'unstable', 'unreplayable']);
      const row = lines.find((l) => l.trim().startsWith(NAME)) ?? '';
      expect(row.trim().split(/\s{2,}/)).toEqual([NAME, '1.0.0 → 1.1.0', '19', '8', '5', '1', '3', '3']);
      expect(r.stdout).toContain(`${NAME}: first 3 of 5 changed`);
      expect(r.stdout).toContain('--- before (recorded)');
      expect(r.stdout).toMatch(/^\s+- {2}"v": 10$/m);
      expect(r.stdout).toMatch(/^\s+\+ {2}"v": 15$/m);
      expect(r.stdout).not.toContain('\x1b[');

      const refused = await cli('apply', file, '--replay', '--max-changed', '1');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('REPLAY_FAILED');
      expect(refused.stderr).toContain('--- before (recorded)');
      expect(refused.stderr).toMatch(/maxChanged exceeded/);
      const bad = await cli('apply', file, '--max-changed', '1');
      expect(bad.code).toBe(2);
      const json = await cli('apply', file, '--dry-run', '--replay', '--json');
      expect((JSON.parse(json.stdout) as { replay: ReplaySummary[] }).replay[0]).toMatchObject({ samples: 19, changed: 5 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('MCP substrate_apply returns the summaries as structured content, and REPLAY_FAILED with the next action', async () => {
    const [a, b] = InMemoryTransport.createLinkedPair();
    const server = createMcpServer(inProcessBackend(k.rpc, k.kernel, op));
    await server.connect(a);
    const client = new Client({ name: 'replay-test', version: '1.0.0' });
    await client.connect(b);
    try {
      const dry = (await client.callTool({ name: 'substrate_apply', arguments: { changes: [candidate()], dryRun: true, replay: { samples: 100 } } })) as CallToolResult;
      expect(dry.isError).toBeFalsy();
      const replay = (dry.structuredContent as { replay: ReplaySummary[] }).replay;
      expect(replay[0]).toMatchObject({ name: NAME, samples: 19, same: 8, changed: 5, errors: 1, unstable: 3, unreplayable: 3 });
      const text = (dry.content[0] as { text: string }).text;
      expect(text).toContain(`Replay of ${NAME} 1.0.0 → 1.1.0 on 19 recorded call(s): 8 same, 5 changed`);
      expect(text).toContain('Next: rp.calc changed 5 answer(s)');

      const refused = (await client.callTool({ name: 'substrate_apply', arguments: { changes: [candidate()], replay: { maxChanged: 2 } } })) as CallToolResult;
      expect(refused.isError).toBe(true);
      const meta = refused._meta?.['substrate/error'] as { type: string; data: { replay: ReplaySummary[]; next: string; maxChanged: number } };
      expect(meta.type).toBe('REPLAY_FAILED');
      expect(meta.data.maxChanged).toBe(2);
      expect(meta.data.replay[0].changed).toBe(5);
      expect(meta.data.next).toMatch(/^maxChanged exceeded: inspect the examples/);
      expect((refused.content[0] as { text: string }).text).toMatch(/Next: maxChanged 2 exceeded, nothing was committed/);
      expect(k.kernel.describe({ name: NAME }).version).toBe('1.0.0');
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('within maxChanged the changeset commits with the summaries beside the gates', async () => {
    const res = await k.kernel.apply(op, { changes: [candidate()], replay: { maxChanged: 5 } });
    expect(res.dryRun).toBe(false);
    expect(res.gates).toEqual([]);
    expect(res.replay?.[0]).toMatchObject({ from: '1.0.0', to: '1.1.0', changed: 5 });
    expect(k.kernel.describe({ name: NAME }).version).toBe('1.1.0');
  });

  it('without replay the result has no replay; a new capability has nothing to replay', async () => {
    const plain = await k.kernel.apply(op, { changes: [{ op: 'register', source: cap({ name: 'rp.other', body: 'return 1;' }) }] });
    expect(plain.replay).toBeUndefined();
    const fresh = await k.kernel.apply(op, { changes: [{ op: 'register', source: cap({ name: 'rp.fresh', body: 'return 1;' }) }], dryRun: true, replay: {} });
    expect(fresh.replay).toEqual([]);
  });
});

describe('replay limits and parts', () => {
  it("records not replayed within the changeset's replay time are skipped, not counted", async () => {
    const k2 = await startTestKernel({ workers: 1, replayBudgetMs: 400 });
    try {
      const r = await k2.kernel.register(op, { source: cap({ name: 'rp.slow', body: 'return input;', limits: { timeoutMs: 5000 } }) });
      const recs = [1, 2, 3].map((n) => ({ ...record(r.hash, n, { output: n }), name: 'rp.slow' }));
      k2.kernel.replayRecords = (hash) => (hash === r.hash ? recs : []);
      const slow = cap({ name: 'rp.slow', version: '1.1.0', body: 'for (;;) {}', limits: { timeoutMs: 5000 } });
      const res = await k2.kernel.apply(op, { changes: [{ op: 'register', source: slow }], dryRun: true, replay: {} });
      expect(res.replay?.[0]).toMatchObject({ samples: 3, same: 0, changed: 0, unstable: 0, unreplayable: 0, skipped: 3 });
    } finally {
      await k2.stop();
    }
  });

  it('the replay state source answers only what the record read, and lists every other read', () => {
    const src = replaySource([[NAME, 'a', '1'], [NAME, 'gone', null], ['shared:team', 'b', '"x"']]);
    expect(src.readState(NAME, 'a')).toEqual({ value: '1', version: 0 });
    expect(src.readState(NAME, 'gone')).toBeUndefined();
    expect(src.readState('shared:team', 'b')).toEqual({ value: '"x"', version: 0 });
    expect(src.misses).toEqual([]);
    expect(src.readState(NAME, 'other')).toBeUndefined();
    expect(src.listState('shared:team', { limit: 10 })).toEqual([]);
    expect(src.misses).toEqual([`state.get of ${NAME} key "other", which the record did not read`, 'state.list of shared namespace team (a record holds the keys a call read, not which keys existed)']);
  });

  it('replay egress serves each recorded exchange once, in order, matching method, URL and body', async () => {
    const manifest = { effects: { http: [{ host: 'api.test' }] }, limits: { timeoutMs: 1000 } } as unknown as Manifest;
    const post = (url: string, body: string | null, text: string): CallRecord['egress'][number] => ({
      ...exchange(url, text),
      request: { method: 'POST', url, headers: [], body },
    });
    const session = replaySession([exchange('https://api.test/a', 'first'), exchange('https://API.test/a', 'second'), post('https://api.test/p', b64('x'), 'posted')], () => manifest);
    const caller = { invocationId: 'i', hash: 'h', name: 'n', version: '1.0.0', deadline: Date.now() + 1000 };
    const get = (url: string) => session.perform(caller, { method: 'get', url, headers: [], body: null });
    const text = (r: EgressResult) => (r.ok ? Buffer.from(r.response.body, 'base64').toString() : r.error.type);
    expect(text(await get('https://api.test/a'))).toBe('first');
    expect(text(await get('https://api.test/a#frag'))).toBe('second');
    expect(text(await get('https://api.test/a'))).toBe('EFFECT_FORBIDDEN');
    expect(text(await session.perform(caller, { method: 'POST', url: 'https://api.test/p', headers: [], body: b64('y') }))).toBe('EFFECT_FORBIDDEN');
    expect(text(await session.perform(caller, { method: 'POST', url: 'https://api.test/p', headers: [], body: b64('x') }))).toBe('posted');
    expect(session.misses).toEqual(['GET https://api.test/a', 'POST https://api.test/p']);
  });
});

describe('replay on the kernel’s own records', () => {
  it('records made by real invocations (state, a local HTTP server, Math.random, errors, state.list) replay with exact counts', async () => {
    const api = http.createServer((req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(req.url === '/item/1' ? 'one' : req.url === '/item/2' ? 'two' : 'other');
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    const port = (api.address() as AddressInfo).port;
    const k3 = await startTestKernel({ workers: 2 });
    try {
      const host = `127.0.0.1:${port}`;
      const live = (version: string, body: string) =>
        cap({ name: 'rp.live', version, body: body.replaceAll('https://api.test', `http://${host}`), effects: { http: [{ host, methods: ['GET'] }] } });
      await k3.kernel.register(op, { source: live('1.0.0', CURRENT) });
      const inputs: Json[] = [
        ...[1, 2, 3, 4, 5, 6, 7, 8].map((n) => ({ mode: 'plain', n })),
        ...[1, 2, 3].map((n) => ({ mode: 'state', n })),
        ...[1, 2].map((n) => ({ mode: 'clock', n })),
        ...[1, 2].map((n) => ({ mode: 'fetch', n })),
        ...[1, 2].map((n) => ({ mode: 'fail', n })),
        { mode: 'list', n: 0 },
      ];
      for (const input of inputs) await k3.kernel.invoke({ name: 'rp.live', input }).catch(() => undefined);
      const res = await k3.kernel.apply(op, { changes: [{ op: 'register', source: live('1.1.0', CANDIDATE) }], dryRun: true, replay: {} });
      // 18 records: plain 1-4 same, 5-8 changed; state 1-2 same (each read the absent key), 3
      // unreplayable (reads 'other'); clock unstable; fetch 1 same, 2 unreplayable (another URL);
      // fail 1 changed, 2 same with an error; list unreplayable (the record says so).
      expect({ ...res.replay?.[0], examples: undefined }).toEqual({
        name: 'rp.live', from: '1.0.0', to: '1.1.0', samples: 18, same: 8, changed: 5, errors: 1, unstable: 2, unreplayable: 3, examples: undefined,
      });
    } finally {
      await k3.stop();
      await new Promise<void>((r) => api.close(() => r()));
    }
  });
});
