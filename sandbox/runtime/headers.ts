// The Headers global (WHATWG Fetch, "Headers class"): names compared case-insensitively and kept
// lower-case, values normalized (leading and trailing HTTP whitespace removed) and validated,
// repeated names combined with ", " except `set-cookie`, whose values stay apart; iteration is the
// standard's "sort and combine" (sorted by name, one entry per set-cookie value). Guards: `none`
// (as Node, no forbidden header names) and `immutable` (the headers of a fetched Response and of
// Response.error/redirect). Request, Response and fetch (fetch.ts) reach the internals through the
// functions the class's static block exports; capability code cannot.
import { ReflectApply, ReflectOwnKeys, ObjectGetOwnPropertyDescriptor, ObjectKeys, ObjectPrototypeHasOwnProperty, ObjectSetPrototypeOf, ArrayPrototypeSort, ArrayPrototypeJoin, ObjectDefineProperty, StringPrototypeCharCodeAt, StringPrototypeSlice, StringPrototypeToLowerCase, SymbolIterator, TypeErrorCtor, IteratorPrototype, webIdlClass } from './primordials.ts';
import { toDOMString } from './utf8.ts';
import { iterateToArray } from './search-params.ts';
import { describeReceived } from './inspect.ts';

export type HeaderPairs = [string, string][];

/** Web IDL ByteString: a string whose code units are all at most 0xFF, else a TypeError. */
export function toByteString(v): string {
  const s = toDOMString(v);
  for (let i = 0; i < s.length; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c > 0xFF) {
      throw new TypeErrorCtor('Cannot convert argument to a ByteString because the character at index ' + i + ' has a value of ' + c + ' which is greater than 255.');
    }
  }
  return s;
}

// RFC 9110 token characters: ! # $ % & ' * + - . ^ _ ` | ~ DIGIT ALPHA.
export function isTokenChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) ||
    c === 0x21 || (c >= 0x23 && c <= 0x27) || c === 0x2A || c === 0x2B || c === 0x2D || c === 0x2E ||
    c === 0x5E || c === 0x5F || c === 0x60 || c === 0x7C || c === 0x7E;
}

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(StringPrototypeCharCodeAt(s, i))) return false;
  return true;
}

function isHttpWhitespace(c: number): boolean {
  return c === 0x09 || c === 0x0A || c === 0x0D || c === 0x20;
}

/** "normalize" a header value: strip leading and trailing HTTP whitespace. */
export function normalizeValue(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isHttpWhitespace(StringPrototypeCharCodeAt(s, a))) a++;
  while (b > a && isHttpWhitespace(StringPrototypeCharCodeAt(s, b - 1))) b--;
  return a === 0 && b === s.length ? s : StringPrototypeSlice(s, a, b);
}

function isValidValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c === 0x00 || c === 0x0A || c === 0x0D) return false;
  }
  return true;
}

function checkName(name: string, method: string): string {
  if (!isToken(name)) throw new TypeErrorCtor('Headers.' + method + ': "' + name + '" is an invalid header name.');
  return StringPrototypeToLowerCase(name);
}

function checkValue(value: string, method: string): string {
  const v = normalizeValue(value);
  if (!isValidValue(v)) throw new TypeErrorCtor('Headers.' + method + ': "' + value + '" is an invalid header value.');
  return v;
}

export let headersFill: (h: Headers, init: unknown) => void;
export let headersSorted: (h: Headers) => HeaderPairs;
export let headersSetImmutable: (h: Headers) => void;
export let headersCopy: (from: Headers, to: Headers) => void;
export let headersAppendUnchecked: (h: Headers, name: string, value: string) => void;
export let isHeaders: (v: unknown) => boolean;

export class Headers {
  // Lower-case name -> combined value (set-cookie apart, in #cookies, in the order appended).
  #map: Record<string, string> = { __proto__: null } as unknown as Record<string, string>;
  #cookies: string[] = [];
  #immutable = false;
  // The sorted-and-combined list, rebuilt after a change (iterators read it at every step).
  #sorted: HeaderPairs | null = null;

  constructor(init: unknown = undefined) {
    if (init !== undefined) fill(this, init);
  }

  static {
    headersFill = (h, init) => fill(h, init);
    headersSorted = (h) => h.#list();
    headersSetImmutable = (h) => { h.#immutable = true; };
    headersCopy = (from, to) => {
      const keys = ObjectKeys(from.#map);
      for (let i = 0; i < keys.length; i++) to.#map[keys[i]] = from.#map[keys[i]];
      const cookies = from.#cookies;
      for (let i = 0; i < cookies.length; i++) to.#cookies[to.#cookies.length] = cookies[i];
      to.#sorted = null;
    };
    headersAppendUnchecked = (h, name, value) => h.#append(name, value);
    isHeaders = (v) => v !== null && typeof v === 'object' && #map in v;
  }

  #append(lower: string, value: string): void {
    if (lower === 'set-cookie') this.#cookies[this.#cookies.length] = value;
    else this.#map[lower] = ObjectPrototypeHasOwnProperty(this.#map, lower) ? this.#map[lower] + ', ' + value : value;
    this.#sorted = null;
  }

  #mutable(): void {
    if (this.#immutable) throw new TypeErrorCtor('immutable');
  }

  #list(): HeaderPairs {
    if (this.#sorted !== null) return this.#sorted;
    const names = ObjectKeys(this.#map);
    if (this.#cookies.length > 0) names[names.length] = 'set-cookie';
    ArrayPrototypeSort(names, (a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const out: HeaderPairs = [];
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      if (name === 'set-cookie') {
        const cookies = this.#cookies;
        for (let j = 0; j < cookies.length; j++) out[out.length] = [name, cookies[j]];
      } else {
        out[out.length] = [name, this.#map[name]];
      }
    }
    this.#sorted = out;
    return out;
  }

  append(name, value) {
    if (arguments.length < 2) throw new TypeErrorCtor('Headers.append: 2 arguments required, but only ' + arguments.length + ' present.');
    const n = checkName(toByteString(name), 'append');
    const v = checkValue(toByteString(value), 'append');
    this.#mutable();
    this.#append(n, v);
  }

  delete(name) {
    if (arguments.length < 1) throw new TypeErrorCtor('Headers.delete: 1 argument required, but only 0 present.');
    const n = checkName(toByteString(name), 'delete');
    this.#mutable();
    if (n === 'set-cookie') this.#cookies = [];
    else delete this.#map[n];
    this.#sorted = null;
  }

  get(name) {
    if (arguments.length < 1) throw new TypeErrorCtor('Headers.get: 1 argument required, but only 0 present.');
    const n = checkName(toByteString(name), 'get');
    if (n === 'set-cookie') return this.#cookies.length === 0 ? null : ArrayPrototypeJoin(this.#cookies, ', ');
    return ObjectPrototypeHasOwnProperty(this.#map, n) ? this.#map[n] : null;
  }

  getSetCookie() {
    const out: string[] = [];
    const cookies = this.#cookies;
    for (let i = 0; i < cookies.length; i++) out[i] = cookies[i];
    return out;
  }

  has(name) {
    if (arguments.length < 1) throw new TypeErrorCtor('Headers.has: 1 argument required, but only 0 present.');
    const n = checkName(toByteString(name), 'has');
    return n === 'set-cookie' ? this.#cookies.length > 0 : ObjectPrototypeHasOwnProperty(this.#map, n);
  }

  set(name, value) {
    if (arguments.length < 2) throw new TypeErrorCtor('Headers.set: 2 arguments required, but only ' + arguments.length + ' present.');
    const n = checkName(toByteString(name), 'set');
    const v = checkValue(toByteString(value), 'set');
    this.#mutable();
    if (n === 'set-cookie') this.#cookies = [v];
    else this.#map[n] = v;
    this.#sorted = null;
  }

  forEach(callback, thisArg = undefined) {
    if (typeof callback !== 'function') {
      throw new TypeErrorCtor('Headers.forEach: The "callback" argument must be of type function. ' + describeReceived(callback));
    }
    // The list is read again at each step: a callback that changes the headers sees the change.
    for (let i = 0; i < this.#list().length; i++) {
      const pair = this.#list()[i];
      ReflectApply(callback, thisArg, [pair[1], pair[0], this]);
    }
  }

  keys() { return new HeadersIterator(this, 0); }
  values() { return new HeadersIterator(this, 1); }
  entries() { return new HeadersIterator(this, 2); }
}
webIdlClass(Headers, 'Headers');
ObjectDefineProperty(Headers.prototype, SymbolIterator, {
  __proto__: null, value: Headers.prototype.entries, writable: true, enumerable: false, configurable: true,
});

// Headers init: a sequence of [name, value] pairs (any iterable, iterated with the protocol, not
// for-of), or a record of own enumerable string keys. Converted first (Web IDL: the iteration and
// the ByteString conversions, which Response's dictionary does before it checks the status), then
// appended with the name and value checks.
function fill(h: Headers, init: unknown): void {
  appendPairs(h, headersInitPairs(init));
}

export function appendPairs(h: Headers, pairs: HeaderPairs): void {
  for (let i = 0; i < pairs.length; i++) headersAppendChecked(h, pairs[i][0], pairs[i][1]);
}

export function headersInitPairs(init: unknown): HeaderPairs {
  const out: HeaderPairs = [];
  if (init === null || (typeof init !== 'object' && typeof init !== 'function')) {
    throw new TypeErrorCtor("Headers constructor: Expected init to be an object or an iterable of pairs. " + describeReceived(init));
  }
  const o = init as Record<PropertyKey, unknown>;
  const method = o[SymbolIterator];
  if (method !== undefined && method !== null) {
    if (typeof method !== 'function') throw new TypeErrorCtor('Headers constructor: init[Symbol.iterator] is not a function.');
    iterateToArray(o, method, (pair) => {
      if (pair === null || (typeof pair !== 'object' && typeof pair !== 'function')) {
        throw new TypeErrorCtor('Headers constructor: expected name/value pair to be an iterable.');
      }
      const pairMethod = pair[SymbolIterator];
      if (typeof pairMethod !== 'function') throw new TypeErrorCtor('Headers constructor: expected name/value pair to be an iterable.');
      const items: unknown[] = [];
      iterateToArray(pair, pairMethod, (item) => { items[items.length] = item; });
      if (items.length !== 2) throw new TypeErrorCtor('Headers constructor: expected name/value pair to be length 2, found ' + items.length + '.');
      out[out.length] = [toByteString(items[0]), toByteString(items[1])];
    });
    return out;
  }
  const keys = ReflectOwnKeys(o);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const desc = ObjectGetOwnPropertyDescriptor(o, key);
    if (desc === undefined || !desc.enumerable) continue;
    if (typeof key === 'symbol') throw new TypeErrorCtor('Headers constructor: a header name cannot be a Symbol.');
    out[out.length] = [toByteString(key), toByteString(o[key])];
  }
  return out;
}

// append() through the captured method: capability code may replace Headers.prototype.append.
const HeadersAppend = Headers.prototype.append;
function headersAppendChecked(h: Headers, name: unknown, value: unknown): void {
  ReflectApply(HeadersAppend, h, [name, value]);
}

export class HeadersIterator {
  #headers: Headers;
  #kind: number;
  #index = 0;
  constructor(headers: Headers, kind: number) {
    headersSorted(headers);
    this.#headers = headers;
    this.#kind = kind;
  }
  next() {
    const list = headersSorted(this.#headers);
    if (this.#index >= list.length) return { value: undefined, done: true };
    const pair = list[this.#index++];
    const kind = this.#kind;
    return { value: kind === 0 ? pair[0] : kind === 1 ? pair[1] : [pair[0], pair[1]], done: false };
  }
}
ObjectSetPrototypeOf(HeadersIterator.prototype, IteratorPrototype);
webIdlClass(HeadersIterator, 'Headers Iterator');
delete (HeadersIterator.prototype as { constructor?: unknown }).constructor;
