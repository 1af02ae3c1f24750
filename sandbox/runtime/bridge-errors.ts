// The bridge's errors and JSON checks, in the isolate: the typed errors capability code sees
// (a SubstrateError with type and data, remembered with its wire JSON so that it leaves the isolate
// as the same typed error), the JSON and size checks of what a call hands to the host, and the
// checks of a buffered write (the same checks and errors as the host's). Part of the bridge bundle
// (bridge.ts); every intrinsic is captured when the bundle is evaluated.
import { MAX_JSON_DEPTH } from '../../capabilities/json-limits.ts';
import { KERNEL_LIMITS } from '../../capabilities/types.ts';
import { TAG } from '../wire.ts';

const ReflectApply = Reflect.apply;
const ObjectDefineProperty = Object.defineProperty as (o: object, key: PropertyKey, desc: PropertyDescriptor & { __proto__?: null }) => object;
const JSONparse = JSON.parse;
const JSONstringify = JSON.stringify;
const ErrorCtor = Error;
const RangeErrorCtor = RangeError;
const StringCtor = String;
const strSlice = String.prototype.slice;
const strCharCodeAt = String.prototype.charCodeAt;
const typedErrors = new WeakMap<object, string>();
const wmGet = WeakMap.prototype.get;
const wmSet = WeakMap.prototype.set;
export const MAX_PAYLOAD = KERNEL_LIMITS.maxPayloadBytes;
export const MAX_KEY = KERNEL_LIMITS.maxStateKeyBytes;
export const MAX_VALUE = KERNEL_LIMITS.maxStateValueBytes;
export const MAX_DEPTH = MAX_JSON_DEPTH;
const TAG_VALUE_CODE = TAG.value.charCodeAt(0);
const TAG_UNDEFINED_CODE = TAG.undefined.charCodeAt(0);

/** The wire JSON of a typed error this bridge created, or undefined for any other value. */
export function typedErrorWire(e: unknown): string | undefined {
  return ReflectApply(wmGet, typedErrors, [e]) as string | undefined;
}

export function slice(s, a, b?) { return ReflectApply(strSlice, s, [a, b]); }
export function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = ReflectApply(strCharCodeAt, s, [i]);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) { n += 4; i++; }
    else n += 3;
  }
  return n;
}
export function memoryError(what, limit) {
  return typedError(wire('MEMORY_LIMIT', 'too many ' + what + ' at once: the limit is ' + limit, { __proto__: null, what: what, limit: limit }));
}
export function wire(type, message, data) {
  if (message.length > 4096) message = slice(message, 0, 4096) + '...';
  return JSONstringify({ __proto__: null, type: type, message: message, data: data });
}
export function typedError(wireJson) {
  let w;
  try { w = JSONparse(wireJson); } catch (e) { w = { type: 'CAPABILITY_ERROR', message: 'malformed error', data: {} }; }
  const err = new ErrorCtor(StringCtor(w.message));
  ObjectDefineProperty(err, 'name', { __proto__: null, value: 'SubstrateError', writable: true, configurable: true, enumerable: false });
  ObjectDefineProperty(err, 'type', { __proto__: null, value: w.type, writable: true, configurable: true, enumerable: true });
  ObjectDefineProperty(err, 'data', { __proto__: null, value: w.data, writable: true, configurable: true, enumerable: true });
  ReflectApply(wmSet, typedErrors, [err, wireJson]);
  return err;
}
// Everything that leaves the isolate is bounded: messages are cut here.
export function errorMessage(e) {
  let m;
  try {
    if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
      m = e.message;
      m = StringCtor(m === undefined ? e : m);
    } else {
      m = StringCtor(e);
    }
  } catch (x) {
    m = 'unprintable error';
  }
  return m.length > 4096 ? slice(m, 0, 4096) + '...' : m;
}
export function decode(r) {
  if (typeof r !== 'string') throw typedError(wire('CAPABILITY_ERROR', 'malformed host answer', { __proto__: null }));
  const tag = ReflectApply(strCharCodeAt, r, [0]);
  if (tag === TAG_VALUE_CODE) return JSONparse(slice(r, 1));
  if (tag === TAG_UNDEFINED_CODE) return undefined;
  throw typedError(slice(r, 1));
}
export function tooLarge(what, limit, text) {
  const size = utf8Length(text);
  return typedError(wire('PAYLOAD_TOO_LARGE', what + ' is ' + size + ' bytes, the limit is ' + limit,
    { __proto__: null, what: what, limit: limit, size: size }));
}
// JSON.stringify recurses: a value nested thousands of levels deep overflows the stack. That is
// the depth limit (the host measures shallower excess in the text), not a value without JSON form.
export function isTooDeep(e) {
  try { return e instanceof RangeErrorCtor && errorMessage(e) === 'Maximum call stack size exceeded'; } catch (x) { return false; }
}
export function tooDeepWire(what) {
  return wire('PAYLOAD_TOO_LARGE', what + ' nests too deeply to serialize, the limit is ' + MAX_DEPTH + ' levels',
    { __proto__: null, what: what, limit: MAX_DEPTH, limitKind: 'depth' });
}
export function jsonArg(value, what) {
  if (value === undefined) return undefined;
  let text;
  try { text = JSONstringify(value); } catch (e) {
    if (isTooDeep(e)) throw typedError(tooDeepWire(what));
    throw typedError(wire('INVALID_INPUT', what + ' is not JSON: ' + errorMessage(e), { __proto__: null, what: what, path: '', message: errorMessage(e) }));
  }
  if (typeof text === 'string' && text.length > MAX_PAYLOAD) throw tooLarge(what, MAX_PAYLOAD, text);
  return text;
}
export function keyArg(key) {
  if (typeof key !== 'string') return null;
  if (key.length > MAX_KEY) throw tooLarge('key', MAX_KEY, key);
  return key;
}
export function stateError(type, message, data) {
  return typedError(wire(type, message, data));
}
export function checkWriteKey(key) {
  if (typeof key !== 'string' || key.length === 0) throw stateError('INVALID_INPUT', 'a state key must be a non-empty string', { __proto__: null, what: 'key' });
  let n = 0;
  for (let i = 0; i < key.length; i++) {
    const c = ReflectApply(strCharCodeAt, key, [i]);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < key.length ? ReflectApply(strCharCodeAt, key, [i + 1]) : 0;
      if (c > 0xdbff || d < 0xdc00 || d > 0xdfff) throw stateError('INVALID_INPUT', 'a state key must be well-formed Unicode', { __proto__: null, what: 'key' });
      n += 4;
      i++;
    } else n += 3;
  }
  if (n > MAX_KEY) throw stateError('PAYLOAD_TOO_LARGE', 'state key is ' + n + ' bytes, the limit is ' + MAX_KEY, { __proto__: null, what: 'key', limit: MAX_KEY, size: n });
}
export function checkWriteValue(text) {
  if (typeof text !== 'string') throw stateError('INVALID_INPUT', 'a state value must be a JSON value (undefined cannot be stored)', { __proto__: null, what: 'value' });
  if (text.length * 3 <= MAX_VALUE) return;
  const n = utf8Length(text);
  if (n > MAX_VALUE) throw stateError('PAYLOAD_TOO_LARGE', 'state value is ' + n + ' bytes of JSON, the limit is ' + MAX_VALUE, { __proto__: null, what: 'value', limit: MAX_VALUE, size: n });
}
