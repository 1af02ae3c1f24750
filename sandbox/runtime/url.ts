import { hookUrlParse } from './hooks.ts';
import { dataProperty, ObjectDefineProperty, StringFromCharCode, StringPrototypeCharCodeAt, StringPrototypeSlice, StringPrototypeIndexOf, StringPrototypeStartsWith, StringPrototypeToLowerCase, StringPrototypeReplace, RegExpPrototypeTest, NumberCtor, JSONParse, TypeErrorCtor, webIdlClass } from './primordials.ts';
import { percentByte, registerURLBrand } from './brands.ts';
import { toUSVString, utf8Encode } from './utf8.ts';
import { linkURLQuery, parseFormUrlencoded, searchParamsSetList, searchParamsAttach, URLSearchParams } from './search-params.ts';

// ---------------------------------------------------------------------------------------------
// URL: parsing is done by the host's WHATWG parser through hookUrlParse; everything else here.
// ---------------------------------------------------------------------------------------------
export const MAX_URL_LENGTH = 65536;
export const SPECIAL_SCHEMES = { __proto__: null, 'ftp:': true, 'file:': true, 'http:': true, 'https:': true, 'ws:': true, 'wss:': true };
export const URL_FIELDS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];

// Parsed components as a null-prototype record, or null when the input is not a valid URL.
/** The components of a parsed URL, as the host's hook reports them. */
export interface URLRecord {
  href: string; origin: string; protocol: string; username: string; password: string; host: string;
  hostname: string; port: string; pathname: string; search: string; hash: string;
}

export function parseURL(input, base): URLRecord | null {
  if (input.length > MAX_URL_LENGTH || (base !== undefined && base.length > MAX_URL_LENGTH)) return null;
  const json = hookUrlParse(input, base);
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

export function removeTabsAndNewlines(s) {
  return StringPrototypeReplace(s, /[\t\n\r]/g, '');
}

// Setter values are re-parsed as part of a whole href, and the parser trims C0 controls and spaces
// at the ends of its input. The path, query and fragment percent-encode sets all contain those
// code points, so encoding them first gives the same result without the trimming.
export function encodeControlsAndSpace(s) {
  return StringPrototypeReplace(s, /[\x00-\x20]/g, (ch) => percentByte(StringPrototypeCharCodeAt(ch, 0)));
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

export function cannotHaveCredentialsOrPort(c) {
  return !hasAuthority(c) || c.hostname === '' || c.protocol === 'file:';
}

// Userinfo percent-encode set of the URL Standard.
export function encodeUserinfo(s) {
  const bytes = utf8Encode(s);
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    const encode = b <= 0x20 || b >= 0x7F || b === 0x22 || b === 0x23 || b === 0x3C || b === 0x3E || b === 0x3F ||
      b === 0x60 || b === 0x7B || b === 0x7D || b === 0x2F || b === 0x3A || b === 0x3B || b === 0x3D || b === 0x40 ||
      b === 0x5B || b === 0x5C || b === 0x5D || b === 0x5E || b === 0x7C;
    out += encode ? percentByte(b) : StringFromCharCode(b);
  }
  return out;
}

export function userinfoOf(c) {
  if (c.username === '' && c.password === '') return '';
  return c.username + (c.password !== '' ? ':' + c.password : '') + '@';
}

export function hostWithPort(hostname, port) {
  return hostname + (port !== '' ? ':' + port : '');
}

export function rebuildWithAuthority(c, userinfo, host) {
  const parts = splitHref(c.href);
  return c.protocol + '//' + userinfo + host + c.pathname + parts.query + parts.fragment;
}

// Index of the ':' that starts a port in a host setter value (outside IPv6 brackets), or -1.
export function portColon(v) {
  let inBrackets = false;
  for (let i = 0; i < v.length; i++) {
    const c = StringPrototypeCharCodeAt(v, i);
    if (c === 0x5B) inBrackets = true;
    else if (c === 0x5D) inBrackets = false;
    else if (c === 0x3A && !inBrackets) return i;
  }
  return -1;
}

export function leadingDigits(s) {
  let i = 0;
  while (i < s.length) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c < 0x30 || c > 0x39) break;
    i++;
  }
  return StringPrototypeSlice(s, 0, i);
}

// The part of a host setter value the host state would consume.
export function hostSetterInput(c, value) {
  const v = removeTabsAndNewlines(toUSVString(value));
  const special = SPECIAL_SCHEMES[c.protocol] === true;
  let end = v.length;
  for (let i = 0; i < v.length; i++) {
    const ch = StringPrototypeCharCodeAt(v, i);
    if (ch === 0x2F || ch === 0x3F || ch === 0x23 || (special && ch === 0x5C)) { end = i; break; }
  }
  return StringPrototypeSlice(v, 0, end);
}

// Code points a host can never contain that the re-parse would read as something else (userinfo,
// or trimmed whitespace) instead of failing.
export function hasControlOrSpace(s) {
  return RegExpPrototypeTest(/[\x00-\x20@]/, s);
}

// Whether a host setter may leave an empty host: file URLs may, special URLs may not, and other
// URLs only when they already have a host and no credentials or port (as Node does).
export function emptyHostAllowed(c, colon) {
  if (colon !== -1) return false;
  if (c.protocol === 'file:') return true;
  if (SPECIAL_SCHEMES[c.protocol] === true || !hasAuthority(c)) return false;
  return c.username === '' && c.password === '' && c.port === '';
}

export class URL {
  #c;
  #params = null;

  constructor(url, base = undefined) {
    if (arguments.length === 0) throw new TypeErrorCtor('The "url" argument must be specified');
    const input = toUSVString(url);
    const c = parseURL(input, base === undefined ? undefined : toUSVString(base));
    if (c === null) throw invalidURL(input);
    this.#c = c;
  }

  static canParse(url, base = undefined) {
    if (arguments.length === 0) throw new TypeErrorCtor('The "url" argument must be specified');
    return parseURL(toUSVString(url), base === undefined ? undefined : toUSVString(base)) !== null;
  }

  static parse(url, base = undefined) {
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

  // Replaces the components after a successful re-parse; false when the new href is invalid.
  #reparse(href) {
    const c = parseURL(href, undefined);
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
    if (!this.#reparse(input)) throw invalidURL(input);
  }

  get origin() { return this.#c.origin; }

  get protocol() { return this.#c.protocol; }
  set protocol(value) {
    const c = this.#c;
    let v = removeTabsAndNewlines(toUSVString(value));
    const colon = StringPrototypeIndexOf(v, ':');
    if (colon !== -1) v = StringPrototypeSlice(v, 0, colon);
    if (!RegExpPrototypeTest(/^[A-Za-z][A-Za-z0-9+\-.]*$/, v)) return;
    const scheme = StringPrototypeToLowerCase(v) + ':';
    if (scheme === c.protocol) return;
    if ((SPECIAL_SCHEMES[scheme] === true) !== (SPECIAL_SCHEMES[c.protocol] === true)) return;
    if (scheme === 'file:' && (c.username !== '' || c.password !== '' || c.port !== '')) return;
    if (c.protocol === 'file:' && c.hostname === '') return;
    this.#reparse(scheme + StringPrototypeSlice(c.href, c.protocol.length));
  }

  get username() { return this.#c.username; }
  set username(value) {
    const c = this.#c;
    if (cannotHaveCredentialsOrPort(c)) return;
    const user = encodeUserinfo(toUSVString(value));
    const info = user === '' && c.password === '' ? '' : user + (c.password !== '' ? ':' + c.password : '') + '@';
    this.#reparse(rebuildWithAuthority(c, info, c.host));
  }

  get password() { return this.#c.password; }
  set password(value) {
    const c = this.#c;
    if (cannotHaveCredentialsOrPort(c)) return;
    const pass = encodeUserinfo(toUSVString(value));
    const info = c.username === '' && pass === '' ? '' : c.username + (pass !== '' ? ':' + pass : '') + '@';
    this.#reparse(rebuildWithAuthority(c, info, c.host));
  }

  get host() { return this.#c.host; }
  set host(value) {
    const c = this.#c;
    if (hasOpaquePath(c)) return;
    const v = hostSetterInput(c, value);
    if (hasControlOrSpace(v)) return;
    const colon = portColon(v);
    const hostname = colon === -1 ? v : StringPrototypeSlice(v, 0, colon);
    if (hostname === '' && !emptyHostAllowed(c, colon)) return;
    let port = c.port;
    if (colon !== -1 && c.protocol !== 'file:') {
      const digits = leadingDigits(StringPrototypeSlice(v, colon + 1));
      if (digits !== '' && NumberCtor(digits) <= 65535) port = digits;
    } else if (colon !== -1) {
      return; // a file URL has no port: the host parser rejects ':'
    }
    this.#reparse(rebuildWithAuthority(c, userinfoOf(c), hostWithPort(hostname, port)));
  }

  get hostname() { return this.#c.hostname; }
  set hostname(value) {
    const c = this.#c;
    if (hasOpaquePath(c)) return;
    const v = hostSetterInput(c, value);
    if (portColon(v) !== -1 || hasControlOrSpace(v)) return;
    if (v === '' && !emptyHostAllowed(c, -1)) return;
    this.#reparse(rebuildWithAuthority(c, userinfoOf(c), hostWithPort(v, c.port)));
  }

  get port() { return this.#c.port; }
  set port(value) {
    const c = this.#c;
    if (cannotHaveCredentialsOrPort(c)) return;
    const v = removeTabsAndNewlines(toUSVString(value));
    let port;
    if (v === '') port = '';
    else {
      port = leadingDigits(v);
      if (port === '' || NumberCtor(port) > 65535) return;
    }
    this.#reparse(rebuildWithAuthority(c, userinfoOf(c), hostWithPort(c.hostname, port)));
  }

  get pathname() { return this.#c.pathname; }
  set pathname(value) {
    const c = this.#c;
    if (hasOpaquePath(c)) return;
    let v = encodeControlsAndSpace(removeTabsAndNewlines(toUSVString(value)));
    // With the path state as state override, '?' and '#' belong to the path.
    v = StringPrototypeReplace(StringPrototypeReplace(v, /\?/g, '%3F'), /#/g, '%23');
    const special = SPECIAL_SCHEMES[c.protocol] === true;
    const authority = hasAuthority(c);
    const first = StringPrototypeCharCodeAt(v, 0);
    const startsWithSlash = first === 0x2F || (special && first === 0x5C);
    if (v === '') {
      // Special URLs always have a path; hostless ones keep an empty segment.
      if (special || !authority) v = '/';
    } else if (!startsWithSlash) {
      v = '/' + v;
    }
    if (!authority && StringPrototypeStartsWith(v, '//')) v = '/.' + v;
    const parts = splitHref(c.href);
    const prefix = authority ? c.protocol + '//' + userinfoOf(c) + c.host : c.protocol;
    this.#reparse(prefix + v + parts.query + parts.fragment);
  }

  get search() { return this.#c.search; }
  set search(value) {
    const c = this.#c;
    let v = toUSVString(value);
    const parts = splitHref(c.href);
    if (v === '') {
      this.#reparse(parts.head + parts.fragment);
      return;
    }
    if (StringPrototypeCharCodeAt(v, 0) === 0x3F) v = StringPrototypeSlice(v, 1);
    v = StringPrototypeReplace(encodeControlsAndSpace(removeTabsAndNewlines(v)), /#/g, '%23');
    this.#reparse(parts.head + '?' + v + parts.fragment);
  }

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
  set hash(value) {
    const c = this.#c;
    let v = toUSVString(value);
    const parts = splitHref(c.href);
    if (v === '') {
      this.#reparse(parts.beforeHash);
      return;
    }
    if (StringPrototypeCharCodeAt(v, 0) === 0x23) v = StringPrototypeSlice(v, 1);
    this.#reparse(parts.beforeHash + '#' + encodeControlsAndSpace(removeTabsAndNewlines(v)));
  }

  toString() { return this.#c.href; }
  toJSON() { return this.#c.href; }
}
webIdlClass(URL, 'URL');

// Outside the class body: a class that names itself inside its body is bundled as
// `var URL = class _URL`, and its name would become '_URL'.
function newURL(input: string, base: string | undefined): URL {
  return new URL(input, base);
}

