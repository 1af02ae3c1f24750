// Issue 10, item 1: JSON of any depth and size, on every path where it crosses a process or the
// wire (WebSocket params, MCP over HTTP, a capability's input and output, a state value written or
// read back), against a real kernel process. After every attack the process is still there,
// `kernel/info` answers, another capability returns correct results, and the kernel's last-resort
// guard (kernel/process-guard.ts) never had to catch anything.

import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_JSON_DEPTH, MAX_MESSAGE_DEPTH } from '../capabilities/json-limits.ts';
import type { Json } from '../capabilities/types.ts';
import { SubstrateClient } from '../kernel/client.ts';
import { spawnKernel, type KernelProcess } from './kernel-process.ts';
import { cap, expectType, startTestKernel, tmpDir } from './helpers.ts';

let kp: KernelProcess;
let client: SubstrateClient;
let dataDir: string;
let stderr = '';

const arrays = (depth: number, leaf = '0') => '['.repeat(depth) + leaf + ']'.repeat(depth);
const objects = (depth: number, leaf = '0') => '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
const nested = (depth: number): Json => JSON.parse(arrays(depth)) as Json;

// Builds a value `depth` levels deep inside the isolate: arrays, or objects when input.objects.
const BUILD = 'let v = 0; for (let i = 0; i < input.depth; i++) v = input.objects ? { a: v } : [v];';

beforeAll(async () => {
  dataDir = tmpDir('substrate-attack-input-');
  kp = await spawnKernel(dataDir, 1);
  kp.child.stderr!.on('data', (d) => (stderr += d));
  client = await SubstrateClient.connect(kp.url, { token: kp.token });
  await client.call('capabilities/apply', {
    changes: [
      { op: 'register', source: cap({ name: 'echo', body: 'return input;' }) },
      { op: 'register', source: cap({ name: 'add', body: 'return input.a + input.b;' }) },
      { op: 'register', source: cap({ name: 'deep-out', body: `${BUILD} return v;`, limits: { memoryMb: 256, timeoutMs: 20_000 } }) },
      { op: 'register', source: cap({ name: 'deep-call', deps: { echo: '^1.0.0' }, body: `${BUILD} await ctx.call('echo', v); return 'sent';`, limits: { memoryMb: 256, timeoutMs: 20_000 } }) },
      { op: 'register', source: cap({ name: 'deep-set', body: `${BUILD} await ctx.state.set('k', v); return 'stored';`, limits: { memoryMb: 256, timeoutMs: 20_000 } }) },
      { op: 'register', source: cap({ name: 'reader', body: "const v = await ctx.state.get(input.key); return v === undefined ? 'absent' : 'read';" }) },
      { op: 'register', source: cap({ name: 'big-out', body: "return 'x'.repeat(input.n);" }) },
    ],
  });
}, 120_000);

afterAll(async () => {
  client?.close();
  await kp?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** The kernel still serves: its process is alive, kernel/info answers, another capability is right. */
async function healthy(): Promise<void> {
  expect(kp.child.exitCode).toBeNull();
  const c = await SubstrateClient.connect(kp.url, { token: kp.token });
  try {
    const info = await c.call('kernel/info');
    expect(info.capabilities).toBeGreaterThanOrEqual(7);
    const r = await c.call('capabilities/invoke', { name: 'add', input: { a: 20, b: 22 } });
    expect(r.output).toBe(42);
  } finally {
    c.close();
  }
  expect(stderr).not.toMatch(/uncaught exception|unhandled rejection/);
}

/** A raw WebSocket: send one text frame, get the next reply (or the close code). */
async function rawExchange(text: string): Promise<{ reply?: any; closed?: number }> {
  const ws = new WebSocket(kp.url, { headers: { Authorization: `Bearer ${kp.token}` }, maxPayload: 64 * 1024 * 1024 });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const out = await new Promise<{ reply?: any; closed?: number }>((resolve) => {
    ws.once('message', (d) => resolve({ reply: JSON.parse(d.toString()) }));
    ws.once('close', (code) => resolve({ closed: code }));
    ws.send(text);
  });
  ws.close();
  return out;
}

const invokeText = (name: string, inputText: string, id: number | string = 1) =>
  `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"capabilities/invoke","params":{"name":"${name}","input":${inputText}}}`;

function expectTooDeep(error: { code: number; data: Record<string, unknown> }, limit: number) {
  expect(error.code).toBe(-32000);
  expect(error.data.type).toBe('PAYLOAD_TOO_LARGE');
  expect(error.data.limitKind).toBe('depth');
  expect(error.data.limit).toBe(limit);
}

describe('JSON of any depth on the WebSocket', () => {
  it('accepts input exactly MAX_JSON_DEPTH deep and refuses one level more, as a typed error', async () => {
    const ok = await client.call('capabilities/invoke', { name: 'echo', input: nested(MAX_JSON_DEPTH) });
    expect(JSON.stringify(ok.output)).toBe(arrays(MAX_JSON_DEPTH));
    const e = await expectType(client.call('capabilities/invoke', { name: 'echo', input: nested(MAX_JSON_DEPTH + 1) }), 'PAYLOAD_TOO_LARGE');
    expect(e.data).toMatchObject({ what: 'input', limit: MAX_JSON_DEPTH, depth: MAX_JSON_DEPTH + 1, limitKind: 'depth' });
    await healthy();
  }, 60_000);

  for (const [label, text] of [
    ['1e5 nested arrays', arrays(1e5)],
    ['1e6 nested arrays', arrays(1e6)],
    ['1e5 nested objects', objects(1e5)],
  ] as const) {
    it(`refuses params of ${label} with the request's id`, async () => {
      const { reply } = await rawExchange(invokeText('echo', text, 'deep-1'));
      expect(reply.id).toBe('deep-1');
      expectTooDeep(reply.error, MAX_MESSAGE_DEPTH);
      expect(reply.error.data.what).toBe('request');
      await healthy();
    }, 60_000);
  }

  it('closes with 1009 on 1e6 nested objects (past the message size), and serves on', async () => {
    const { closed } = await rawExchange(invokeText('echo', objects(1e6)));
    // 1006 when the kernel's close frame is lost while this client is still sending.
    expect([1009, 1006]).toContain(closed);
    await healthy();
  }, 60_000);

  it('in a batch, refuses only the too-deep request; a deep notification gets no reply', async () => {
    const batch = `[${invokeText('echo', arrays(1e5), 1)},${invokeText('add', '{"a":1,"b":2}', 2)},{"jsonrpc":"2.0","method":"kernel/info","params":{"x":${arrays(1e5)}}}]`;
    const { reply } = await rawExchange(batch);
    expect(reply).toHaveLength(2);
    expectTooDeep(reply.find((r: any) => r.id === 1).error, MAX_MESSAGE_DEPTH);
    expect(reply.find((r: any) => r.id === 2).result.output).toBe(3);
    await healthy();
  }, 60_000);

  it('refuses deep params of a method that validates them (zod) and of a manifest (canonical JSON, ajv)', async () => {
    const { reply: r1 } = await rawExchange(`{"jsonrpc":"2.0","id":7,"method":"capabilities/register","params":{"source":"x","manifest":{"name":"m","x":${arrays(1e5)}}}}`);
    expectTooDeep(r1.error, MAX_MESSAGE_DEPTH);
    // A gate test whose input and expected output are MAX_JSON_DEPTH deep, in a manifest sent beside
    // the source: the deepest place the protocol carries a value, within MAX_MESSAGE_DEPTH. The
    // manifest's walkers, the hash, the gate run and the comparison all take it.
    const deep = nested(MAX_JSON_DEPTH);
    const manifest = { name: 'deep-gate', version: '1.0.0', description: 'd', tests: [{ name: 'deep', input: deep, expect: deep }] };
    const src = 'export default async function (input) { return input; }';
    const reg = await client.call('capabilities/register', { source: src, manifest });
    expect(reg.name).toBe('deep-gate');
    await healthy();
  }, 60_000);

  it('a manifest export nested too deeply is refused at registration', async () => {
    const source = `let m = 0; for (let i = 0; i < 5000; i++) m = [m];
export const manifest = { name: 'deep-manifest', version: '1.0.0', description: 'd', x: m };
export default async function () { return 1; }`;
    const e = await expectType(client.call('capabilities/register', { source }), 'PAYLOAD_TOO_LARGE');
    expect(e.data).toMatchObject({ what: 'manifest', limit: MAX_MESSAGE_DEPTH, limitKind: 'depth' });
    await healthy();
  }, 60_000);
});

describe('JSON of any depth from and into capabilities', () => {
  for (const depth of [MAX_JSON_DEPTH + 1, 5000, 1e5, 1e6]) {
    it(`refuses an output ${depth} levels deep`, async () => {
      for (const objectsToo of [false, true]) {
        const e = await expectType(client.call('capabilities/invoke', { name: 'deep-out', input: { depth, objects: objectsToo } }), 'PAYLOAD_TOO_LARGE');
        expect(e.data).toMatchObject({ what: 'output', limit: MAX_JSON_DEPTH, limitKind: 'depth' });
      }
      await healthy();
    }, 120_000);

    it(`refuses a ctx.call input ${depth} levels deep`, async () => {
      const e = await expectType(client.call('capabilities/invoke', { name: 'deep-call', input: { depth } }), 'PAYLOAD_TOO_LARGE');
      expect(e.data).toMatchObject({ what: 'input', limit: MAX_JSON_DEPTH, limitKind: 'depth' });
      await healthy();
    }, 120_000);

    it(`refuses a state value ${depth} levels deep, and stores nothing`, async () => {
      const e = await expectType(client.call('capabilities/invoke', { name: 'deep-set', input: { depth } }), 'PAYLOAD_TOO_LARGE');
      expect(e.data).toMatchObject({ what: 'value', limit: MAX_JSON_DEPTH, limitKind: 'depth' });
      await expectType(client.call('state/get', { namespace: 'deep-set', key: 'k' }), 'NOT_FOUND');
      await healthy();
    }, 120_000);
  }

  it('a state value stored too deep before the limit existed is refused by key when read back', async () => {
    // Written behind the kernel's back, as an older kernel without the limit could have.
    const db = new Database(path.join(dataDir, 'substrate.db'));
    db.pragma('busy_timeout = 10000');
    const put = db.prepare('INSERT OR REPLACE INTO state (namespace, key, value, version) VALUES (?, ?, ?, 1)');
    put.run('reader', 'legacy-1e5', arrays(1e5));
    put.run('reader', 'legacy-1e6', arrays(1e6));
    put.run('reader', 'fine', '[1]');
    db.close();
    for (const key of ['legacy-1e5', 'legacy-1e6']) {
      const inside = await expectType(client.call('capabilities/invoke', { name: 'reader', input: { key } }), 'PAYLOAD_TOO_LARGE');
      expect(inside.data).toMatchObject({ what: 'value', key, limit: MAX_JSON_DEPTH, limitKind: 'depth' });
      const operator = await expectType(client.call('state/get', { namespace: 'reader', key }), 'PAYLOAD_TOO_LARGE');
      expect(operator.data).toMatchObject({ what: 'value', key, namespace: 'reader', limit: MAX_JSON_DEPTH });
    }
    const listed = await expectType(client.call('state/list', { namespace: 'reader' }), 'PAYLOAD_TOO_LARGE');
    expect(listed.data.key).toBe('legacy-1e5');
    // The documented way past it: a cursor at the refused key.
    const rest = await client.call('state/list', { namespace: 'reader', cursor: 'legacy-1e6' });
    expect(rest.items).toEqual([]);
    expect((await client.call('capabilities/invoke', { name: 'reader', input: { key: 'fine' } })).output).toBe('read');
    await healthy();
  }, 120_000);
});

describe('huge but shallow', () => {
  it('input, output and state near and over the byte limits', async () => {
    const MiB = 1024 * 1024;
    // Just under 1 MiB of input arrives; just over is refused; far over (past the message size) closes.
    const under = await client.call('capabilities/invoke', { name: 'echo', input: 'x'.repeat(MiB - 100) });
    expect((under.output as string).length).toBe(MiB - 100);
    const over = await expectType(client.call('capabilities/invoke', { name: 'echo', input: new Array(600_000).fill(0) }), 'PAYLOAD_TOO_LARGE');
    expect(over.data).toMatchObject({ what: 'input', limit: MiB });
    const { closed } = await rawExchange(invokeText('echo', JSON.stringify(new Array(2_500_000).fill(0))));
    expect([1009, 1006]).toContain(closed);
    // A capability's output at and past its limit.
    expect(((await client.call('capabilities/invoke', { name: 'big-out', input: { n: MiB - 2 } })).output as string).length).toBe(MiB - 2);
    const big = await expectType(client.call('capabilities/invoke', { name: 'big-out', input: { n: MiB } }), 'PAYLOAD_TOO_LARGE');
    expect(big.data).toMatchObject({ what: 'output', limit: MiB });
    // One wide object: 200,000 keys parse and are refused by size.
    const wide = `{${Array.from({ length: 200_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`;
    const { reply } = await rawExchange(invokeText('echo', wide, 'wide'));
    expect(reply.error.data.type).toBe('PAYLOAD_TOO_LARGE');
    await healthy();
  }, 120_000);
});

describe('MCP over HTTP', () => {
  async function session(): Promise<{ post: (body: string) => Promise<any> }> {
    const url = `${kp.url.replace('ws://', 'http://')}mcp`;
    const headers: Record<string, string> = {
      Authorization: `Bearer ${kp.token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    const init = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'attack', version: '1' } } }),
    });
    expect(init.status).toBe(200);
    await init.text();
    const sid = init.headers.get('mcp-session-id')!;
    const sh = { ...headers, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
    await (await fetch(url, { method: 'POST', headers: sh, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' })).text();
    return {
      post: async (body: string) => {
        const res = await fetch(url, { method: 'POST', headers: sh, body });
        const text = await res.text();
        if (!(res.headers.get('content-type') ?? '').includes('event-stream')) return { status: res.status, body: text ? JSON.parse(text) : null };
        const data = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
        return { status: res.status, body: data[data.length - 1] };
      },
    };
  }

  it('refuses tool arguments of 1e5 and 1e6 levels, and deep params anywhere, and serves on', async () => {
    const s = await session();
    for (const deep of [arrays(1e5), arrays(1e6), objects(1e5)]) {
      const r = await s.post(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"input":${deep}}}}`);
      expect(r.body.id).toBe(5);
      expect(r.body.result.isError).toBe(true);
      expect(r.body.result._meta['substrate/error']).toMatchObject({ type: 'PAYLOAD_TOO_LARGE', data: { limitKind: 'depth' } });
      // Deep where no tool looks: the SDK's own handling must survive it too.
      const p = await s.post(`{"jsonrpc":"2.0","id":6,"method":"ping","params":{"_meta":{"x":${deep}}}}`);
      expect(p.status).toBeLessThan(500);
    }
    const ok = await s.post('{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}');
    expect(ok.body.result.content[0].text).toBe('5');
    // Over the body limit, inside a session (the SDK's transport reads it) and without one (ours).
    const big = await s.post(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"input":"${'x'.repeat(5 * 1024 * 1024)}"}}}`);
    expect(big.status).toBe(413);
    const bigInit = await fetch(`${kp.url.replace('ws://', 'http://')}mcp`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${kp.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: 'x'.repeat(5 * 1024 * 1024),
    });
    expect(bigInit.status).toBe(413);
    await bigInit.text();
    // A deep initialize (no session yet: the endpoint parses this body itself).
    const init = await fetch(`${kp.url.replace('ws://', 'http://')}mcp`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${kp.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"experimental":{"x":${arrays(1e6)}}},"clientInfo":{"name":"a","version":"1"}}}`,
    });
    expect(init.status).toBeLessThan(500);
    await init.text();
    await healthy();
  }, 120_000);
});

describe('MCP over stdio (substrate mcp)', () => {
  it('refuses tool arguments of 1e5 and 1e6 levels and keeps serving', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const child = spawn(process.execPath, ['--no-node-snapshot', path.join(root, 'cli/substrate.js'), 'mcp', '--url', kp.url, '--token', kp.token], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let childErr = '';
    child.stderr!.on('data', (d) => (childErr += d));
    const lines = createInterface({ input: child.stdout! });
    const waiting = new Map<number, (m: any) => void>();
    lines.on('line', (l) => {
      const m = JSON.parse(l);
      if (typeof m.id === 'number') waiting.get(m.id)?.(m);
    });
    const rpc = (id: number, text: string) =>
      new Promise<any>((resolve) => {
        waiting.set(id, resolve);
        child.stdin!.write(text + '\n');
      });
    try {
      const init = await rpc(0, JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'attack', version: '1' } } }));
      expect(init.result.serverInfo.name).toBe('substrate');
      child.stdin!.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
      let id = 1;
      for (const deep of [arrays(1e5), arrays(1e6), objects(1e5)]) {
        const r = await rpc(id, `{"jsonrpc":"2.0","id":${id++},"method":"tools/call","params":{"name":"echo","arguments":{"input":${deep}}}}`);
        expect(r.result.isError).toBe(true);
        expect(r.result._meta['substrate/error']).toMatchObject({ type: 'PAYLOAD_TOO_LARGE', data: { limitKind: 'depth' } });
      }
      const ok = await rpc(id, `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}`);
      expect(ok.result.content[0].text).toBe('5');
      expect(child.exitCode).toBeNull();
      expect(childErr).not.toMatch(/RangeError|unexpected failure/);
    } finally {
      child.kill();
    }
    await healthy();
  }, 120_000);
});

describe('a caller of the Kernel API in the same process', () => {
  it('an input too deep to serialize for the worker fails that call alone (the IPC outbox resends the rest)', async () => {
    const k = await startTestKernel();
    try {
      await k.kernel.register({ id: 'local', name: 'local', role: 'operator' }, { source: cap({ name: 'echo', body: 'return input;' }) });
      // Sent in the same tick, so that both share one IPC frame.
      const [deep, fine] = await Promise.allSettled([k.kernel.invoke({ name: 'echo', input: nested(1e5) }), k.kernel.invoke({ name: 'echo', input: { ok: 1 } })]);
      expect(deep.status).toBe('rejected');
      expect((deep as PromiseRejectedResult).reason).toMatchObject({ type: 'PAYLOAD_TOO_LARGE', data: { what: 'input', limitKind: 'depth', limit: MAX_JSON_DEPTH } });
      expect(fine.status === 'fulfilled' && fine.value.output).toEqual({ ok: 1 });
      // Its record cannot be serialized either: it is dropped, counted, and nothing throws out of
      // the records' flush into the kernel process.
      k.kernel.records?.flush();
      expect(k.kernel.records?.dropped).toBeGreaterThan(0);
      expect(k.kernel.records?.list({ name: 'echo' }, 10).map((r) => r.input)).toEqual([{ ok: 1 }]);
    } finally {
      await k.stop();
    }
  }, 60_000);
});
