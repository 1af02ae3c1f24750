// The Request and Response globals (WHATWG Fetch) and their body: extracted from a string, an
// ArrayBuffer or view, URLSearchParams (anything else as its string, as Web IDL's BodyInit union
// converts it), held as bytes, read once by text(), json(), arrayBuffer() or bytes(). No streams:
// a body is buffered whole, and `body` (a ReadableStream in browsers) is not defined; no Blob or
// FormData bodies, no AbortSignal (there is no AbortController global; `signal` is ignored).
// fetch.ts builds requests through requestRecord and fetched responses through fetchedResponse.
import { StringPrototypeCharCodeAt, StringPrototypeToLowerCase, NumberCtor, MathFloor, JSONParse, JSONStringify, PromiseCtor, TypedArrayPrototypeGetBuffer, TypedArrayPrototypeSet, Uint8ArrayCtor, TypeErrorCtor, RangeErrorCtor, webIdlClass } from './primordials.ts';
import { isSearchParams, searchParamsList, viewBytes } from './brands.ts';
import { toUSVString, utf8Encode, utf8Decode } from './utf8.ts';
import { serializeForm } from './search-params.ts';
import { parseURL } from './url.ts';
import { Headers, appendPairs, headersInitPairs, headersCopy, headersFill, headersSetImmutable, headersSorted, headersAppendUnchecked, isToken, toByteString, type HeaderPairs } from './headers.ts';

/** A body: its bytes (null: none), the Content-Type it implies, whether it was read. */
interface Body { __proto__: null; bytes: Uint8Array | null; used: boolean }

const NO_BODY_TYPE = null;

function copyBytes(src: Uint8Array): Uint8Array {
  const out = new Uint8ArrayCtor(src.length);
  TypedArrayPrototypeSet(out, src, 0);
  return out;
}

/** "extract a body": the bytes and the Content-Type they imply. */
function extractBody(object: unknown): { __proto__: null; bytes: Uint8Array; type: string | null } {
  if (typeof object === 'string') return { __proto__: null, bytes: utf8Encode(object), type: 'text/plain;charset=UTF-8' };
  if (isSearchParams(object)) {
    return { __proto__: null, bytes: utf8Encode(serializeForm(searchParamsList(object))), type: 'application/x-www-form-urlencoded;charset=UTF-8' };
  }
  const view = viewBytes(object);
  if (view !== undefined) return { __proto__: null, bytes: copyBytes(view), type: NO_BODY_TYPE };
  return { __proto__: null, bytes: utf8Encode(toUSVString(object)), type: 'text/plain;charset=UTF-8' };
}

function resolvedP(v: unknown): Promise<never> {
  return new PromiseCtor((resolve) => resolve(v as never));
}
function rejectedP(e: unknown): Promise<never> {
  return new PromiseCtor((_resolve, reject) => reject(e));
}

function unusable(): TypeError {
  return new TypeErrorCtor('Body is unusable: Body has already been read');
}

// "consume body": the bytes once (an empty body for none, which may be read again).
function consume(b: Body): Uint8Array {
  if (b.used) throw unusable();
  if (b.bytes === null) return new Uint8ArrayCtor(0);
  b.used = true;
  return b.bytes;
}

function decodeText(bytes: Uint8Array): string {
  // UTF-8 decode: a leading BOM is dropped.
  const start = bytes.length >= 3 && bytes[0] === 0xEF && bytes[1] === 0xBB && bytes[2] === 0xBF ? 3 : 0;
  return utf8Decode(bytes, start, bytes.length, false, false);
}

function readText(b: Body): Promise<string> {
  try { return resolvedP(decodeText(consume(b))); } catch (e) { return rejectedP(e); }
}
function readJson(b: Body): Promise<unknown> {
  try { return resolvedP(JSONParse(decodeText(consume(b)))); } catch (e) { return rejectedP(e); }
}
function readArrayBuffer(b: Body): Promise<ArrayBuffer> {
  try { return resolvedP(TypedArrayPrototypeGetBuffer(copyBytes(consume(b)))); } catch (e) { return rejectedP(e); }
}
function readBytes(b: Body): Promise<Uint8Array> {
  try { return resolvedP(copyBytes(consume(b))); } catch (e) { return rejectedP(e); }
}

function dictionary(init: unknown, what: string): Record<string, unknown> | null {
  if (init === undefined || init === null) return null;
  if (typeof init !== 'object' && typeof init !== 'function') throw new TypeErrorCtor(what + ': Expected init to be a dictionary.');
  return init as Record<string, unknown>;
}

const NORMALIZED_METHODS = { __proto__: null, delete: 'DELETE', get: 'GET', head: 'HEAD', options: 'OPTIONS', post: 'POST', put: 'PUT' };
const FORBIDDEN_METHODS = { __proto__: null, connect: true, trace: true, track: true };

/** A method as the standard normalizes it: a token, not CONNECT/TRACE/TRACK, the six common ones
 *  upper-cased (PATCH is not: `patch` stays `patch`). */
export function normalizeMethod(m: unknown): string {
  const s = toByteString(m);
  if (!isToken(s)) throw new TypeErrorCtor("'" + s + "' is not a valid HTTP method.");
  const lower = StringPrototypeToLowerCase(s);
  if (FORBIDDEN_METHODS[lower] === true) throw new TypeErrorCtor("'" + s + "' HTTP method is unsupported.");
  const n = NORMALIZED_METHODS[lower];
  return n === undefined ? s : n;
}

const REDIRECT_MODES = { __proto__: null, follow: true, error: true, manual: true };

/** What fetch sends for a Request: its method, URL, sorted headers and body bytes. */
export interface RequestRecord { __proto__: null; method: string; url: string; headers: HeaderPairs; body: Uint8Array | null }

export let requestRecord: (r: Request) => RequestRecord;
export let isRequest: (v: unknown) => boolean;
// Set by fetch for the duration of its `new Request`: an input URL that does not parse is kept as
// it is (the host refuses it with EFFECT_FAILED) instead of a TypeError.
let lenientURL = false;
export function withLenientURL<T>(f: () => T): T {
  lenientURL = true;
  try { return f(); } finally { lenientURL = false; }
}

export class Request {
  #method = 'GET';
  #url = '';
  #headers: Headers;
  #redirect = 'follow';
  #body: Body = { __proto__: null, bytes: null, used: false };

  constructor(input, init: unknown = undefined) {
    if (arguments.length === 0) throw new TypeErrorCtor("Request constructor: 1 argument required, but only 0 present.");
    const o = dictionary(init, 'Request constructor');
    let inputBody: Body | null = null;
    let inputHeaders: Headers | null = null;
    if (isRequest(input)) {
      const r = input as Request;
      this.#method = r.#method;
      this.#url = r.#url;
      this.#redirect = r.#redirect;
      inputHeaders = r.#headers;
      inputBody = r.#body.bytes === null ? null : r.#body;
    } else {
      const s = toUSVString(input);
      const c = parseURL(s, undefined);
      if (c === null) {
        if (!lenientURL) throw new TypeErrorCtor('Failed to parse URL from ' + s);
        this.#url = s;
      } else {
        if (c.username !== '' || c.password !== '') throw new TypeErrorCtor('Request cannot be constructed from a URL that includes credentials: ' + s);
        this.#url = c.href;
      }
    }
    if (o !== null) {
      const method = o.method;
      if (method !== undefined) this.#method = normalizeMethod(method);
      const redirect = o.redirect;
      if (redirect !== undefined) {
        const r = toUSVString(redirect);
        if (REDIRECT_MODES[r] !== true) throw new TypeErrorCtor("Request constructor: '" + r + "' is not a valid RequestRedirect.");
        this.#redirect = r;
      }
    }
    const headers = new Headers();
    const initHeaders = o === null ? undefined : o.headers;
    if (initHeaders !== undefined) headersFill(headers, initHeaders);
    else if (inputHeaders !== null) headersCopy(inputHeaders, headers);
    this.#headers = headers;
    const initBody = o === null ? undefined : o.body;
    const hasInitBody = initBody !== undefined && initBody !== null;
    if ((hasInitBody || inputBody !== null) && (this.#method === 'GET' || this.#method === 'HEAD')) {
      throw new TypeErrorCtor('Request with GET/HEAD method cannot have body.');
    }
    if (hasInitBody) {
      const x = extractBody(initBody);
      this.#body.bytes = x.bytes;
      if (x.type !== null && !headers.has('content-type')) headersAppendUnchecked(headers, 'content-type', x.type);
    } else if (inputBody !== null) {
      if (inputBody.used) throw new TypeErrorCtor('Cannot construct a Request with a Request object that has already been used.');
      this.#body.bytes = inputBody.bytes;
      // The new request takes the body over: the input's is now used.
      inputBody.used = true;
    }
  }

  static {
    isRequest = (v) => v !== null && typeof v === 'object' && #method in v;
    requestRecord = (r) => {
      if (r.#body.used) throw new TypeErrorCtor('Cannot fetch a Request whose body has already been used.');
      const bytes = r.#body.bytes;
      if (bytes !== null) r.#body.used = true;
      return { __proto__: null, method: r.#method, url: r.#url, headers: headersSorted(r.#headers), body: bytes };
    };
  }

  get method() { return this.#method; }
  get url() { return this.#url; }
  get headers() { return this.#headers; }
  get redirect() { return this.#redirect; }
  get bodyUsed() { return this.#body.used; }

  clone() {
    if (this.#body.used) throw new TypeErrorCtor('Request.clone: Body has already been consumed.');
    const copy = requestFrom(this);
    // The constructor took the body over; a clone leaves this one readable.
    this.#body.used = false;
    return copy;
  }

  text() { return readText(this.#body); }
  json() { return readJson(this.#body); }
  arrayBuffer() { return readArrayBuffer(this.#body); }
  bytes() { return readBytes(this.#body); }
}
webIdlClass(Request, 'Request');

const NULL_BODY_STATUS = { __proto__: null, 101: true, 103: true, 204: true, 205: true, 304: true };
const REDIRECT_STATUS = { __proto__: null, 301: true, 302: true, 303: true, 307: true, 308: true };

// Web IDL `unsigned short` (no [EnforceRange]): modulo 2^16.
function toUint16(v: unknown): number {
  const n = NumberCtor(v);
  if (n !== n || n === Infinity || n === -Infinity) return 0;
  const t = n < 0 ? -MathFloor(-n) : MathFloor(n);
  const m = t % 65536;
  return m < 0 ? m + 65536 : m;
}

// reason-phrase = *( HTAB / SP / VCHAR / obs-text )
function isReasonPhrase(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (!(c === 0x09 || (c >= 0x20 && c <= 0x7E) || (c >= 0x80 && c <= 0xFF))) return false;
  }
  return true;
}

/** What fetch.ts hands fetchedResponse: the kernel's answer, already checked. */
export interface FetchedParts { __proto__: null; status: number; statusText: string; headers: HeaderPairs; url: string; redirected: boolean; body: Uint8Array }

export let fetchedResponse: (p: FetchedParts) => Response;
let initialize: (r: Response, o: Record<string, unknown> | null, x: ReturnType<typeof extractBody> | null) => void;
let cloneResponse: (from: Response) => Response;
let errorResponse: () => Response;
let redirectResponse: (href: string, status: number) => Response;
export let isResponse: (v: unknown) => boolean;
// Passed as the body by the internal constructions (static methods, fetchedResponse): capability
// code cannot name it, so it cannot skip the constructor's checks.
const INTERNAL = { __proto__: null };

export class Response {
  #type = 'default';
  #status = 200;
  #statusText = '';
  #headers: Headers = new Headers();
  #url = '';
  #redirected = false;
  #body: Body = { __proto__: null, bytes: null, used: false };

  constructor(body: unknown = null, init: unknown = undefined) {
    if (body === INTERNAL) return;
    const o = dictionary(init, 'Response constructor');
    const x = body === null || body === undefined ? null : extractBody(body);
    initialize(this, o, x);
  }

  static {
    const setup = (r: Response, o: Record<string, unknown> | null, x: ReturnType<typeof extractBody> | null) => {
      if (o !== null) {
        // The dictionary is converted first, its members in order (headers, status, statusText),
        // then checked: a header value that is no ByteString is a TypeError before a bad status.
        const headers = o.headers;
        const pairs = headers === undefined ? null : headersInitPairs(headers);
        const status = o.status;
        const s = status === undefined ? 200 : toUint16(status);
        const statusText = o.statusText;
        const t = statusText === undefined ? '' : toByteString(statusText);
        if (s < 200 || s > 599) throw new RangeErrorCtor('init["status"] must be in the range of 200 to 599, inclusive.');
        if (!isReasonPhrase(t)) throw new TypeErrorCtor('Invalid statusText');
        r.#status = s;
        r.#statusText = t;
        if (pairs !== null) appendPairs(r.#headers, pairs);
      }
      if (x !== null) {
        if (NULL_BODY_STATUS[r.#status] === true) throw new TypeErrorCtor('Response constructor: Invalid response status code ' + r.#status);
        r.#body.bytes = x.bytes;
        if (x.type !== null && !r.#headers.has('content-type')) headersAppendUnchecked(r.#headers, 'content-type', x.type);
      }
    };
    initialize = setup;
    fetchedResponse = (p) => {
      const r = internalResponse();
      r.#type = 'basic';
      r.#status = p.status;
      r.#statusText = p.statusText;
      r.#url = p.url;
      r.#redirected = p.redirected;
      r.#body.bytes = NULL_BODY_STATUS[p.status] === true ? null : p.body;
      const list = p.headers;
      for (let i = 0; i < list.length; i++) headersAppendUnchecked(r.#headers, list[i][0], list[i][1]);
      headersSetImmutable(r.#headers);
      return r;
    };
    cloneResponse = (from) => {
      const r = internalResponse();
      r.#type = from.#type;
      r.#status = from.#status;
      r.#statusText = from.#statusText;
      r.#url = from.#url;
      r.#redirected = from.#redirected;
      r.#body.bytes = from.#body.bytes;
      headersCopy(from.#headers, r.#headers);
      if (from.#type === 'basic' || from.#type === 'error') headersSetImmutable(r.#headers);
      return r;
    };
    errorResponse = () => {
      const r = internalResponse();
      r.#type = 'error';
      r.#status = 0;
      headersSetImmutable(r.#headers);
      return r;
    };
    redirectResponse = (href, status) => {
      const r = internalResponse();
      r.#status = status;
      headersAppendUnchecked(r.#headers, 'location', href);
      headersSetImmutable(r.#headers);
      return r;
    };
    isResponse = (v) => v !== null && typeof v === 'object' && #status in v;
  }

  static error() { return errorResponse(); }

  static json(data, init: unknown = undefined) {
    const text = JSONStringify(data);
    if (typeof text !== 'string') throw new TypeErrorCtor('Value is not JSON serializable');
    const o = dictionary(init, 'Response.json');
    const r = internalResponse();
    const x = { __proto__: null, bytes: utf8Encode(text), type: 'application/json' as string | null };
    initialize(r, o, x);
    return r;
  }

  static redirect(url, status: unknown = 302) {
    const s = toUSVString(url);
    const c = parseURL(s, undefined);
    if (c === null) throw new TypeErrorCtor('Failed to parse URL from ' + s);
    const code = toUint16(status);
    if (REDIRECT_STATUS[code] !== true) throw new RangeErrorCtor('Invalid status code ' + code);
    return redirectResponse(c.href, code);
  }

  get type() { return this.#type; }
  get url() { return this.#url; }
  get redirected() { return this.#redirected; }
  get status() { return this.#status; }
  get ok() { return this.#status >= 200 && this.#status <= 299; }
  get statusText() { return this.#statusText; }
  get headers() { return this.#headers; }
  get bodyUsed() { return this.#body.used; }

  clone() {
    if (this.#body.used) throw new TypeErrorCtor('Response.clone: Body has already been consumed.');
    return cloneResponse(this);
  }

  text() { return readText(this.#body); }
  json() { return readJson(this.#body); }
  arrayBuffer() { return readArrayBuffer(this.#body); }
  bytes() { return readBytes(this.#body); }
}
webIdlClass(Response, 'Response');


// Outside the class bodies: a class that names itself inside its body is bundled as
// `var Response = class _Response`, and its name would become '_Response' (as url.ts says).
function internalResponse(): Response {
  return new Response(INTERNAL);
}
function requestFrom(r: Request): Request {
  return new Request(r);
}
