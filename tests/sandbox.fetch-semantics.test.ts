// Headers, Request and Response of the in-isolate runtime (sandbox/runtime/headers.ts,
// request-response.ts), inside a real isolate with the runtime installed, compared differentially
// with Node's own (undici's) on inputs fast-check generates: header names and values (valid,
// invalid, case, whitespace, set-cookie), methods, statuses and status texts, bodies of every kind.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import ivm from 'isolated-vm';
import { installRuntime } from '../sandbox/runtime.ts';

const RUNS = 150;

let isolate: ivm.Isolate;
let context: ivm.Context;

function run<T = unknown>(code: string, ...args: unknown[]): T {
  return context.evalClosureSync(code, args as never[], { arguments: { copy: true }, result: { copy: true } }) as T;
}

async function runAsync<T = unknown>(code: string, ...args: unknown[]): Promise<T> {
  return (await context.evalClosure(`return (async () => { ${code} })();`, args as never[], { arguments: { copy: true }, result: { copy: true, promise: true } })) as T;
}

beforeAll(async () => {
  isolate = new ivm.Isolate({ memoryLimit: 64 });
  context = await isolate.createContext();
  await installRuntime(context, isolate);
});

afterAll(() => {
  isolate.dispose();
});

const units = (s: string): number[] => Array.from({ length: s.length }, (_, i) => s.charCodeAt(i));
const str = (u: number[]) => String.fromCharCode(...u);

// Header names: tokens in mixed case (set-cookie among them), and strings with a bad character.
const tokenChar = fc.constantFrom(...'abcXYZ019!#$%&\'*+-.^_`|~'.split(''));
const goodName = fc.oneof(
  fc.constantFrom('content-type', 'Content-Type', 'set-cookie', 'Set-Cookie', 'x-a', 'X-A', 'accept'),
  fc.array(tokenChar, { minLength: 1, maxLength: 6 }).map((a) => a.join('')),
);
const badName = fc.oneof(fc.constant(''), fc.tuple(goodName, fc.constantFrom(' ', ':', '\u00e9', '\u0100', '(', '"', '\n')).map(([n, c]) => n + c));
const nameArb = fc.oneof({ weight: 4, arbitrary: goodName }, { weight: 1, arbitrary: badName });
// Values: printable text, HTTP whitespace at the ends, latin-1, and the characters that are refused.
const valueUnit = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
  { weight: 2, arbitrary: fc.constantFrom(0x09, 0x20, 0x0a, 0x0d) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
  { weight: 1, arbitrary: fc.constantFrom(0x00, 0x100, 0x2028) },
);
const valueArb = fc.array(valueUnit, { maxLength: 12 });

type Op = ['append' | 'set' | 'delete' | 'get' | 'has', string, number[]];
const opArb: fc.Arbitrary<Op> = fc.tuple(fc.constantFrom('append', 'set', 'delete', 'get', 'has'), nameArb, valueArb) as fc.Arbitrary<Op>;

function nodeHeadersOps(init: Array<[string, number[]]>, ops: Op[]): unknown {
  const out: unknown[] = [];
  let h: Headers;
  try {
    h = new Headers(init.map(([n, v]): [string, string] => [n, str(v)]));
  } catch (e) {
    return { init: (e as Error).name };
  }
  for (const [op, name, value] of ops) {
    try {
      const r = op === 'append' || op === 'set' ? h[op](name, str(value)) : h[op](name);
      out.push(r === undefined ? 'u' : r);
    } catch (e) {
      out.push((e as Error).name);
    }
  }
  const entries: Array<[string, string]> = [];
  h.forEach((v, k) => entries.push([k, v]));
  return { out, entries: [...h], forEach: entries, keys: [...h.keys()], cookies: h.getSetCookie() };
}

const ISO_HEADERS_OPS = `const str = (u) => String.fromCharCode.apply(null, u);
  const out = [];
  let h;
  try { h = new Headers($0.map((p) => [p[0], str(p[1])])); } catch (e) { return { init: e.name }; }
  for (const [op, name, value] of $1) {
    try {
      const r = op === 'append' || op === 'set' ? h[op](name, str(value)) : h[op](name);
      out.push(r === undefined ? 'u' : r);
    } catch (e) { out.push(e.name); }
  }
  const entries = [];
  h.forEach((v, k) => entries.push([k, v]));
  return { out, entries: [...h], forEach: entries, keys: [...h.keys()], cookies: h.getSetCookie() };`;

describe('Headers, differentially against Node', () => {
  it('agrees on every operation, the sorted and combined iteration and getSetCookie', () => {
    fc.assert(fc.property(fc.array(fc.tuple(nameArb, valueArb), { maxLength: 4 }), fc.array(opArb, { maxLength: 12 }), (init, ops) => {
      expect(run(ISO_HEADERS_OPS, init, ops)).toEqual(nodeHeadersOps(init, ops));
    }), { numRuns: RUNS * 2 });
  });

  it('agrees on record inits and pair inits of the wrong length', () => {
    fc.assert(fc.property(fc.dictionary(nameArb, valueArb.map(str), { maxKeys: 4 }), fc.array(fc.array(goodName, { maxLength: 3 }), { maxLength: 3 }), (rec, pairs) => {
      const ours = run(`const o = (f) => { try { return [...f()]; } catch (e) { return e.name; } };
        return [o(() => new Headers($0)), o(() => new Headers($1))];`, rec, pairs);
      const o = (f: () => Headers) => { try { return [...f()]; } catch (e) { return (e as Error).name; } };
      expect(ours).toEqual([o(() => new Headers(rec)), o(() => new Headers(pairs as never))]);
    }), { numRuns: RUNS });
  });

  it('is a WebIDL-shaped class', () => {
    expect(run(`const h = new Headers({ b: '2', a: '1' });
      return [Object.prototype.toString.call(h), Object.prototype.toString.call(h.entries()), String(Object.keys(Headers.prototype)),
        typeof h[Symbol.iterator], h[Symbol.iterator] === h.entries, Headers.name, Headers.length];`))
      .toEqual(['[object Headers]', '[object Headers Iterator]', 'append,delete,get,getSetCookie,has,set,forEach,keys,values,entries',
        'function', true, 'Headers', 0]);
  });
});

const METHODS = ['GET', 'get', 'Post', 'put', 'DELETE', 'head', 'options', 'patch', 'PATCH', 'PROPFIND', 'connect', 'TRACE', 'track', 'bad method', '', 'G\u00e9T'];
const URLS = ['http://example.com', 'https://a.b/c?d=1#e', 'http://EXAMPLE.com:80/x/../y', 'http://u:p@a.com/', 'not a url', '/relative', 'ftp://x/'];
type BodyKind = ['none'] | ['string', number[]] | ['bytes', number[]] | ['params', Array<[string, string]>] | ['object'];
const bodyArb: fc.Arbitrary<BodyKind> = fc.oneof(
  fc.constant(['none'] as BodyKind),
  fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 20 }).map((u) => ['string', u] as BodyKind),
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 20 }).map((b) => ['bytes', b] as BodyKind),
  fc.array(fc.tuple(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })), { maxLength: 3 }).map((p) => ['params', p] as BodyKind),
  fc.constant(['object'] as BodyKind),
);
const MAKE_BODY = `const makeBody = (k) => k[0] === 'none' ? undefined : k[0] === 'string' ? String.fromCharCode.apply(null, k[1])
  : k[0] === 'bytes' ? new Uint8Array(k[1]) : k[0] === 'params' ? new URLSearchParams(k[1]) : { toString() { return 'obj'; } };`;
function makeBody(k: BodyKind): unknown {
  if (k[0] === 'none') return undefined;
  if (k[0] === 'string') return str(k[1]);
  if (k[0] === 'bytes') return new Uint8Array(k[1]);
  if (k[0] === 'params') return new URLSearchParams(k[1]);
  return { toString: () => 'obj' };
}

describe('Request, differentially against Node', () => {
  it('agrees on method normalization, URL, headers, content-type and body', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...METHODS), fc.constantFrom(...URLS), bodyArb, fc.array(fc.tuple(goodName, valueArb.map(str)), { maxLength: 3 }), async (method, url, body, headers) => {
      const ours = await runAsync(`${MAKE_BODY}
        let r;
        try { r = new Request($0, { method: $1, body: makeBody($2), headers: $3 }); } catch (e) { return { error: e.name }; }
        const copy = new Request(r);
        return { method: r.method, url: r.url, headers: [...r.headers], redirect: r.redirect, used: r.bodyUsed,
          text: await copy.text(), usedAfter: [r.bodyUsed, copy.bodyUsed] };`, url, method, body, headers);
      let theirs: unknown;
      try {
        const r = new Request(url, { method, body: makeBody(body) as never, headers });
        const copy = new Request(r);
        theirs = { method: r.method, url: r.url, headers: [...r.headers], redirect: r.redirect, used: r.bodyUsed,
          text: await copy.text(), usedAfter: [r.bodyUsed, copy.bodyUsed] };
      } catch (e) {
        theirs = { error: (e as Error).name };
      }
      expect(ours).toEqual(theirs);
    }), { numRuns: RUNS });
  });

  it('refuses a used body, clones an unused one', async () => {
    const ours = await runAsync(`const r = new Request('http://a/', { method: 'POST', body: 'x' });
      const c = r.clone();
      const t = await r.text();
      let again; try { await r.text(); again = 'read'; } catch (e) { again = e.name; }
      let clone; try { r.clone(); clone = 'cloned'; } catch (e) { clone = e.name; }
      return [t, await c.text(), again, clone, r.bodyUsed];`);
    expect(ours).toEqual(['x', 'x', 'TypeError', 'TypeError', true]);
  });
});

const statusArb = fc.oneof(fc.integer({ min: 195, max: 605 }), fc.constantFrom(0, 100, 204, 304, 65736, -1, 200.7));
const statusTextArb = fc.array(fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.constantFrom(0x09, 0x0a, 0x0d, 0x00, 0xe9, 0x100)), { maxLength: 8 });

describe('Response, differentially against Node', () => {
  it('agrees on status, statusText, ok, headers and body', async () => {
    await fc.assert(fc.asyncProperty(bodyArb, statusArb, statusTextArb, fc.array(fc.tuple(goodName, valueArb.map(str)), { maxLength: 3 }), async (body, status, statusText, headers) => {
      const ours = await runAsync(`${MAKE_BODY}
        let r;
        try { r = new Response(makeBody($0), { status: $1, statusText: String.fromCharCode.apply(null, $2), headers: $3 }); } catch (e) { return { error: e.name }; }
        const c = r.clone();
        return { status: r.status, statusText: r.statusText, ok: r.ok, type: r.type, url: r.url, redirected: r.redirected,
          headers: [...r.headers], bytes: Array.from(new Uint8Array(await r.arrayBuffer())), text: await c.text(), used: r.bodyUsed };`,
      body, status, statusText, headers);
      let theirs: unknown;
      try {
        const r = new Response(makeBody(body) as never, { status, statusText: str(statusText), headers });
        const c = r.clone();
        theirs = { status: r.status, statusText: r.statusText, ok: r.ok, type: r.type, url: r.url, redirected: r.redirected,
          headers: [...r.headers], bytes: Array.from(new Uint8Array(await r.arrayBuffer())), text: await c.text(), used: r.bodyUsed };
      } catch (e) {
        theirs = { error: (e as Error).name };
      }
      expect(ours).toEqual(theirs);
    }), { numRuns: RUNS });
  });

  it('Response.json agrees on JSON values, and json() reads them back', async () => {
    await fc.assert(fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), async (value) => {
      const ours = await runAsync(`const r = Response.json($0, { status: 201 });
        return [r.status, [...r.headers], await r.clone().text(), await r.json()];`, value);
      const r = Response.json(value, { status: 201 });
      expect(ours).toEqual([r.status, [...r.headers], await r.clone().text(), await r.json()]);
    }), { numRuns: RUNS });
  });

  it('body round trips: bytes and strings (lone surrogates replaced)', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 50 }), async (bytes, u) => {
      const [b, t] = await runAsync<[number[], number[]]>(`const t = await new Response(String.fromCharCode.apply(null, $1)).text();
        return [Array.from(new Uint8Array(await new Response(new Uint8Array($0).buffer).arrayBuffer())), Array.from(t, (c) => c.charCodeAt(0))];`,
      Array.from(bytes), u);
      expect(b).toEqual(Array.from(bytes));
      expect(t).toEqual(units(await new Response(str(u)).text()));
    }), { numRuns: RUNS });
  });

  it('error, redirect, null-body statuses and used bodies', async () => {
    const probe = `const o = (f) => { try { const r = f(); return [r.type, r.status, [...r.headers]]; } catch (e) { return e.name; } };
      const e = Response.error();
      let immutable; try { e.headers.set('a', 'b'); immutable = 'set'; } catch (x) { immutable = x.name; }
      const r = new Response('once');
      await r.text();
      let second; try { await r.text(); second = 'read'; } catch (x) { second = x.name; }
      const empty = new Response(null);
      return [o(() => e), immutable, o(() => Response.redirect('http://a/b', 301)), o(() => Response.redirect('http://a/b', 200)),
        o(() => Response.redirect('nope')), o(() => new Response('x', { status: 204 })), o(() => new Response(null, { status: 204 })),
        second, [await empty.text(), await empty.text(), empty.bodyUsed], o(() => Response.json(undefined))];`;
    const ours = await runAsync(probe);
    const theirs = await new Function(`return (async () => { ${probe} })();`)();
    expect(ours).toEqual(theirs);
  });
});
