// The in-isolate runtime globals, run in real isolated-vm contexts and compared with Node's own
// TextEncoder/TextDecoder, atob/btoa, URL, URLSearchParams, structuredClone and util.format.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ivm from 'isolated-vm';
import { format as nodeFormat } from 'node:util';
import {
  installRuntime,
  installRuntimeSync,
  hostUrlParse,
  MAX_URL_INPUT_LENGTH,
  RUNTIME_SOURCE,
  SB_FORMAT_GLOBAL,
} from '../sandbox/runtime.ts';

type Outcome = { ok?: unknown; error?: string; message?: string };

let isolate: ivm.Isolate;
let context: ivm.Context;

/** Runs `code` as a function body inside the shared context; $0, $1... are copied arguments. */
function run<T = unknown>(code: string, ...args: unknown[]): T {
  return context.evalClosureSync(code, args as never[], { arguments: { copy: true }, result: { copy: true } }) as T;
}

function nodeOutcome(fn: () => unknown): Outcome {
  try {
    return { ok: fn() };
  } catch (e) {
    const err = e as Error;
    return { error: err.name, message: err.message };
  }
}

// Same shape as nodeOutcome, computed inside the isolate by the helper installed in beforeAll.
function isoOutcome(body: string, ...args: unknown[]): Outcome {
  return run<Outcome>(`return __outcome(() => { ${body} });`, ...args);
}

const str = (s: string) => Array.from({ length: s.length }, (_, i) => s.charCodeAt(i));

beforeAll(async () => {
  isolate = new ivm.Isolate({ memoryLimit: 64 });
  context = await isolate.createContext();
  await installRuntime(context, isolate);
  context.evalSync(`globalThis.__outcome = (fn) => {
    try { return { ok: fn() }; } catch (e) { return { error: e.name, message: e.message }; }
  };
  globalThis.__str = (units) => String.fromCharCode.apply(null, units);`);
});

afterAll(() => {
  isolate.dispose();
});

describe('installation', () => {
  it('leaves exactly the contract globals, non-enumerable like web globals, and removes its hooks', async () => {
    const iso = new ivm.Isolate({ memoryLimit: 32 });
    try {
      const ctx = await iso.createContext();
      const before = ctx.evalSync('Object.getOwnPropertyNames(globalThis).join()', { copy: true }) as string;
      await installRuntime(ctx, iso);
      const after = ctx.evalSync('Object.getOwnPropertyNames(globalThis).join()', { copy: true }) as string;
      const added = after.split(',').filter((n) => !before.split(',').includes(n)).sort();
      expect(added).toEqual([SB_FORMAT_GLOBAL, '__sb_fetch', 'Headers', 'Request', 'Response', 'fetch', 'TextDecoder', 'TextEncoder', 'URL', 'URLSearchParams', 'atob', 'btoa',
        'crypto', 'queueMicrotask', 'structuredClone'].sort());
      const types = ctx.evalSync(`JSON.stringify(['require', 'process', 'module', 'exports', 'XMLHttpRequest', 'Buffer', '__sb_hooks',
        '__sb_host', 'DOMException', 'InvalidCharacterError'].map((n) => typeof globalThis[n]))`, { copy: true }) as string;
      expect(JSON.parse(types)).toEqual(Array(10).fill('undefined'));
      const desc = ctx.evalSync(`JSON.stringify(['TextEncoder', 'URL', 'crypto', 'atob', '__sb_format'].map((n) => {
        const d = Object.getOwnPropertyDescriptor(globalThis, n); return [d.enumerable, d.writable, d.configurable]; }))`,
      { copy: true }) as string;
      expect(JSON.parse(desc)).toEqual(Array(5).fill([false, true, true]));
      // The host captures the formatter, then deletes it.
      ctx.evalSync(`globalThis.__fmt = globalThis.${SB_FORMAT_GLOBAL}; delete globalThis.${SB_FORMAT_GLOBAL};`);
      expect(ctx.evalSync(`typeof ${SB_FORMAT_GLOBAL} + ' ' + __fmt(['a', 1])`, { copy: true })).toBe('undefined a 1');
    } finally {
      iso.dispose();
    }
  });

  it('works without the isolate argument and with the synchronous variant', async () => {
    const iso = new ivm.Isolate({ memoryLimit: 32 });
    try {
      const a = await iso.createContext();
      await installRuntime(a);
      const b = iso.createContextSync();
      installRuntimeSync(b, iso);
      const c = iso.createContextSync();
      installRuntimeSync(c);
      for (const ctx of [a, b, c]) {
        expect(ctx.evalSync(`new URL('b', 'http://x/a/').href + typeof __sb_host + typeof __sb_hooks`, { copy: true }))
          .toBe('http://x/a/bundefinedundefined');
      }
    } finally {
      iso.dispose();
    }
  });

  it('is a classic script that refuses to run without its hooks', async () => {
    const iso = new ivm.Isolate({ memoryLimit: 32 });
    try {
      const ctx = await iso.createContext();
      expect(() => ctx.evalSync(RUNTIME_SOURCE)).toThrow(/__sb_hooks is missing/);
    } finally {
      iso.dispose();
    }
  });

  it('costs well under a millisecond per context once compiled (reported, loosely bounded)', async () => {
    const iso = new ivm.Isolate({ memoryLimit: 128 });
    try {
      const rounds = 40;
      installRuntimeSync(iso.createContextSync(), iso); // compile once
      const syncContexts = Array.from({ length: rounds }, () => iso.createContextSync());
      let t = process.hrtime.bigint();
      for (const ctx of syncContexts) installRuntimeSync(ctx, iso);
      const syncMs = Number(process.hrtime.bigint() - t) / 1e6 / rounds;
      const asyncContexts = Array.from({ length: rounds }, () => iso.createContextSync());
      t = process.hrtime.bigint();
      for (const ctx of asyncContexts) await installRuntime(ctx, iso);
      const asyncMs = Number(process.hrtime.bigint() - t) / 1e6 / rounds;
      console.log(`same isolate: installRuntimeSync ${syncMs.toFixed(3)} ms/context, installRuntime ${asyncMs.toFixed(3)} ms/context`);
      expect(syncMs).toBeLessThan(50);
      expect(asyncMs).toBeLessThan(50);
      for (const ctx of [...syncContexts, ...asyncContexts]) ctx.release();
    } finally {
      iso.dispose();
    }
  });

  it('reuses the code cache in fresh isolates (reported, loosely bounded)', () => {
    const rounds = 10;
    let bare = 0;
    let installed = 0;
    for (let i = 0; i < rounds; i++) {
      let t = process.hrtime.bigint();
      const a = new ivm.Isolate({ memoryLimit: 32 });
      a.createContextSync();
      bare += Number(process.hrtime.bigint() - t) / 1e6;
      a.dispose();
      t = process.hrtime.bigint();
      const b = new ivm.Isolate({ memoryLimit: 32 });
      const ctx = b.createContextSync();
      installRuntimeSync(ctx, b);
      installed += Number(process.hrtime.bigint() - t) / 1e6;
      expect(ctx.evalSync('typeof URL', { copy: true })).toBe('function');
      b.dispose();
    }
    const extra = (installed - bare) / rounds;
    console.log(`fresh isolate: ${(bare / rounds).toFixed(3)} ms bare, +${extra.toFixed(3)} ms for installRuntimeSync`);
    expect(extra).toBeLessThan(100);
  });
});

describe('TextEncoder / TextDecoder', () => {
  const strings = [
    '', 'hello', 'héllo wörld', '日本語テキスト', '😀👍🏽 emoji', '\uD800', '\uDC00', 'a\uD800b', '\uD83D\uDE00\uD83D',
    '\u0000\u007f\u0080\u07ff\u0800\uffff', 'x'.repeat(20000) + '€😀',
  ];

  it('encode matches Node for every string, including lone surrogates', () => {
    for (const s of strings) {
      const ours = run<number[]>('return Array.from(new TextEncoder().encode(__str($0)));', str(s));
      expect(ours).toEqual(Array.from(new TextEncoder().encode(s)));
    }
    expect(run('const e = new TextEncoder(); return [e.encoding, e.encode().length, Object.prototype.toString.call(e)];'))
      .toEqual(['utf-8', 0, '[object TextEncoder]']);
  });

  it('encodeInto matches Node for small destinations', () => {
    for (const s of ['abc', 'héllo', '😀😀', 'a€b😀c']) {
      for (const size of [0, 1, 2, 3, 4, 5, 8, 20]) {
        const ours = run<[number, number, number[]]>(
          'const d = new Uint8Array($1); const r = new TextEncoder().encodeInto(__str($0), d); return [r.read, r.written, Array.from(d)];',
          str(s), size);
        const dest = new Uint8Array(size);
        const r = new TextEncoder().encodeInto(s, dest);
        expect(ours).toEqual([r.read, r.written, Array.from(dest)]);
      }
    }
    expect(isoOutcome('return new TextEncoder().encodeInto("a", new Uint16Array(2));')).toMatchObject({ error: 'TypeError' });
  });

  // A fixed pseudo-random mix of valid and invalid UTF-8.
  const noise: number[] = [];
  let seed = 7;
  for (let i = 0; i < 5000; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    noise.push(seed % 7 === 0 ? 0x80 + (seed % 64) : seed % 5 === 0 ? 0xC0 + (seed % 64) : seed % 128);
  }
  const byteCases: number[][] = [
    [], [0x68, 0x69], Array.from(new TextEncoder().encode('héllo 😀 日本')), [0xFF], [0xC0, 0x80], [0xE0, 0x80, 0x80],
    [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF0, 0x9F, 0x98], [0x80, 0x80], [0xE2, 0x82, 0x41], [0xC2],
    [0xEF, 0xBB, 0xBF, 0x41], [0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF], [0xEF, 0xBB], [0xF8, 0x88, 0x80, 0x80, 0x80],
    [0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2, 0x62], noise,
  ];

  it('decode matches Node, with replacement characters, fatal and ignoreBOM', () => {
    for (const bytes of byteCases) {
      for (const options of [{}, { ignoreBOM: true }, { fatal: true }]) {
        const ours = isoOutcome('return new TextDecoder("utf-8", $1).decode(new Uint8Array($0));', bytes, options);
        const theirs = nodeOutcome(() => new TextDecoder('utf-8', options).decode(new Uint8Array(bytes)));
        expect(ours).toEqual(theirs);
      }
    }
  });

  it('decodes ArrayBuffer, DataView and offset views, and accepts utf-8 labels only', () => {
    expect(run(`const b = new TextEncoder().encode('xxhéllo').buffer;
      const d = new TextDecoder();
      return [d.decode(b), d.decode(new DataView(b, 2)), d.decode(new Uint8Array(b, 2, 3)), d.decode(new Uint16Array(b, 2, 2)),
        d.decode(), new TextDecoder(' UTF8\\n').encoding, d.fatal, d.ignoreBOM];`))
      .toEqual(['xxhéllo', 'héllo', 'hé', 'hél', '', 'utf-8', false, false]);
    expect(isoOutcome('return new TextDecoder("latin1");')).toMatchObject({ error: 'RangeError' });
    expect(isoOutcome('return new TextDecoder().decode("text");')).toMatchObject({ error: 'TypeError' });
  });

  it('stream: true keeps unfinished sequences between calls, as Node does', () => {
    const bytes = Array.from(new TextEncoder().encode('\uFEFFa€😀b'));
    for (let cut = 0; cut <= bytes.length; cut++) {
      const ours = run('const d = new TextDecoder(); return d.decode(new Uint8Array($0), { stream: true }) + "|" + d.decode(new Uint8Array($1));',
        bytes.slice(0, cut), bytes.slice(cut));
      const d = new TextDecoder();
      const theirs = d.decode(new Uint8Array(bytes.slice(0, cut)), { stream: true }) + '|' + d.decode(new Uint8Array(bytes.slice(cut)));
      expect(ours).toEqual(theirs);
    }
  });
});

describe('atob / btoa', () => {
  it('btoa matches Node, including InvalidCharacterError', () => {
    const all = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
    for (const s of ['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar', '\u00ff\u00fe\u0000', all, all.repeat(40), '\u0100', '😀']) {
      expect(isoOutcome('return btoa(__str($0));', str(s))).toEqual(nodeOutcome(() => btoa(s)));
    }
    expect(run('try { btoa("\\u0100"); } catch (e) { return [e instanceof Error, e.code, e.constructor.name]; }'))
      .toEqual([true, 5, 'InvalidCharacterError']);
  });

  it('atob matches Node on valid, forgiving and invalid input', () => {
    const inputs = ['', 'Zg==', 'Zg=', 'Zg', 'Zm9v', ' Zm 9v\n', 'Zm9vYg', 'Zm9vYg=', '=', '==', 'Z', 'Zm9v=', 'Zm9v==',
      'Z===', 'Zm=9v', 'Zm9v!', 'ZZ==', 'ab\tcd\fef\rgh', 'é', 'null', 'undefined', 'A'.repeat(40000), 'Zm9v\u00a0'];
    for (const s of inputs) {
      expect(isoOutcome('return atob(__str($0));', str(s))).toEqual(nodeOutcome(() => atob(s)));
    }
    expect(isoOutcome('return atob();')).toMatchObject({ error: 'TypeError' });
  });
});

const urlComponents = (u: URL) => ({
  href: u.href, origin: u.origin, protocol: u.protocol, username: u.username, password: u.password, host: u.host,
  hostname: u.hostname, port: u.port, pathname: u.pathname, search: u.search, hash: u.hash,
  json: u.toJSON(), string: u.toString(), params: [...u.searchParams],
});
const ISO_COMPONENTS = `const c = (u) => ({
  href: u.href, origin: u.origin, protocol: u.protocol, username: u.username, password: u.password, host: u.host,
  hostname: u.hostname, port: u.port, pathname: u.pathname, search: u.search, hash: u.hash,
  json: u.toJSON(), string: u.toString(), params: Array.from(u.searchParams) });`;

describe('URL', () => {
  const cases: Array<[string, string?]> = [
    ['https://example.com'], ['HTTPS://EXAMPLE.COM:443/a/../b/./c?q=1#frag'], ['http://user:pa%20ss@host:8080/p?x=y#z'],
    ['http://[::1]:3000/x'], ['http://192.168.0.1./'], ['http://0x7f.1/'], ['https://münchen.de/straße'],
    ['file:///etc/passwd'], ['file://localhost/c:/x'], ['mailto:someone@example.com'], ['data:text/plain,hello world'],
    ['javascript:alert(1)'], ['foo://bar/baz?q#h'], ['blob:https://example.com/uuid'], ['../x?y', 'http://a/b/c/d'],
    ['//other.org/p', 'https://a.com/'], ['?q=2', 'http://a/b?q=1#f'], ['#h2', 'http://a/b?q#h'], ['', 'http://a/b#x'],
    ['/abs', 'file:///C:/dir/file'], [' \t http://a.com/\n x '], ['http://a.com/%zz/ü?ü=ü&a+b=c d#ü'],
    ['not a url'], ['http://'], ['http://exa mple.com'], ['https://:443'], ['x', 'not-a-base'], ['http://[::1'],
    ['http://a:99999/'], [''], ['http://a/\uD800'],
  ];

  it('parses like Node: components, relative resolution and invalid input', () => {
    for (const [input, base] of cases) {
      const ours = isoOutcome(`${ISO_COMPONENTS} return c(new URL($0, $1 === null ? undefined : $1));`, input, base ?? null);
      const theirs = nodeOutcome(() => urlComponents(new URL(input, base)));
      expect(ours, `${input} ${base ?? ''}`).toEqual(theirs);
      expect(run('return URL.canParse($0, $1 === null ? undefined : $1);', input, base ?? null)).toBe(URL.canParse(input, base));
    }
    expect(run('try { new URL("nope"); } catch (e) { return [e instanceof TypeError, e.message, e.code, e.input]; }'))
      .toEqual([true, 'Invalid URL', 'ERR_INVALID_URL', 'nope']);
    expect(run('return [URL.parse("nope"), URL.parse("b", "http://a/").href, String(new URL("http://a")), Object.prototype.toString.call(new URL("http://a"))];'))
      .toEqual([null, 'http://a/b', 'http://a/', '[object URL]']);
  });

  it('refuses inputs longer than 64 KiB', () => {
    const long = 'http://a/' + 'x'.repeat(MAX_URL_INPUT_LENGTH);
    expect(hostUrlParse(long)).toBeNull();
    expect(hostUrlParse('x', long)).toBeNull();
    expect(hostUrlParse(long.slice(0, MAX_URL_INPUT_LENGTH))).not.toBeNull();
    expect(hostUrlParse('nope')).toBeNull();
    expect(JSON.parse(hostUrlParse('b', 'http://a/')!)).toMatchObject({ href: 'http://a/b', origin: 'http://a' });
    expect(isoOutcome('return new URL("http://a/" + "x".repeat(70000));')).toMatchObject({ error: 'TypeError' });
  });

  const setters: Array<[string, keyof URL, string]> = [
    ['https://a.com/p?q#h', 'protocol', 'http'], ['https://a.com/p', 'protocol', 'ftp:'], ['https://a.com/p', 'protocol', 'foo'],
    ['https://a.com:80/p', 'protocol', 'HTTP:x'], ['foo://a/p', 'protocol', 'bar'], ['foo://a/p', 'protocol', 'http'],
    ['http://u@a.com/', 'protocol', 'file'], ['http://a.com/', 'protocol', '1x'], ['http://a.com/', 'username', 'us er@:'],
    ['mailto:x', 'username', 'u'], ['file:///x', 'username', 'u'], ['http://u@a.com/', 'username', ''],
    ['http://a.com/', 'password', 'p@ss'], ['http://u:p@a.com/', 'password', ''], ['http://a.com/', 'host', 'b.com'],
    ['http://a.com/', 'host', 'b.com:81'], ['http://a.com:90/', 'host', 'b.com:'], ['http://a.com:90/', 'host', 'b.com:abc'],
    ['http://a.com/', 'host', 'b.com:99999'], ['http://a.com/x', 'host', '[::1]:8'], ['http://a.com/x', 'host', 'b.com/path'],
    ['http://a.com/', 'host', ''], ['http://a.com/', 'host', 'exa mple'], ['foo://a.com/x', 'host', ''],
    ['http://a.com:90/x', 'hostname', 'c.org'], ['http://a.com/', 'hostname', 'c.org:81'], ['http://a.com/', 'hostname', 'c.org/x'],
    ['file:///x', 'host', 'srv'], ['file://srv/x', 'hostname', 'localhost'], ['http://a.com/', 'port', '8080'],
    ['http://a.com:1/', 'port', '80'], ['http://a.com:1/', 'port', ''], ['http://a.com/', 'port', '8080abc'],
    ['http://a.com/', 'port', 'abc'], ['http://a.com/', 'port', '99999'], ['file:///x', 'port', '1'],
    ['http://a.com/p', 'pathname', 'x/y'], ['http://a.com/p?q#h', 'pathname', '/a b?c#d'], ['http://a.com/p', 'pathname', ''],
    ['foo:opaque', 'pathname', 'x'], ['foo:/x', 'pathname', '//y'], ['foo://h/x', 'pathname', ''], ['foo:/x', 'pathname', 'y'],
    ['http://a.com/p', 'pathname', '/a/../b/%2e/c'], ['http://a.com/p?x#h', 'search', 'a=1 2'], ['http://a.com/p', 'search', '?b=2'],
    ['http://a.com/p?x#h', 'search', ''], ['http://a.com/p', 'search', '#frag?'], ['data:foo ?x', 'search', ''],
    ['http://a.com/p', 'search', "it's "], ['http://a.com/p#x', 'hash', 'h1'], ['http://a.com/p', 'hash', '#h2'],
    ['http://a.com/p#x', 'hash', ''], ['http://a.com/p', 'hash', ' sp ace '], ['data:foo #x', 'hash', ''],
    ['http://a.com/p', 'href', 'http://new.example/?z=1'], ['http://a.com/p', 'href', 'no good'],
    ['file://srv/share', 'host', ''], ['foo:/p', 'pathname', ''], ['http://a.com/', 'host', 'u@h'], ['foo:/p', 'host', ''],
    ['foo://h/p', 'host', 'b.com:1'], ['http://a.com/', 'hostname', '0x7f.1'], ['https://a.com/', 'protocol', 'wss'],
  ];

  it('setters give the same URL as Node', () => {
    for (const [start, key, value] of setters) {
      const ours = isoOutcome(`${ISO_COMPONENTS} const u = new URL($0); u[$1] = $2; return c(u);`, start, key, value);
      const theirs = nodeOutcome(() => {
        const u = new URL(start);
        (u as unknown as Record<string, string>)[key] = value;
        return urlComponents(u);
      });
      expect(ours, `${start} .${key} = ${JSON.stringify(value)}`).toEqual(theirs);
    }
  });
});

describe('URLSearchParams', () => {
  const inits: Array<[string, string]> = [
    ['string', "'a=1&b=2&a=3'"], ['query', "'?x=%20y+z&&=&q'"], ['bad escapes', "'a=%zz&b=%E2%82&c=%'"],
    ['pairs', "[['a', '1'], ['b', '2'], ['a', 'é']]"], ['record', "({ x: '1', y: 'ü', 3: 'n' })"],
    ['iterable', "new URLSearchParams('k=v&k=w')"], ['empty', "''"], ['unicode', "'ä=ö&€=😀'"], ['bare', "'a'"],
    ['no name', "'=b'"], ['amps', "'&&&'"], ['map', "new Map([['m', 1]])"], ['null', 'null'], ['number', '12'],
  ];
  const script = (init: string) => `
    const p = new URLSearchParams(${init});
    const out = [p.toString(), p.size];
    p.append('c', '3 4+5&6=7');
    p.set('a', 'x');
    p.delete('b');
    p.append('z', 'last');
    p.append('a', 'y');
    out.push(p.toString(), p.has('a'), p.has('a', 'y'), p.has('a', 'nope'), p.get('a'), p.get('missing'), p.getAll('a'));
    p.delete('a', 'y');
    p.sort();
    const seen = [];
    p.forEach((v, k, self) => seen.push(k + ':' + v + ':' + (self === p)));
    out.push(p.toString(), Array.from(p.keys()), Array.from(p.values()), Array.from(p.entries()), seen, p.size);
    return out;`;

  it('matches Node for construction and every operation', () => {
    for (const [label, init] of inits) {
      const ours = run(script(init));
      const theirs = new Function(script(init))();
      expect(ours, label).toEqual(theirs);
    }
  });

  it('rejects malformed pairs and missing arguments like Node', () => {
    for (const body of ["new URLSearchParams([['a']])", "new URLSearchParams([1])", "new URLSearchParams('').append('a')",
      "new URLSearchParams({ [Symbol()]: 1 })", "new URLSearchParams('').forEach(1)"]) {
      expect(isoOutcome(`return ${body};`)).toMatchObject({ error: nodeOutcome(() => new Function(`return ${body}`)()).error });
    }
    expect(run("const it = new URLSearchParams('a=1')[Symbol.iterator](); return [Object.prototype.toString.call(it), typeof it[Symbol.iterator], it[Symbol.iterator]() === it];"))
      .toEqual(['[object URLSearchParams Iterator]', 'function', true]);
  });

  it('stays linked to its URL in both directions', () => {
    const body = `
      const out = [];
      const u = new URL('https://a.com/p?x=1&y=2#frag');
      const p = u.searchParams;
      p.append('z', 'a b');
      out.push(u.href, u.search);
      u.search = '?q=ü';
      out.push(p.toString(), u.searchParams === p);
      p.delete('q');
      out.push(u.href, u.search);
      u.href = 'http://b.org/?m=1&m=2';
      out.push(p.getAll('m'));
      p.sort();
      p.set('m', '3');
      out.push(u.href);
      const d = new URL('data:foo ?x');
      d.searchParams.delete('x');
      out.push(d.href, d.pathname);
      return out;`;
    expect(run(body)).toEqual(new Function(body)());
  });
});

describe('structuredClone', () => {
  it('clones cycles, shared references, Map, Set, Date, RegExp, buffers and views', () => {
    expect(run(`
      const buf = new ArrayBuffer(8);
      new Uint8Array(buf).set([1, 2, 3, 4, 5, 6, 7, 8]);
      const shared = { s: 1 };
      const o = { n: 1, big: 10n, neg: -0, u: undefined, date: new Date(1234), re: /a+b/gi, m: new Map([[shared, 'k'], ['v', shared]]),
        set: new Set([shared, 1]), buf, view: new Uint16Array(buf, 2, 2), dv: new DataView(buf, 1, 3), arr: [1, , 3], nested: [shared] };
      o.arr.extra = 'x';
      o.self = o;
      const c = structuredClone(o);
      return [c !== o, c.self === c, c.nested[0] === c.m.get('v'), c.set.has(c.nested[0]), c.nested[0] !== shared,
        c.date instanceof Date && c.date.getTime() === 1234, c.re.source + '/' + c.re.flags, c.re !== o.re,
        c.buf !== buf && c.view.buffer === c.buf && c.dv.buffer === c.buf, Array.from(c.view), c.view.byteOffset,
        c.dv.byteOffset + ':' + c.dv.byteLength, 1 in c.arr, c.arr.length, c.arr.extra, c.big === 10n, Object.is(c.neg, -0),
        'u' in c, c.m.get(c.nested[0])];`))
      .toEqual([true, true, true, true, true, true, 'a+b/gi', true, true, [0x403, 0x605], 2, '1:3', false, 3, 'x', true, true, true, 'k']);
  });

  it('clones errors, boxed primitives and class instances as plain data', () => {
    expect(run(`
      const e = new RangeError('bad', { cause: { why: 1 } });
      const c = structuredClone(e);
      class Foo { constructor() { this.a = 1; } get g() { return 2; } }
      const f = structuredClone(new Foo());
      const weird = new TypeError('w'); weird.name = 'Custom';
      const boxed = structuredClone([Object(1n), new Number(2), new String('s'), new Boolean(false)]);
      const proto = structuredClone(JSON.parse('{"__proto__": {"x": 1}}'));
      return [c instanceof RangeError, c.name, c.message, c.stack === e.stack, c.cause.why, c.cause !== e.cause,
        Object.getPrototypeOf(f) === Object.prototype, f.a, f.g, structuredClone(weird).name,
        boxed.map((b) => typeof b + ':' + String(b.valueOf())), Object.keys(proto), Object.getPrototypeOf(proto) === Object.prototype];`))
      .toEqual([true, 'RangeError', 'bad', true, 1, true, true, 1, undefined, 'Error',
        ['object:1', 'object:2', 'object:s', 'object:false'], ['__proto__'], true]);
  });

  it('throws DataCloneError for functions, symbols and promises, like Node', () => {
    for (const body of ['() => {}', "Symbol('x')", '{ f() {} }', 'Promise.resolve()', 'new WeakMap()']) {
      const ours = isoOutcome(`return structuredClone(${body});`);
      const theirs = nodeOutcome(() => structuredClone(new Function(`return ${body}`)()));
      expect(ours, body).toMatchObject({ error: 'DataCloneError' });
      expect(theirs.error).toBe('DataCloneError');
    }
    expect(isoOutcome('return structuredClone(() => {});')).toEqual(nodeOutcome(() => structuredClone(() => {})));
    expect(run('try { structuredClone(Symbol()); } catch (e) { return [e instanceof Error, e.code]; }')).toEqual([true, 25]);
  });
});

describe('crypto', () => {
  it('randomUUID gives distinct v4 UUIDs', () => {
    const ids = run<string[]>('return Array.from({ length: 100 }, () => crypto.randomUUID());');
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(100);
  });

  it('getRandomValues fills integer arrays in place and rejects others like Node', () => {
    expect(run(`const a = new Uint32Array(16); const r = crypto.getRandomValues(a);
      const big = crypto.getRandomValues(new Uint8Array(65536));
      const sub = new Uint8Array(8); crypto.getRandomValues(new Uint8Array(sub.buffer, 2, 4));
      return [r === a, a.some((x) => x !== 0), big.some((x) => x !== 0), sub[0] === 0 && sub[7] === 0,
        crypto.getRandomValues(new BigInt64Array(2)).length, Object.prototype.toString.call(crypto)];`))
      .toEqual([true, true, true, true, 2, '[object Crypto]']);
    for (const body of ['new Float32Array(2)', 'new Uint8Array(65537)', 'new DataView(new ArrayBuffer(2))', '1', '']) {
      const ours = isoOutcome(`return crypto.getRandomValues(${body});`);
      const theirs = nodeOutcome(() => crypto.getRandomValues(new Function(`return ${body}`)()));
      expect(ours, body).toEqual(theirs);
    }
  });
});

describe('queueMicrotask', () => {
  it('runs callbacks as microtasks, in order, and survives a throwing callback', async () => {
    const result = await context.evalClosure(`return (async () => {
      const log = [];
      const saved = globalThis.console;
      globalThis.console = { error: (...a) => log.push('reported:' + a[0] + ':' + a[1].message) };
      queueMicrotask(() => log.push('micro1'));
      queueMicrotask(() => { throw new Error('boom'); });
      Promise.resolve().then(() => log.push('promise'));
      queueMicrotask(() => log.push('micro2'));
      log.push('sync');
      await new Promise((r) => queueMicrotask(r));
      await null;
      globalThis.console = saved;
      return log.join();
    })();`, [], { result: { promise: true, copy: true } });
    expect(result).toBe('sync,micro1,reported:Uncaught:boom,promise,micro2');
    expect(isoOutcome('return queueMicrotask(1);')).toEqual(nodeOutcome(() => queueMicrotask(1 as never)));
  });
});

describe('__sb_format', () => {
  const cases = [
    "['hello', 'world']", "['%s is %d years', 'Bob', 42]", "['%i %f %j %% %x', 42.9, '1.5', { a: 1 }]", "['%O', { b: { c: {} } }]",
    "[{ a: 1, b: 'two', c: [1, 2, 3], d: { e: { f: { g: 1 } } } }]", '[[1, 2, [3, [4, [5]]]]]',
    "[new Map([['a', 1], [{ k: 1 }, [1, 2]]]), new Set([1, 'x', {}])]", '[Array.from({ length: 30 }, (_, i) => i)]',
    '[Array.from({ length: 130 }, (_, i) => i * 7)]', '[Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i).repeat(i % 5 + 1))]',
    "[(() => { const o = { name: 'o' }; o.self = o; o.list = [o, { o }]; return o; })()]",
    '[function foo() {}, () => {}, class Bar {}, class extends Array {}, async function af() {}, function* gen() {}]',
    "[null, undefined, true, 3.5, -0, 10n, Symbol('s'), NaN]", `[['str', "it's", 'q"uo\\'te', 'tab\\tnl\\n\\u0001\\u007f']]`,
    "[{ 'key-with-dash': 1, valid_id: 2, 3: 'three', [Symbol('sym')]: 4 }]", '[new Date(0), /re+gex/gi, new Date(NaN)]',
    '[new Uint8Array([1, 2, 3]), new Float64Array([1.5, -0]), new ArrayBuffer(4), new DataView(new ArrayBuffer(2)), new Uint8Array(0)]',
    '[Object.create(null), Object.assign(Object.create(null), { a: 1 }), new (class Foo { constructor() { this.x = 1; } })()]',
    '[[1, , 3, , , 6], Object.assign([1, 2], { extra: true }), new Array(5)]',
    '[{ get a() { return 1; }, set b(v) {}, get c() { return 1; }, set c(v) {} }]',
    "[new Number(3), new String('ab'), new Boolean(false), Object(5n)]", "['%c styled', 'color: red']",
    "[{ s: 'x'.repeat(100), t: 'line1\\nline2\\n'.repeat(8) }]",
    "[new URL('https://u:p@example.org:8080/a?b=1#c'), new URLSearchParams('a=1&b=2'), new URLSearchParams()]",
    '[new WeakMap(), new WeakSet()]', '[{ a: [{ b: { c: {} } }] }]', '[Object.assign(() => {}, { prop: 1 })]',
    "[{ [Symbol.toStringTag]: 'Tagged', x: 1 }, new (class Q { get [Symbol.toStringTag]() { return 'T'; } })()]",
    '[new Set(Array.from({ length: 105 }, (_, i) => i))]', '[{ nested: { arr: Array.from({ length: 10 }, (_, i) => ({ id: i })) } }]',
    "['a', 1, 'b', {}]", "[1, '%s', 'x']", "['%s', { toString() { return 'custom'; } }]", "['%s', { a: { b: 1 } }]",
    "['%s', [1, [2]]]", "['%d', '42', '%d']", "['%s %s', 'only one']", '[]',
    "[{ [Symbol.for('nodejs.util.inspect.custom')]() { return 'CUSTOM'; } }]", '[new Map([[1, new Map([[2, new Map([[3, {}]])]])]])]',
  ];

  it('formats like Node util.format', () => {
    for (const src of cases) {
      const ours = run<string>(`return __sb_format(${src});`);
      const theirs = nodeFormat(...(new Function(`return ${src}`)() as unknown[]));
      expect(ours, src).toBe(theirs);
    }
  });

  it('shows errors with their stack, extra properties and cause', () => {
    const out = run<string[]>(`
      const e = new Error('boom');
      const coded = new TypeError('typed'); coded.code = 'E1';
      const noStack = new Error('nostack'); noStack.stack = undefined;
      class MyErr extends Error {}
      return [__sb_format([e]), __sb_format([{ coded }]), __sb_format([noStack]), __sb_format([new MyErr('m')]),
        __sb_format([new Error('outer', { cause: new Error('inner') })])];`);
    expect(out[0]).toMatch(/^Error: boom\n {4}at /);
    expect(out[1]).toMatch(/^\{\n {2}coded: TypeError: typed(\n {6}at [^\n]*)+ \{\n {4}code: 'E1'\n {2}\}\n\}$/);
    expect(out[2]).toBe('[Error: nostack]');
    expect(out[3]).toMatch(/^MyErr \[Error\]: m\n/);
    expect(out[4]).toMatch(/^Error: outer\n[\s\S]*\[cause\]: Error: inner\n/);
  });

  it('bounds its output and never throws', () => {
    expect(run<string>("return __sb_format(['x'.repeat(20000)]);").length).toBeLessThan(10100);
    const huge = run<string>('const o = {}; for (let i = 0; i < 100000; i++) o["k" + i] = i; return __sb_format([o]);');
    expect(huge.length).toBeLessThan(10100);
    expect(huge.startsWith('{\n  k0: 0,\n  k1: 1,')).toBe(true);
    expect(run<string>("return __sb_format([new Proxy({}, { ownKeys() { throw new Error('nope'); } })]);"))
      .toMatch(/could not be formatted: nope/);
    expect(run<string>('const a = []; let c = a; for (let i = 0; i < 10000; i++) { c[0] = []; c = c[0]; } return __sb_format([a]);'))
      .toBe('[ [ [ [Array] ] ] ]');
  });
});

describe('hostile capability code', () => {
  it('cannot redirect the globals by tampering with built-ins, nor reach the hooks', async () => {
    const iso = new ivm.Isolate({ memoryLimit: 32 });
    try {
      const ctx = await iso.createContext();
      await installRuntime(ctx, iso);
      const out = ctx.evalSync(`(() => {
        const map = new Map([[1, 2]]);
        const boom = () => { throw new Error('tampered'); };
        Array.prototype.push = boom; Array.prototype[Symbol.iterator] = boom; Object.defineProperty = boom;
        Function.prototype.call = boom; Function.prototype.apply = boom; Function.prototype.bind = boom; Reflect.apply = boom;
        JSON.parse = () => ({ href: 'evil' }); String.prototype.slice = boom; String.prototype.charCodeAt = boom;
        Object.getPrototypeOf(Uint8Array.prototype).set = boom; Map.prototype.get = boom; Map.prototype.set = boom;
        Object.keys = boom; Object.prototype.get = boom; Object.prototype.set = boom; Array.prototype.join = boom;
        const u = new URL('https://x.com/a?b=1');
        u.searchParams.append('c', '2');
        let callerSeen = 'unset';
        u.searchParams.forEach(function cb() { callerSeen = cb.caller; });
        let ctorCaller;
        try { ctorCaller = URL.caller; } catch (e) { ctorCaller = 'throws'; }
        const r = [u.href, u.searchParams.get('b'), /^[0-9a-f-]{36}$/.test(crypto.randomUUID()),
          crypto.getRandomValues(new Uint8Array(4)).length, new TextDecoder().decode(new TextEncoder().encode('é')),
          structuredClone({ m: map }).m.size, btoa('hi'), callerSeen, ctorCaller,
          Object.getOwnPropertyNames(globalThis).filter((n) => n.startsWith('__sb')).length];
        return r.map(String).reduce((a, b) => a + '|' + b);
      })()`, { copy: true });
      // Two hidden globals are left for the bridge: __sb_format and __sb_fetch.
      expect(out).toBe(`https://x.com/a?b=1&c=2|1|true|4|é|1|aGk=|null|throws|2`);
    } finally {
      iso.dispose();
    }
  });
});
