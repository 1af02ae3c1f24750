// fetch inside the sandbox, end to end through the real SandboxPool: capability code calls the
// global, the request crosses isolate -> worker -> pool and is answered by an egress hook written
// here (from data, or by a real HTTP server on 127.0.0.1). Bodies of every kind, the response's
// fields, the typed errors and limits of the sandbox's half, attribution of a global to the right
// call under concurrency, nested calls, and capability code that breaks its own globals.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Effects, EgressCaller, EgressRequest, EgressResponse, EgressResult } from '../capabilities/effects.ts';
import type { RunResult } from '../sandbox/protocol.ts';
import type { RunHooks, SandboxPool } from '../sandbox/pool.ts';
import { makePool, spec, Versions, type VersionOptions } from './sandbox.fixtures.ts';

const versions = new Versions();
let pool: SandboxPool;

beforeAll(async () => {
  ({ pool } = makePool(versions, { size: 1 }));
  await pool.start();
});

afterAll(async () => {
  await pool.close();
});

const ANY: Effects = { http: [{ host: '*' }] };

/** A version whose manifest declares `effects` (null: none). */
function fetcher(name: string, code: string, effects: Effects | null = ANY, o: VersionOptions = {}): string {
  const h = versions.add(name, code, o);
  if (effects) versions.getVersion(h)!.manifest.effects = effects;
  return h;
}

function output(r: RunResult): unknown {
  if (!r.ok) throw new Error(`expected success, got ${JSON.stringify(r.error)}`);
  return r.output;
}

function response(url: string, body: string | Uint8Array, extra: Partial<EgressResponse> = {}): EgressResult {
  return { ok: true, response: { status: 200, statusText: 'OK', headers: [], url, redirected: false, body: Buffer.from(body).toString('base64'), ...extra } };
}

interface Seen { caller: EgressCaller; request: EgressRequest }

/** A hook that records every request and answers with `answer` (default: 200, the URL as body). */
function recorder(answer?: (s: Seen) => EgressResult | Promise<EgressResult>): { hooks: RunHooks; seen: Seen[] } {
  const seen: Seen[] = [];
  return {
    seen,
    hooks: {
      egress: async (caller, request) => {
        const s = { caller, request };
        seen.push(s);
        return answer ? answer(s) : response(request.url, request.url);
      },
    },
  };
}

const bodyOf = (r: EgressRequest) => (r.body === null ? null : Buffer.from(r.body, 'base64'));
const header = (r: EgressRequest, name: string) => r.headers.find(([n]) => n === name)?.[1];

// What capability code reports of a failure it caught.
const CATCH = `(e) => ({ name: e.name, type: e.type, data: e.data, message: e.message })`;

describe('request bodies', () => {
  it('arrive as the right bytes, with the content-type they imply', async () => {
    const h = fetcher('fetch.bodies', `export default async () => {
      const u = 'https://api.test/';
      const bytes = new Uint8Array([0, 1, 2, 250, 255]);
      const buf = new ArrayBuffer(6); new Uint8Array(buf).set([9, 8, 7, 6, 5, 4]);
      await fetch(u + 'string', { method: 'POST', body: 'héllo ✓ \\ud800' });
      await fetch(u + 'bytes', { method: 'PUT', body: bytes });
      await fetch(u + 'buffer', { method: 'POST', body: buf });
      await fetch(u + 'view', { method: 'POST', body: new DataView(buf, 2, 3) });
      await fetch(u + 'params', { method: 'POST', body: new URLSearchParams({ a: 'b c', 'é': '&' }) });
      await fetch(u + 'json', { method: 'POST', body: JSON.stringify({ x: [1, 2] }), headers: { 'Content-Type': 'application/json' } });
      await fetch(new Request(u + 'request', { method: 'post', body: 'from a Request', headers: [['X-Two', 'a'], ['x-two', 'b']] }));
      await fetch(u + 'none');
      return 'ok';
    };`);
    const { hooks, seen } = recorder();
    expect(output(await pool.run(spec(h, null), hooks))).toBe('ok');
    const by = Object.fromEntries(seen.map((s) => [new URL(s.request.url).pathname.slice(1), s.request]));
    expect(bodyOf(by.string)!.toString('utf8')).toBe('héllo ✓ \ufffd');
    expect(header(by.string, 'content-type')).toBe('text/plain;charset=UTF-8');
    expect([...bodyOf(by.bytes)!]).toEqual([0, 1, 2, 250, 255]);
    expect(by.bytes.method).toBe('PUT');
    expect(header(by.bytes, 'content-type')).toBeUndefined();
    expect([...bodyOf(by.buffer)!]).toEqual([9, 8, 7, 6, 5, 4]);
    expect([...bodyOf(by.view)!]).toEqual([7, 6, 5]);
    expect(bodyOf(by.params)!.toString()).toBe('a=b+c&%C3%A9=%26');
    expect(header(by.params, 'content-type')).toBe('application/x-www-form-urlencoded;charset=UTF-8');
    expect(JSON.parse(bodyOf(by.json)!.toString())).toEqual({ x: [1, 2] });
    expect(header(by.json, 'content-type')).toBe('application/json');
    expect(by.request).toMatchObject({ method: 'POST', headers: [['content-type', 'text/plain;charset=UTF-8'], ['x-two', 'a, b']] });
    expect(bodyOf(by.request)!.toString()).toBe('from a Request');
    expect(by.none).toEqual({ method: 'GET', url: 'https://api.test/none', headers: [], body: null });
  });
});

describe('the response', () => {
  it('has the kernel answer\'s status, statusText, headers, url, redirected and body', async () => {
    const h = fetcher('fetch.response', `export default async () => {
      const r = await fetch('http://api.test/start');
      let appended; try { r.headers.append('x', 'y'); appended = 'appended'; } catch (e) { appended = e.name; }
      const bytes = Array.from(new Uint8Array(await r.clone().arrayBuffer()));
      return { status: r.status, statusText: r.statusText, ok: r.ok, redirected: r.redirected, url: r.url, type: r.type,
        headers: [...r.headers], cookies: r.headers.getSetCookie(), ct: r.headers.get('Content-Type'), appended, bytes,
        json: await r.json(), used: r.bodyUsed, isResponse: r instanceof Response, body: 'body' in r };
    };`);
    const body = Buffer.from(JSON.stringify({ ok: 'ü' }));
    const { hooks } = recorder(({ request }) => response(request.url, body, {
      status: 404, statusText: 'Not Found', url: 'http://api.test/final', redirected: true,
      headers: [['content-type', 'application/json'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['x-b', '1'], ['x-a', '2']],
    }));
    expect(output(await pool.run(spec(h, null), hooks))).toEqual({
      status: 404, statusText: 'Not Found', ok: false, redirected: true, url: 'http://api.test/final', type: 'basic',
      headers: [['content-type', 'application/json'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['x-a', '2'], ['x-b', '1']],
      cookies: ['a=1', 'b=2'], ct: 'application/json', appended: 'TypeError', bytes: [...body], json: { ok: 'ü' }, used: true,
      isResponse: true, body: false,
    });
  });

  it('round-trips bodies through a real HTTP server on 127.0.0.1', async () => {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const got = Buffer.concat(chunks);
        res.writeHead(201, { 'content-type': 'application/octet-stream', 'x-method': req.method ?? '', 'x-echo': String(req.headers['x-echo']) });
        res.end(Buffer.concat([got, Buffer.from([0xff, 0x00])]));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      // The hook is a stand-in for the kernel: it makes the request with Node's own fetch.
      const hooks: RunHooks = {
        egress: async (_caller, request) => {
          const res = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body === null ? undefined : Buffer.from(request.body, 'base64') });
          const bytes = Buffer.from(await res.arrayBuffer());
          return { ok: true, response: { status: res.status, statusText: res.statusText, headers: [...res.headers], url: res.url, redirected: res.redirected, body: bytes.toString('base64') } };
        },
      };
      const h = fetcher('fetch.server', `export default async (input) => {
        const sent = new Uint8Array(256); for (let i = 0; i < 256; i++) sent[i] = i;
        const r = await fetch('http://127.0.0.1:' + input.port + '/echo', { method: 'PATCH', body: sent, headers: { 'X-Echo': ' yes ' } });
        return { status: r.status, statusText: r.statusText, method: r.headers.get('x-method'), echo: r.headers.get('x-echo'),
          bytes: Array.from(new Uint8Array(await r.arrayBuffer())) };
      };`);
      expect(output(await pool.run(spec(h, { port }), hooks))).toEqual({
        status: 201, statusText: 'Created', method: 'PATCH', echo: 'yes', bytes: [...Array.from({ length: 256 }, (_, i) => i), 0xff, 0],
      });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('typed errors', () => {
  const probe = (url: string, init = '{}') => `export default async () => {
    try { await fetch(${JSON.stringify(url)}, ${init}); return 'fetched'; } catch (e) { return (${CATCH})(e); }
  };`;

  it('EFFECT_FORBIDDEN when the version declares no effects.http, or the run has no egress hook', async () => {
    const none = fetcher('fetch.undeclared', probe('https://api.test/x'), null);
    const { hooks, seen } = recorder();
    expect(output(await pool.run(spec(none, null), hooks))).toMatchObject({
      name: 'SubstrateError', type: 'EFFECT_FORBIDDEN', data: { url: 'https://api.test/x', reason: 'no effects.http declared', name: 'fetch.undeclared' },
    });
    const declared = fetcher('fetch.nohook', probe('https://api.test/x'));
    expect(output(await pool.run(spec(declared, null)))).toMatchObject({
      type: 'EFFECT_FORBIDDEN', data: { url: 'https://api.test/x', reason: 'no egress for this run' },
    });
    expect(seen).toEqual([]);
  });

  it('EFFECT_FAILED for an invalid URL, EFFECT_FORBIDDEN for a scheme other than http(s)', async () => {
    const { hooks, seen } = recorder();
    expect(output(await pool.run(spec(fetcher('fetch.badurl', probe('not a url')), null), hooks)))
      .toMatchObject({ type: 'EFFECT_FAILED', data: { url: 'not a url', reason: 'invalid URL' } });
    expect(output(await pool.run(spec(fetcher('fetch.ftp', probe('ftp://files.test/a')), null), hooks)))
      .toMatchObject({ type: 'EFFECT_FORBIDDEN', data: { url: 'ftp://files.test/a', reason: 'scheme ftp: is not http: or https:' } });
    // new Request itself follows the standard: an unparseable URL is a TypeError.
    const h = fetcher('fetch.request-badurl', `export default () => { try { new Request('nope'); } catch (e) { return e.name; } };`);
    expect(output(await pool.run(spec(h, null), hooks))).toBe('TypeError');
    expect(seen).toEqual([]);
  });

  it('an uncaught fetch error fails the call with the same typed error', async () => {
    const h = fetcher('fetch.uncaught', `export default async () => { await fetch('ftp://x.test/'); };`);
    const r = await pool.run(spec(h, null), recorder().hooks);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ type: 'EFFECT_FORBIDDEN', data: { url: 'ftp://x.test/' } });
  });

  it('the kernel\'s typed errors reach the capability as they are; a hook that throws is EFFECT_FAILED', async () => {
    const h = fetcher('fetch.kernel-errors', `export default async () => {
      const out = [];
      for (const u of ['https://denied.test/', 'https://throws.test/', 'https://nonsense.test/']) {
        try { await fetch(u); out.push('fetched'); } catch (e) { out.push((${CATCH})(e)); }
      }
      return out;
    };`);
    const hooks: RunHooks = {
      egress: async (_c, request) => {
        if (request.url.includes('denied')) return { ok: false, error: { type: 'EFFECT_FORBIDDEN', message: 'not granted', data: { url: request.url, missing: { kind: 'http', target: 'denied.test' } } } };
        if (request.url.includes('throws')) throw new Error('connect ECONNREFUSED');
        return { nonsense: true } as unknown as EgressResult;
      },
    };
    expect(output(await pool.run(spec(h, null), hooks))).toEqual([
      { name: 'SubstrateError', type: 'EFFECT_FORBIDDEN', message: 'not granted', data: { url: 'https://denied.test/', missing: { kind: 'http', target: 'denied.test' } } },
      { name: 'SubstrateError', type: 'EFFECT_FAILED', message: 'fetch of https://throws.test/: connect ECONNREFUSED', data: { url: 'https://throws.test/', reason: 'connect ECONNREFUSED' } },
      { name: 'SubstrateError', type: 'EFFECT_FAILED', message: 'fetch of https://nonsense.test/: the egress hook gave no result', data: { url: 'https://nonsense.test/', reason: 'the egress hook gave no result' } },
    ]);
  });

  it('too many requests in a tree: OVERLOADED { what: requests }', async () => {
    const h = fetcher('fetch.count', `export default async () => {
      const out = [];
      for (let i = 0; i < 4; i++) { try { await fetch('https://api.test/' + i); out.push('ok'); } catch (e) { out.push((${CATCH})(e)); } }
      return out;
    };`, { http: [{ host: '*' }], limits: { requests: 3 } });
    const { hooks, seen } = recorder();
    const out = output(await pool.run(spec(h, null), hooks)) as unknown[];
    expect(out.slice(0, 3)).toEqual(['ok', 'ok', 'ok']);
    expect(out[3]).toMatchObject({ type: 'OVERLOADED', data: { what: 'requests', limit: 3, url: 'https://api.test/3' } });
    expect(seen).toHaveLength(3);
  });

  it('too many in flight: OVERLOADED { what: requests in flight }; answered ones free their place', async () => {
    const h = fetcher('fetch.inflight', `export default async (input) => {
      const settle = (p) => p.then((r) => r.text(), (e) => (${CATCH})(e));
      if (input.sequential) {
        const out = [];
        for (let i = 0; i < 4; i++) out.push(await settle(fetch('https://api.test/s' + i)));
        return out;
      }
      // Two held by the hook until this run is over: the third finds both places taken.
      fetch('https://api.test/held0'); fetch('https://api.test/held1');
      return settle(fetch('https://api.test/third'));
    };`, { http: [{ host: '*' }], limits: { inFlight: 2 } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { hooks, seen } = recorder(async ({ request }) => {
      if (request.url.includes('held')) await gate;
      return response(request.url, 'done');
    });
    expect(output(await pool.run(spec(h, { sequential: false }), hooks))).toMatchObject({
      type: 'OVERLOADED', data: { what: 'requests in flight', limit: 2, url: 'https://api.test/third' },
    });
    release();
    expect(seen.map((s) => s.request.url)).toEqual(['https://api.test/held0', 'https://api.test/held1']);
    expect(output(await pool.run(spec(h, { sequential: true }), hooks))).toEqual(['done', 'done', 'done', 'done']);
  });

  it('a request body over the limit: PAYLOAD_TOO_LARGE, from the manifest\'s limit and from the kernel\'s', async () => {
    const h = fetcher('fetch.bodylimit', `export default async () => {
      const out = [];
      for (const n of [10, 11, 1024 * 1024 + 1]) {
        try { await fetch('https://api.test/', { method: 'POST', body: new Uint8Array(n) }); out.push('ok'); } catch (e) { out.push((${CATCH})(e)); }
      }
      return out;
    };`, { http: [{ host: '*' }], limits: { requestBodyBytes: 10 } });
    const { hooks, seen } = recorder();
    const out = output(await pool.run(spec(h, null), hooks)) as unknown[];
    expect(out[0]).toBe('ok');
    expect(out[1]).toMatchObject({ type: 'PAYLOAD_TOO_LARGE', data: { what: 'request body', limit: 10, size: 11 } });
    expect(out[2]).toMatchObject({ type: 'PAYLOAD_TOO_LARGE', data: { what: 'request body', limit: 1024 * 1024, size: 1024 * 1024 + 1 } });
    expect(seen).toHaveLength(1);
  });

  it('fetch outside any call (module evaluation) is refused; a run that ends before its answer drops it', async () => {
    const h = fetcher('fetch.toplevel', `const early = fetch('https://api.test/early').then(() => 'fetched', (e) => e.type + ' ' + e.data.reason);
      export default async (input) => { if (input.leave) { fetch('https://api.test/never'); return 'left'; } return early; };`);
    let late!: () => void;
    const lateAnswer = new Promise<void>((r) => (late = r));
    const { hooks, seen } = recorder(async ({ request }) => {
      await lateAnswer;
      return response(request.url, 'too late');
    });
    expect(output(await pool.run(spec(h, { leave: false }), hooks))).toBe('EFFECT_FORBIDDEN no call in flight');
    expect(output(await pool.run(spec(h, { leave: true }), hooks))).toBe('left');
    late();
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.map((s) => s.request.url)).toEqual(['https://api.test/never']);
    expect(output(await pool.run(spec(h, { leave: false }), hooks))).toBe('EFFECT_FORBIDDEN no call in flight');
  });
});

describe('attribution', () => {
  it('goes to the call the host entered the isolate for, with two calls of one version interleaving', async () => {
    // Held requests order the two calls: A sets a 300 ms timer, then B enters the isolate (its
    // replies) and stays in flight (B/2 is held) until A's timer has fetched. When A's timer fires,
    // B is both the latest call and the last one the host entered for: "the latest call", or "the
    // last entry" without the timer rule, would blame B.
    const h = fetcher('fetch.attribution', `export default async (input, ctx) => {
      const get = (path) => fetch('https://api.test/' + input.tag + path).then((r) => r.text());
      await ctx.state.get('k');
      const first = await get('/1');
      const armed = get('/armed');
      const viaTimer = await new Promise((resolve) => setTimeout(() => resolve(get('/timer')), input.tag === 'A' ? 300 : 0));
      const last = await get('/2');
      return { me: ctx.invocation.id, seen: [first, await armed, viaTimer, last] };
    };`);
    const arrived = new Map<string, () => void>();
    const arrival = (path: string) => new Promise<void>((r) => arrived.set(path, r));
    const holds: { [path: string]: Promise<void> } = {
      'A/1': arrival('B/1'),
      'B/1': arrival('A/armed'),
      'A/armed': arrival('A/timer'),
    };
    holds['B/2'] = holds['A/armed'];
    const { hooks, seen } = recorder(async ({ caller, request }) => {
      const path = new URL(request.url).pathname.slice(1);
      arrived.get(path)?.();
      await holds[path];
      return response(request.url, caller.invocationId);
    });
    const a = pool.run(spec(h, { tag: 'A' }, { invocationId: 'inv-attr-A' }), hooks);
    const b = pool.run(spec(h, { tag: 'B' }, { invocationId: 'inv-attr-B' }), hooks);
    expect(output(await a)).toEqual({ me: 'inv-attr-A', seen: Array(4).fill('inv-attr-A') });
    expect(output(await b)).toEqual({ me: 'inv-attr-B', seen: Array(4).fill('inv-attr-B') });
    for (const s of seen) expect(s.caller.invocationId).toBe(`inv-attr-${new URL(s.request.url).pathname[1]}`);
    expect(seen).toHaveLength(8);
  });

  it('a nested ctx.call\'s fetch names the nested version, and counts in the same tree', async () => {
    const limits = { requests: 3 };
    const child = fetcher('fetch.child', `export default async (input) => {
      const r = await fetch('https://child.test/' + input.n);
      let second; try { await fetch('https://child.test/again'); second = 'fetched'; } catch (e) { second = e.type + ' ' + e.data.what; }
      return { body: await r.text(), second };
    };`, { http: [{ host: 'child.test' }], limits });
    const quiet = fetcher('fetch.quiet', `export default async () => { try { await fetch('https://x.test/'); } catch (e) { return e.type; } };`, null);
    const parent = fetcher('fetch.parent', `export default async (input, ctx) => {
      const mine = await (await fetch('https://parent.test/')).text();
      const nested = await ctx.call('fetch.child', { n: 1 });
      const undeclared = await ctx.call('fetch.quiet', null);
      let after; try { await fetch('https://parent.test/after'); after = 'fetched'; } catch (e) { after = e.type; }
      return { mine, nested, undeclared, after };
    };`, { http: [{ host: 'parent.test' }], limits }, { dependencies: { 'fetch.child': '^1.0.0', 'fetch.quiet': '^1.0.0' } });
    const { hooks, seen } = recorder(({ caller, request }) => response(request.url, caller.name));
    const links = { [parent]: { 'fetch.child': child, 'fetch.quiet': quiet } };
    const out = output(await pool.run(spec(parent, null, { links, invocationId: 'inv-nested' }), hooks));
    // parent (1), child (2), child again (3): the parent's last request is the tree's fourth.
    expect(out).toEqual({ mine: 'fetch.parent', nested: { body: 'fetch.child', second: 'fetched' }, undeclared: 'EFFECT_FORBIDDEN', after: 'OVERLOADED' });
    expect(seen.map((s) => [s.caller.hash, s.caller.invocationId, s.request.url])).toEqual([
      [parent, 'inv-nested', 'https://parent.test/'],
      [child, 'inv-nested', 'https://child.test/1'],
      [child, 'inv-nested', 'https://child.test/again'],
    ]);
    // Every request carries the tree's deadline.
    expect(new Set(seen.map((s) => s.caller.deadline)).size).toBe(1);
  });
});

describe('capability code that breaks its own globals', () => {
  it('cannot break fetch, Headers, Request or Response', async () => {
    const h = fetcher('fetch.hostile', `const { Response: OrigResponse } = globalThis;
      export default async () => {
        const boom = () => { throw new Error('tampered'); };
        const hidden = Object.getOwnPropertyNames(globalThis).filter((n) => n.startsWith('__sb'));
        Array.prototype[Symbol.iterator] = boom; Array.prototype.push = boom; Array.prototype.join = boom; Array.prototype.map = boom;
        JSON.parse = boom; JSON.stringify = boom; Object.prototype.toJSON = boom; Object.keys = boom; Object.defineProperty = boom;
        String.prototype.slice = boom; String.prototype.charCodeAt = boom; String.prototype.toLowerCase = boom;
        Function.prototype.call = boom; Function.prototype.apply = boom; Function.prototype.bind = boom; Reflect.apply = boom;
        Promise.prototype.then = boom; Uint8Array.prototype.set = boom; Object.getPrototypeOf(Uint8Array.prototype).set = boom;
        Reflect.defineProperty(Object.prototype, 'method', { get: boom, configurable: true });
        Reflect.defineProperty(Object.prototype, 'body', { get: boom, configurable: true });
        Reflect.defineProperty(Object.prototype, 'status', { get: boom, configurable: true });
        Reflect.defineProperty(Object.prototype, 'url', { get: boom, configurable: true });
        globalThis.Response = boom; globalThis.Headers = boom; globalThis.Request = boom; globalThis.URL = boom; globalThis.TextEncoder = boom;
        const init = Object.create(null); init.method = 'post'; init.body = 'payload'; init.headers = Object.create(null); init.headers['X-Hostile'] = '1';
        const r = await fetch('https://api.test/h?q=1', init);
        const text = await r.clone().text();
        const json = await r.json();
        // Its own output goes through JSON.stringify too: toJSON is the one thing it must give back.
        delete Object.prototype.toJSON;
        return [text, json.n, r.status, r.headers.get('x-r'), r instanceof OrigResponse, hidden.length];
      };`);
    const { hooks, seen } = recorder(({ request }) => response(request.url, '{"n":7}', { status: 202, headers: [['x-r', 'yes']] }));
    const out = output(await pool.run(spec(h, null), hooks)) as unknown[];
    expect(out).toEqual(['{"n":7}', 7, 202, 'yes', true, 0]);
    expect(seen[0].request).toEqual({ method: 'POST', url: 'https://api.test/h?q=1', headers: [['content-type', 'text/plain;charset=UTF-8'], ['x-hostile', '1']], body: Buffer.from('payload').toString('base64') });
  });
});
