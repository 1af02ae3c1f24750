// The URL global. Parsing and the setters are Node's WHATWG URL on the host, through the
// urlParse and urlSet hooks (the components come back as JSON and are kept here, in a private
// record); this module keeps the record, the link to its URLSearchParams (the "update steps" of
// the standard, #setQuery) and the error Node throws for an invalid URL. Inputs over 64 KiB are
// refused on both sides.
import { hookUrlParse, hookUrlSet } from './hooks.ts';
import { dataProperty, ObjectDefineProperty, StringPrototypeCharCodeAt, StringPrototypeSlice, StringPrototypeIndexOf, StringPrototypeStartsWith, JSONParse, TypeErrorCtor, webIdlClass } from './primordials.ts';
import { registerURLBrand } from './brands.ts';
import { toUSVString } from './utf8.ts';
import { linkURLQuery, parseFormUrlencoded, searchParamsSetList, searchParamsAttach, URLSearchParams } from './search-params.ts';

export const MAX_URL_LENGTH = 65536;
export const URL_FIELDS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];

/** The components of a parsed URL, as the host's hooks report them. */
export interface URLRecord {
  href: string; origin: string; protocol: string; username: string; password: string; host: string;
  hostname: string; port: string; pathname: string; search: string; hash: string;
}

// Parsed components as a null-prototype record, or null when the input is not a valid URL.
export function parseURL(input, base): URLRecord | null {
  if (input.length > MAX_URL_LENGTH || (base !== undefined && base.length > MAX_URL_LENGTH)) return null;
  return recordOf(hookUrlParse(input, base));
}

// The components `href` has once Node's setter of `field` has been given `value`, or null when
// `href` cannot be set so (only the href setter fails: the others ignore what they cannot apply).
export function setURL(href: string, field: string, value: string): URLRecord | null {
  if (href.length > MAX_URL_LENGTH || value.length > MAX_URL_LENGTH) return null;
  return recordOf(hookUrlSet(href, field, value));
}

function recordOf(json: unknown): URLRecord | null {
  if (typeof json !== 'string') return null;
  const parsed = JSONParse(json);
  if (parsed === null || typeof parsed !== 'object') return null;
  const record = { __proto__: null } as unknown as URLRecord;
  for (let i = 0; i < URL_FIELDS.length; i++) {
    const field = URL_FIELDS[i];
    const value = parsed[field];
    record[field] = typeof value === 'string' ? value : '';
  }
  return record;
}

export function invalidURL(input) {
  const err = new TypeErrorCtor('Invalid URL');
  ObjectDefineProperty(err, 'code', dataProperty('ERR_INVALID_URL', false));
  ObjectDefineProperty(err, 'input', dataProperty(input, true));
  return err;
}

// href = head + ('?' query)? + ('#' fragment)?  ('?' and '#' cannot occur earlier in a
// serialized URL: they are percent-encoded in userinfo and path, forbidden in hosts).
export function splitHref(href) {
  const hashAt = StringPrototypeIndexOf(href, '#');
  const beforeHash = hashAt === -1 ? href : StringPrototypeSlice(href, 0, hashAt);
  const fragment = hashAt === -1 ? '' : StringPrototypeSlice(href, hashAt);
  const queryAt = StringPrototypeIndexOf(beforeHash, '?');
  const head = queryAt === -1 ? beforeHash : StringPrototypeSlice(beforeHash, 0, queryAt);
  const query = queryAt === -1 ? '' : StringPrototypeSlice(beforeHash, queryAt);
  return { __proto__: null, head, query, fragment, beforeHash };
}

export function hasAuthority(c) {
  return StringPrototypeStartsWith(c.href, '//', c.protocol.length);
}

export function hasOpaquePath(c) {
  return !hasAuthority(c) && StringPrototypeCharCodeAt(c.href, c.protocol.length) !== 0x2F;
}

export class URL {
  #c;
  #params: URLSearchParams | null = null;

  constructor(url, base: unknown = undefined) {
    if (arguments.length === 0) throw new TypeErrorCtor('The "url" argument must be specified');
    const input = toUSVString(url);
    const c = parseURL(input, base === undefined ? undefined : toUSVString(base));
    if (c === null) throw invalidURL(input);
    this.#c = c;
  }

  static canParse(url, base: unknown = undefined) {
    if (arguments.length === 0) throw new TypeErrorCtor('The "url" argument must be specified');
    return parseURL(toUSVString(url), base === undefined ? undefined : toUSVString(base)) !== null;
  }

  static parse(url, base: unknown = undefined) {
    if (arguments.length === 0) throw new TypeErrorCtor('The "url" argument must be specified');
    const input = toUSVString(url);
    const b = base === undefined ? undefined : toUSVString(base);
    if (parseURL(input, b) === null) return null;
    return newURL(input, b);
  }

  static {
    linkURLQuery((url, serialized) => (url as URL).#setQuery(serialized));
    registerURLBrand((v) => v !== null && typeof v === 'object' && #c in v);
  }

  // Sets one component with Node's setter (through the host); false when the href setter fails.
  #set(field: string, value: string): boolean {
    const c = setURL(this.#c.href, field, value);
    if (c === null) return false;
    this.#c = c;
    if (this.#params !== null) searchParamsSetList(this.#params, parseFormUrlencoded(StringPrototypeSlice(c.search, 1)));
    return true;
  }

  // The URLSearchParams "update steps": the query becomes the serialized list (null if empty).
  #setQuery(serialized) {
    const c = this.#c;
    const parts = splitHref(c.href);
    let head = parts.head;
    if (serialized === '' && parts.fragment === '' && hasOpaquePath(c)) {
      // "potentially strip trailing spaces from an opaque path"
      let end = head.length;
      while (end > 0 && StringPrototypeCharCodeAt(head, end - 1) === 0x20) end--;
      head = StringPrototypeSlice(head, 0, end);
      c.pathname = StringPrototypeSlice(head, c.protocol.length);
    }
    c.search = serialized === '' ? '' : '?' + serialized;
    c.href = head + (serialized === '' ? '' : '?' + serialized) + parts.fragment;
  }

  get href() { return this.#c.href; }
  set href(value) {
    const input = toUSVString(value);
    if (!this.#set('href', input)) throw invalidURL(input);
  }

  get origin() { return this.#c.origin; }

  get protocol() { return this.#c.protocol; }
  set protocol(value) { this.#set('protocol', toUSVString(value)); }

  get username() { return this.#c.username; }
  set username(value) { this.#set('username', toUSVString(value)); }

  get password() { return this.#c.password; }
  set password(value) { this.#set('password', toUSVString(value)); }

  get host() { return this.#c.host; }
  set host(value) { this.#set('host', toUSVString(value)); }

  get hostname() { return this.#c.hostname; }
  set hostname(value) { this.#set('hostname', toUSVString(value)); }

  get port() { return this.#c.port; }
  set port(value) { this.#set('port', toUSVString(value)); }

  get pathname() { return this.#c.pathname; }
  set pathname(value) { this.#set('pathname', toUSVString(value)); }

  get search() { return this.#c.search; }
  set search(value) { this.#set('search', toUSVString(value)); }

  get searchParams() {
    if (this.#params === null) {
      const params = new URLSearchParams();
      searchParamsSetList(params, parseFormUrlencoded(StringPrototypeSlice(this.#c.search, 1)));
      searchParamsAttach(params, this);
      this.#params = params;
    }
    return this.#params;
  }

  get hash() { return this.#c.hash; }
  set hash(value) { this.#set('hash', toUSVString(value)); }

  toString() { return this.#c.href; }
  toJSON() { return this.#c.href; }
}
webIdlClass(URL, 'URL');

// Outside the class body: a class that names itself inside its body is bundled as
// `var URL = class _URL`, and its name would become '_URL'.
function newURL(input: string, base: string | undefined): URL {
  return new URL(input, base);
}

