// The URLSearchParams global (pure script, WHATWG URL Standard sections 5 and 6): the
// application/x-www-form-urlencoded parser and serializer, and the list linked to its URL (the
// URL's update steps are set by url.ts through linkURLQuery).
import { ReflectApply, ReflectOwnKeys, ObjectDefineProperty, ObjectGetOwnPropertyDescriptor, ObjectSetPrototypeOf, ArrayPrototypeSort, StringFromCharCode, StringPrototypeCharCodeAt, StringPrototypeSlice, StringPrototypeIndexOf, StringPrototypeReplace, SymbolIterator, MapCtor, MapPrototypeGet, MapPrototypeSet, Uint8ArrayCtor, TypeErrorCtor, IteratorPrototype, webIdlClass } from './primordials.ts';
import { percentByte, registerSearchParamsBrand, searchParamsList } from './brands.ts';
import { toUSVString, utf8Encode, utf8Decode } from './utf8.ts';
import { describeReceived } from './inspect.ts';

export function isHexDigit(c) {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}
export function hexValue(c) {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10;
}

// application/x-www-form-urlencoded "percent-decode" of one name or value, '+' meaning space.
export function decodeFormComponent(s) {
  const hasPercent = StringPrototypeIndexOf(s, '%') !== -1;
  if (!hasPercent) {
    return StringPrototypeIndexOf(s, '+') === -1 ? s : StringPrototypeReplace(s, /\+/g, ' ');
  }
  const encoded = utf8Encode(s);
  const len = encoded.length;
  const bytes = new Uint8ArrayCtor(len);
  let n = 0;
  for (let i = 0; i < len; i++) {
    const b = encoded[i];
    if (b === 0x25 && i + 2 < len && isHexDigit(encoded[i + 1]) && isHexDigit(encoded[i + 2])) {
      bytes[n++] = (hexValue(encoded[i + 1]) << 4) | hexValue(encoded[i + 2]);
      i += 2;
    } else {
      bytes[n++] = b === 0x2B ? 0x20 : b;
    }
  }
  return utf8Decode(bytes, 0, n, false, false);
}

export function parseFormUrlencoded(s) {
  const list: [string, string][] = [];
  const len = s.length;
  let start = 0;
  while (start < len) {
    let amp = StringPrototypeIndexOf(s, '&', start);
    if (amp === -1) amp = len;
    if (amp > start) {
      const seq = StringPrototypeSlice(s, start, amp);
      const eq = StringPrototypeIndexOf(seq, '=');
      const name = eq === -1 ? seq : StringPrototypeSlice(seq, 0, eq);
      const value = eq === -1 ? '' : StringPrototypeSlice(seq, eq + 1);
      list[list.length] = [decodeFormComponent(name), decodeFormComponent(value)] as [string, string];
    }
    start = amp + 1;
  }
  return list;
}


// Code points left as they are by the application/x-www-form-urlencoded percent-encode set.
export function isFormSafe(c) {
  return (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) ||
    c === 0x2A || c === 0x2D || c === 0x2E || c === 0x5F;
}

export function encodeFormComponent(s) {
  const len = s.length;
  let i = 0;
  while (i < len && isFormSafe(StringPrototypeCharCodeAt(s, i))) i++;
  if (i === len) return s;
  let out = StringPrototypeSlice(s, 0, i);
  const bytes = utf8Encode(StringPrototypeSlice(s, i));
  for (let j = 0; j < bytes.length; j++) {
    const b = bytes[j];
    if (isFormSafe(b)) out += StringFromCharCode(b);
    else if (b === 0x20) out += '+';
    else out += percentByte(b);
  }
  return out;
}

export function serializeForm(list) {
  let out = '';
  for (let i = 0; i < list.length; i++) {
    const pair = list[i];
    if (i !== 0) out += '&';
    out += encodeFormComponent(pair[0]) + '=' + encodeFormComponent(pair[1]);
  }
  return out;
}

// Iterates an iterable with the iterator protocol directly (not for-of), so that a tampered
// %ArrayIteratorPrototype% affects only the caller's own values.
export function iterateToArray(iterable, method, onItem) {
  const iterator = ReflectApply(method, iterable, []) as Iterator<unknown>;
  if (iterator === null || (typeof iterator !== 'object' && typeof iterator !== 'function')) {
    throw new TypeErrorCtor('Result of the Symbol.iterator method is not an object');
  }
  const next = iterator.next;
  for (;;) {
    const step = ReflectApply(next, iterator, []) as IteratorResult<unknown>;
    if (step === null || (typeof step !== 'object' && typeof step !== 'function')) {
      throw new TypeErrorCtor('Iterator result ' + step + ' is not an object');
    }
    if (step.done) return;
    onItem(step.value);
  }
}

export let searchParamsSetList: (params: URLSearchParams, list: [string, string][]) => void;
export let searchParamsAttach: (params: URLSearchParams, url: object) => void;
// (url, serializedQuery) => void: the URL's "update steps", set by url.ts (linkURLQuery).
let urlSetQuery: (url: object, serialized: string) => void;
export function linkURLQuery(setQuery: (url: object, serialized: string) => void): void {
  urlSetQuery = setQuery;
}

export class URLSearchParams {
  #list: [string, string][] = [];
  #url: object | null = null;

  constructor(init = undefined) {
    // Node (unlike Web IDL, which would stringify it) treats null like an absent init.
    if (init === undefined || init === null) return;
    if (init !== null && (typeof init === 'object' || typeof init === 'function')) {
      const method = init[SymbolIterator];
      if (method !== undefined && method !== null) {
        if (typeof method !== 'function') throw new TypeErrorCtor('Query pairs must be iterable');
        const list = this.#list;
        iterateToArray(init, method, (pair) => {
          if (pair === null || (typeof pair !== 'object' && typeof pair !== 'function')) {
            throw new TypeErrorCtor('Each query pair must be an iterable [name, value] tuple');
          }
          const pairMethod = pair[SymbolIterator];
          if (typeof pairMethod !== 'function') {
            throw new TypeErrorCtor('Each query pair must be an iterable [name, value] tuple');
          }
          const items: unknown[] = [];
          iterateToArray(pair, pairMethod, (item) => { items[items.length] = item; });
          if (items.length !== 2) throw new TypeErrorCtor('Each query pair must be an iterable [name, value] tuple');
          list[list.length] = [toUSVString(items[0]), toUSVString(items[1])];
        });
        return;
      }
      // record<USVString, USVString>
      const keys = ReflectOwnKeys(init);
      const list = this.#list;
      const index = new MapCtor();
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        const desc = ObjectGetOwnPropertyDescriptor(init, key);
        if (desc === undefined || !desc.enumerable) continue;
        const name = toUSVString(key);
        const value = toUSVString(init[key]);
        const at = MapPrototypeGet(index, name);
        if (at !== undefined) list[at][1] = value;
        else {
          MapPrototypeSet(index, name, list.length);
          list[list.length] = [name, value];
        }
      }
      return;
    }
    let s = toUSVString(init);
    if (StringPrototypeCharCodeAt(s, 0) === 0x3F) s = StringPrototypeSlice(s, 1);
    this.#list = parseFormUrlencoded(s);
  }

  static {
    registerSearchParamsBrand((v) => v !== null && typeof v === 'object' && #list in v, (p) => (p as URLSearchParams).#list);
    searchParamsSetList = (p, list) => { p.#list = list; };
    searchParamsAttach = (p, url) => { p.#url = url; };
  }

  #update() {
    if (this.#url !== null) urlSetQuery(this.#url, serializeForm(this.#list));
  }

  get size() { return this.#list.length; }

  append(name, value) {
    if (arguments.length < 2) throw new TypeErrorCtor('The "name" and "value" arguments must be specified');
    const list = this.#list;
    list[list.length] = [toUSVString(name), toUSVString(value)];
    this.#update();
  }

  delete(name, value = undefined) {
    if (arguments.length < 1) throw new TypeErrorCtor('The "name" argument must be specified');
    const n = toUSVString(name);
    const v = value === undefined ? undefined : toUSVString(value);
    const list = this.#list;
    const kept: [string, string][] = [];
    for (let i = 0; i < list.length; i++) {
      const pair = list[i];
      if (pair[0] === n && (v === undefined || pair[1] === v)) continue;
      kept[kept.length] = pair;
    }
    this.#list = kept;
    this.#update();
  }

  get(name) {
    if (arguments.length < 1) throw new TypeErrorCtor('The "name" argument must be specified');
    const n = toUSVString(name);
    const list = this.#list;
    for (let i = 0; i < list.length; i++) if (list[i][0] === n) return list[i][1];
    return null;
  }

  getAll(name) {
    if (arguments.length < 1) throw new TypeErrorCtor('The "name" argument must be specified');
    const n = toUSVString(name);
    const list = this.#list;
    const out: string[] = [];
    for (let i = 0; i < list.length; i++) if (list[i][0] === n) out[out.length] = list[i][1];
    return out;
  }

  has(name, value = undefined) {
    if (arguments.length < 1) throw new TypeErrorCtor('The "name" argument must be specified');
    const n = toUSVString(name);
    const v = value === undefined ? undefined : toUSVString(value);
    const list = this.#list;
    for (let i = 0; i < list.length; i++) {
      if (list[i][0] === n && (v === undefined || list[i][1] === v)) return true;
    }
    return false;
  }

  set(name, value) {
    if (arguments.length < 2) throw new TypeErrorCtor('The "name" and "value" arguments must be specified');
    const n = toUSVString(name);
    const v = toUSVString(value);
    const list = this.#list;
    const out: [string, string][] = [];
    let found = false;
    for (let i = 0; i < list.length; i++) {
      const pair = list[i];
      if (pair[0] !== n) out[out.length] = pair;
      else if (!found) { found = true; out[out.length] = [n, v]; }
    }
    if (!found) out[out.length] = [n, v];
    this.#list = out;
    this.#update();
  }

  sort() {
    // Array.prototype.sort is stable; names compare by UTF-16 code units, as the standard asks.
    ArrayPrototypeSort(this.#list, (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.#update();
  }

  forEach(callback, thisArg = undefined) {
    if (typeof callback !== 'function') {
      throw new TypeErrorCtor('The "callback" argument must be of type function. ' + describeReceived(callback));
    }
    for (let i = 0; i < this.#list.length; i++) {
      const pair = this.#list[i];
      ReflectApply(callback, thisArg, [pair[1], pair[0], this]);
    }
  }

  keys() { return new URLSearchParamsIterator(this, 0); }
  values() { return new URLSearchParamsIterator(this, 1); }
  entries() { return new URLSearchParamsIterator(this, 2); }

  toString() { return serializeForm(this.#list); }
}
webIdlClass(URLSearchParams, 'URLSearchParams');
ObjectDefineProperty(URLSearchParams.prototype, SymbolIterator, {
  __proto__: null, value: URLSearchParams.prototype.entries, writable: true, enumerable: false, configurable: true,
});

export class URLSearchParamsIterator {
  #params;
  #kind;
  #index = 0;
  constructor(params, kind) {
    searchParamsList(params);
    this.#params = params;
    this.#kind = kind;
  }
  next() {
    const list = searchParamsList(this.#params);
    if (this.#index >= list.length) return { value: undefined, done: true };
    const pair = list[this.#index++];
    const kind = this.#kind;
    return { value: kind === 0 ? pair[0] : kind === 1 ? pair[1] : [pair[0], pair[1]], done: false };
  }
}
ObjectSetPrototypeOf(URLSearchParamsIterator.prototype, IteratorPrototype);
webIdlClass(URLSearchParamsIterator, 'URLSearchParams Iterator');
delete (URLSearchParamsIterator.prototype as { constructor?: unknown }).constructor;

