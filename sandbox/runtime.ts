// Over 500 lines for now: it is the in-isolate runtime as one template string; issue #11 makes it
// real modules under sandbox/runtime/ bundled with esbuild.
/**
 * sandbox/runtime.ts: the in-isolate runtime globals of a capability context (TextEncoder,
 * TextDecoder, URL, URLSearchParams, atob, btoa, structuredClone, queueMicrotask, crypto) plus the
 * hidden console argument formatter, and the host side they need: the URL parse hook (Node's
 * WHATWG parser), the random-bytes hook, and `installRuntime`, which wires both into a fresh
 * context. console, setTimeout and clearTimeout are installed by the host, not here.
 *
 * After installRuntime the only global left behind is `__sb_format` (SB_FORMAT_GLOBAL): the host
 * captures it for its console and deletes it before capability code runs.
 */
import ivm from 'isolated-vm';
import { randomFillSync } from 'node:crypto';
import { fail } from '../capabilities/errors.ts';
import { MEMORY_GUARDS_SOURCE } from './memory-guards.ts';

/** Inputs (and bases) longer than this are refused by the URL hook, on both sides of the boundary. */
export const MAX_URL_INPUT_LENGTH = 65536;

/** Hidden global defined by RUNTIME_SOURCE that the host must capture and delete. */
export const SB_FORMAT_GLOBAL = '__sb_format';

/** Random bytes handed out per hook call; the in-isolate side asks in chunks of at most this. */
const RANDOM_CHUNK = 65536;

/**
 * Classic script, evaluated once per fresh context after `globalThis.__sb_hooks` =
 * { urlParse(input, base): string | null, randomFill(bytes: Uint8Array): void } has been set.
 * It captures and deletes the hooks, captures the built-ins it relies on (capability code may
 * tamper with prototypes afterwards; that can only break its own globals), and defines the globals
 * non-enumerable, writable and configurable, like a browser's.
 */
export const RUNTIME_SOURCE: string = String.raw`
(function () {
'use strict';

// ---------------------------------------------------------------------------------------------
// Hooks to the host: captured into this closure and removed from the global before any capability
// code can run. Nothing below ever hands them (or the closure's state) to user-visible objects.
// ---------------------------------------------------------------------------------------------
const G = globalThis;
const hooks = G.__sb_hooks;
delete G.__sb_hooks;
if (hooks === null || typeof hooks !== 'object' ||
    typeof hooks.urlParse !== 'function' || typeof hooks.randomFill !== 'function') {
  throw new TypeError('sandbox runtime: __sb_hooks is missing');
}
const hookUrlParse = hooks.urlParse;
const hookRandomFill = hooks.randomFill;

// ---------------------------------------------------------------------------------------------
// Primordials: everything the globals below rely on, captured before capability code can
// tamper with prototypes. uncurryThis(fn)(self, ...args) === fn.call(self, ...args), through a
// bound function whose target cannot be changed later.
// ---------------------------------------------------------------------------------------------
const FunctionPrototypeCall = Function.prototype.call;
const uncurryThis = Function.prototype.bind.bind(FunctionPrototypeCall);
const ReflectApply = Reflect.apply;
const ReflectOwnKeys = Reflect.ownKeys;
const ObjectDefineProperty = Object.defineProperty;
const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const ObjectGetOwnPropertyNames = Object.getOwnPropertyNames;
const ObjectGetOwnPropertySymbols = Object.getOwnPropertySymbols;
const ObjectGetPrototypeOf = Object.getPrototypeOf;
const ObjectSetPrototypeOf = Object.setPrototypeOf;
const ObjectKeys = Object.keys;
const ObjectCreate = Object.create;
const ObjectIs = Object.is;
const ObjectPrototype = Object.prototype;
const ObjectPrototypeHasOwnProperty = uncurryThis(Object.prototype.hasOwnProperty);
const ObjectPrototypePropertyIsEnumerable = uncurryThis(Object.prototype.propertyIsEnumerable);
const ObjectPrototypeToString = uncurryThis(Object.prototype.toString);
const FunctionPrototypeToString = uncurryThis(Function.prototype.toString);
const ArrayIsArray = Array.isArray;
const ArrayPrototypePop = uncurryThis(Array.prototype.pop);
const ArrayPrototypeJoin = uncurryThis(Array.prototype.join);
const ArrayPrototypeSplice = uncurryThis(Array.prototype.splice);
const ArrayPrototypeSort = uncurryThis(Array.prototype.sort);
const ArrayPrototypeIncludes = uncurryThis(Array.prototype.includes);
const ArrayPrototypeIndexOf = uncurryThis(Array.prototype.indexOf);
const ArrayPrototypeUnshift = uncurryThis(Array.prototype.unshift);
const StringCtor = String;
const StringFromCharCode = String.fromCharCode;
const StringPrototypeCharCodeAt = uncurryThis(String.prototype.charCodeAt);
const StringPrototypeSlice = uncurryThis(String.prototype.slice);
const StringPrototypeIndexOf = uncurryThis(String.prototype.indexOf);
const StringPrototypeIncludes = uncurryThis(String.prototype.includes);
const StringPrototypeStartsWith = uncurryThis(String.prototype.startsWith);
const StringPrototypeEndsWith = uncurryThis(String.prototype.endsWith);
const StringPrototypeToLowerCase = uncurryThis(String.prototype.toLowerCase);
const StringPrototypeRepeat = uncurryThis(String.prototype.repeat);
const StringPrototypePadStart = uncurryThis(String.prototype.padStart);
const StringPrototypePadEnd = uncurryThis(String.prototype.padEnd);
const StringPrototypeSplit = uncurryThis(String.prototype.split);
const StringPrototypeReplace = uncurryThis(String.prototype.replace);
const StringPrototypeValueOf = uncurryThis(String.prototype.valueOf);
const StringPrototypeIsWellFormed = String.prototype.isWellFormed === undefined ? undefined : uncurryThis(String.prototype.isWellFormed);
const StringPrototypeToWellFormed = String.prototype.toWellFormed === undefined ? undefined : uncurryThis(String.prototype.toWellFormed);
const RegExpCtor = RegExp;
const RegExpPrototypeExec = uncurryThis(RegExp.prototype.exec);
const RegExpPrototypeTest = uncurryThis(RegExp.prototype.test);
const RegExpPrototypeToString = uncurryThis(RegExp.prototype.toString);
const RegExpPrototypeGetSource = uncurryThis(ObjectGetOwnPropertyDescriptor(RegExp.prototype, 'source').get);
const RegExpPrototypeGetFlags = uncurryThis(ObjectGetOwnPropertyDescriptor(RegExp.prototype, 'flags').get);
const NumberCtor = Number;
const NumberIsNaN = Number.isNaN;
const NumberParseInt = Number.parseInt;
const NumberParseFloat = Number.parseFloat;
const NumberPrototypeValueOf = uncurryThis(Number.prototype.valueOf);
const NumberPrototypeToString = uncurryThis(Number.prototype.toString);
const BooleanPrototypeValueOf = uncurryThis(Boolean.prototype.valueOf);
const BigIntPrototypeValueOf = uncurryThis(BigInt.prototype.valueOf);
const SymbolIterator = Symbol.iterator;
const SymbolToStringTag = Symbol.toStringTag;
const SymbolFor = Symbol.for;
const SymbolPrototypeToString = uncurryThis(Symbol.prototype.toString);
const SymbolPrototypeValueOf = uncurryThis(Symbol.prototype.valueOf);
const MathMin = Math.min;
const MathMax = Math.max;
const MathFloor = Math.floor;
const MathRound = Math.round;
const MathSqrt = Math.sqrt;
const JSONParse = JSON.parse;
const JSONStringify = JSON.stringify;
const MapCtor = Map;
const MapPrototypeGet = uncurryThis(Map.prototype.get);
const MapPrototypeSet = uncurryThis(Map.prototype.set);
const MapPrototypeForEach = uncurryThis(Map.prototype.forEach);
const MapPrototypeGetSize = uncurryThis(ObjectGetOwnPropertyDescriptor(Map.prototype, 'size').get);
const SetCtor = Set;
const SetPrototypeAdd = uncurryThis(Set.prototype.add);
const SetPrototypeForEach = uncurryThis(Set.prototype.forEach);
const SetPrototypeGetSize = uncurryThis(ObjectGetOwnPropertyDescriptor(Set.prototype, 'size').get);
const WeakMapPrototypeHas = uncurryThis(WeakMap.prototype.has);
const WeakSetPrototypeHas = uncurryThis(WeakSet.prototype.has);
const DateCtor = Date;
const DatePrototypeGetTime = uncurryThis(Date.prototype.getTime);
const DatePrototypeToISOString = uncurryThis(Date.prototype.toISOString);
const DatePrototypeToString = uncurryThis(Date.prototype.toString);
const ErrorCtor = Error;
const ErrorPrototypeToString = uncurryThis(Error.prototype.toString);
const PromiseCtor = Promise;
const PromisePrototypeThen = uncurryThis(Promise.prototype.then);
const ArrayBufferCtor = ArrayBuffer;
const ArrayBufferIsView = ArrayBuffer.isView;
const ArrayBufferPrototypeGetByteLength = uncurryThis(ObjectGetOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get);
const SharedArrayBufferCtor = typeof SharedArrayBuffer === 'function' ? SharedArrayBuffer : undefined;
const SharedArrayBufferPrototypeGetByteLength = SharedArrayBufferCtor === undefined ? undefined :
  uncurryThis(ObjectGetOwnPropertyDescriptor(SharedArrayBufferCtor.prototype, 'byteLength').get);
const TypedArray = ObjectGetPrototypeOf(Uint8Array);
const TypedArrayPrototype = TypedArray.prototype;
const TypedArrayPrototypeGetSymbolToStringTag = uncurryThis(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, SymbolToStringTag).get);
const TypedArrayPrototypeGetBuffer = uncurryThis(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, 'buffer').get);
const TypedArrayPrototypeGetByteOffset = uncurryThis(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, 'byteOffset').get);
const TypedArrayPrototypeGetByteLength = uncurryThis(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, 'byteLength').get);
const TypedArrayPrototypeGetLength = uncurryThis(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, 'length').get);
const TypedArrayPrototypeSubarray = uncurryThis(TypedArrayPrototype.subarray);
const TypedArrayPrototypeSet = uncurryThis(TypedArrayPrototype.set);
const Uint8ArrayCtor = Uint8Array;
const Uint16ArrayCtor = Uint16Array;
const DataViewCtor = DataView;
const DataViewPrototypeGetBuffer = uncurryThis(ObjectGetOwnPropertyDescriptor(DataView.prototype, 'buffer').get);
const DataViewPrototypeGetByteOffset = uncurryThis(ObjectGetOwnPropertyDescriptor(DataView.prototype, 'byteOffset').get);
const DataViewPrototypeGetByteLength = uncurryThis(ObjectGetOwnPropertyDescriptor(DataView.prototype, 'byteLength').get);
const TypeErrorCtor = TypeError;
const RangeErrorCtor = RangeError;
const IteratorPrototype = ObjectGetPrototypeOf(ObjectGetPrototypeOf([][SymbolIterator]()));
const AsyncFunctionPrototype = ObjectGetPrototypeOf(async function () {});
const GeneratorFunctionPrototype = ObjectGetPrototypeOf(function* () {});
const AsyncGeneratorFunctionPrototype = ObjectGetPrototypeOf(async function* () {});

const TYPED_ARRAY_CTORS = { __proto__: null,
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
};
const INTEGER_TYPED_ARRAYS = { __proto__: null,
  Int8Array: true, Uint8Array: true, Uint8ClampedArray: true, Int16Array: true, Uint16Array: true,
  Int32Array: true, Uint32Array: true, BigInt64Array: true, BigUint64Array: true,
};
const ERROR_CTORS = { __proto__: null,
  Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError,
};

function defineGlobal(name, value) {
  ObjectDefineProperty(G, name, { __proto__: null, value, writable: true, enumerable: false, configurable: true });
}

// Web IDL interfaces expose their operations and attributes as enumerable prototype members and a
// non-writable @@toStringTag; classes define them non-enumerable, so this patches them up.
function webIdlClass(cls, tag) {
  const proto = cls.prototype;
  const names = ObjectGetOwnPropertyNames(proto);
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (name === 'constructor') continue;
    const desc = ObjectGetOwnPropertyDescriptor(proto, name);
    desc.enumerable = true;
    ObjectDefineProperty(proto, name, desc);
  }
  ObjectDefineProperty(proto, SymbolToStringTag, { __proto__: null, value: tag, writable: false, enumerable: false, configurable: true });
}

// ---------------------------------------------------------------------------------------------
// Brand checks (never trust @@toStringTag or instanceof: both are forgeable).
// ---------------------------------------------------------------------------------------------
function typedArrayName(v) {
  // The getter returns undefined (without throwing) for anything that is not a typed array.
  return TypedArrayPrototypeGetSymbolToStringTag(v);
}
function isArrayBuffer(v) {
  try { ArrayBufferPrototypeGetByteLength(v); return true; } catch { return false; }
}
function isSharedArrayBuffer(v) {
  if (SharedArrayBufferPrototypeGetByteLength === undefined) return false;
  try { SharedArrayBufferPrototypeGetByteLength(v); return true; } catch { return false; }
}
function isDataView(v) {
  try { DataViewPrototypeGetByteLength(v); return true; } catch { return false; }
}
function isDate(v) {
  try { DatePrototypeGetTime(v); return true; } catch { return false; }
}
function isRegExp(v) {
  if (v === RegExpCtor.prototype) return false;
  try { RegExpPrototypeGetSource(v); return true; } catch { return false; }
}
function isMap(v) {
  try { MapPrototypeGetSize(v); return true; } catch { return false; }
}
function isSet(v) {
  try { SetPrototypeGetSize(v); return true; } catch { return false; }
}
function isWeakMap(v) {
  try { WeakMapPrototypeHas(v, ObjectPrototype); return true; } catch { return false; }
}
function isWeakSet(v) {
  try { WeakSetPrototypeHas(v, ObjectPrototype); return true; } catch { return false; }
}
function isError(v) {
  return ObjectPrototypeToString(v) === '[object Error]';
}
function boxedKind(v) {
  try { NumberPrototypeValueOf(v); return 'Number'; } catch {}
  try { StringPrototypeValueOf(v); return 'String'; } catch {}
  try { BooleanPrototypeValueOf(v); return 'Boolean'; } catch {}
  try { BigIntPrototypeValueOf(v); return 'BigInt'; } catch {}
  try { SymbolPrototypeValueOf(v); return 'Symbol'; } catch {}
  return '';
}

// Bytes of any ArrayBuffer, SharedArrayBuffer or view, or undefined.
function viewBytes(v) {
  if (ArrayBufferIsView(v)) {
    if (typedArrayName(v) !== undefined) {
      return new Uint8ArrayCtor(TypedArrayPrototypeGetBuffer(v), TypedArrayPrototypeGetByteOffset(v), TypedArrayPrototypeGetByteLength(v));
    }
    return new Uint8ArrayCtor(DataViewPrototypeGetBuffer(v), DataViewPrototypeGetByteOffset(v), DataViewPrototypeGetByteLength(v));
  }
  if (isArrayBuffer(v) || isSharedArrayBuffer(v)) return new Uint8ArrayCtor(v);
  return undefined;
}

function describeReceived(v) {
  if (v === null || v === undefined) return 'Received ' + v;
  if (typeof v === 'function') return 'Received function ' + (v.name || '(anonymous)');
  if (typeof v === 'object') {
    const ctor = v.constructor;
    if (ctor && typeof ctor.name === 'string' && ctor.name !== '') return 'Received an instance of ' + ctor.name;
    return 'Received ' + inspectValue(v, 0);
  }
  let shown = inspectValue(v, 0);
  if (shown.length > 28) shown = StringPrototypeSlice(shown, 0, 25) + '...';
  return 'Received type ' + typeof v + ' (' + shown + ')';
}

const HEX_DIGITS = '0123456789abcdef';
const UPPER_HEX_DIGITS = '0123456789ABCDEF';
function hex2(b) {
  return HEX_DIGITS[b >> 4] + HEX_DIGITS[b & 15];
}
function percentByte(b) {
  return '%' + UPPER_HEX_DIGITS[b >> 4] + UPPER_HEX_DIGITS[b & 15];
}

// ---------------------------------------------------------------------------------------------
// DOMException-like errors. No DOMException global is exposed (the contract does not list one).
// ---------------------------------------------------------------------------------------------
function domErrorClass(name, code) {
  const cls = ({ [name]: class extends ErrorCtor {} })[name];
  ObjectDefineProperty(cls.prototype, 'name', { __proto__: null, value: name, writable: true, enumerable: false, configurable: true });
  ObjectDefineProperty(cls.prototype, 'code', { __proto__: null, value: code, writable: true, enumerable: false, configurable: true });
  return cls;
}
const InvalidCharacterError = domErrorClass('InvalidCharacterError', 5);
const TypeMismatchError = domErrorClass('TypeMismatchError', 17);
const QuotaExceededError = domErrorClass('QuotaExceededError', 22);
const DataCloneError = domErrorClass('DataCloneError', 25);

// ---------------------------------------------------------------------------------------------
// Strings and UTF-8
// ---------------------------------------------------------------------------------------------
function toUSVString(v) {
  if (typeof v === 'symbol') throw new TypeErrorCtor('Cannot convert a Symbol value to a string');
  const s = typeof v === 'string' ? v : StringCtor(v);
  if (StringPrototypeIsWellFormed !== undefined) {
    return StringPrototypeIsWellFormed(s) ? s : StringPrototypeToWellFormed(s);
  }
  let out = '';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c >= 0xD800 && c <= 0xDFFF) {
      if (c <= 0xDBFF && i + 1 < s.length) {
        const d = StringPrototypeCharCodeAt(s, i + 1);
        if (d >= 0xDC00 && d <= 0xDFFF) { i++; continue; }
      }
      out += StringPrototypeSlice(s, last, i) + '\uFFFD';
      last = i + 1;
    }
  }
  return last === 0 ? s : out + StringPrototypeSlice(s, last);
}

function toDOMString(v) {
  if (typeof v === 'symbol') throw new TypeErrorCtor('Cannot convert a Symbol value to a string');
  return typeof v === 'string' ? v : StringCtor(v);
}

// Number of UTF-8 bytes for s (lone surrogates count as U+FFFD).
function utf8Length(s) {
  const len = s.length;
  let n = len;
  for (let i = 0; i < len; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c < 0x80) continue;
    if (c < 0x800) { n += 1; continue; }
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < len) {
      const d = StringPrototypeCharCodeAt(s, i + 1);
      if (d >= 0xDC00 && d <= 0xDFFF) { n += 2; i++; continue; }
    }
    n += 2;
  }
  return n;
}

// Writes the UTF-8 form of s into out[offset, limit), stopping before a character that does not fit
// entirely; leaves the code units read and bytes written in encodedRead / encodedWritten.
let encodedRead = 0;
let encodedWritten = 0;
function utf8Write(s, out, offset, limit) {
  const len = s.length;
  let i = 0;
  let p = offset;
  while (i < len) {
    let c = StringPrototypeCharCodeAt(s, i);
    let units = 1;
    if (c < 0x80) {
      if (p >= limit) break;
      out[p++] = c;
      i++;
      continue;
    }
    if (c >= 0xD800 && c <= 0xDFFF) {
      if (c <= 0xDBFF && i + 1 < len) {
        const d = StringPrototypeCharCodeAt(s, i + 1);
        if (d >= 0xDC00 && d <= 0xDFFF) {
          c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
          units = 2;
        } else {
          c = 0xFFFD;
        }
      } else {
        c = 0xFFFD;
      }
    }
    if (c < 0x800) {
      if (p + 2 > limit) break;
      out[p++] = 0xC0 | (c >> 6);
      out[p++] = 0x80 | (c & 0x3F);
    } else if (c < 0x10000) {
      if (p + 3 > limit) break;
      out[p++] = 0xE0 | (c >> 12);
      out[p++] = 0x80 | ((c >> 6) & 0x3F);
      out[p++] = 0x80 | (c & 0x3F);
    } else {
      if (p + 4 > limit) break;
      out[p++] = 0xF0 | (c >> 18);
      out[p++] = 0x80 | ((c >> 12) & 0x3F);
      out[p++] = 0x80 | ((c >> 6) & 0x3F);
      out[p++] = 0x80 | (c & 0x3F);
    }
    i += units;
  }
  encodedRead = i;
  encodedWritten = p - offset;
}

function utf8Encode(s) {
  const out = new Uint8ArrayCtor(utf8Length(s));
  utf8Write(s, out, 0, out.length);
  return out;
}

// Collects UTF-16 code units into a reusable buffer and turns them into a string in chunks, which
// keeps String.fromCharCode.apply under the engine's argument limit.
const CHUNK = 8192;
const chunkUnits = new Uint16ArrayCtor(CHUNK + 2);
function flushUnits(out, n) {
  return out + ReflectApply(StringFromCharCode, undefined, TypedArrayPrototypeSubarray(chunkUnits, 0, n));
}

// WHATWG "UTF-8 decode" over bytes[start, end). Invalid sequences become U+FFFD (maximal subpart
// rule) or throw when fatal. When stream is true an unfinished sequence at the end is not an error:
// its start index is left in decodedPendingStart (otherwise -1).
let decodedPendingStart = -1;
function utf8Decode(bytes, start, end, fatal, stream) {
  let out = '';
  let n = 0;
  let needed = 0;
  let seen = 0;
  let cp = 0;
  let lower = 0x80;
  let upper = 0xBF;
  let seqStart = 0;
  decodedPendingStart = -1;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (n >= CHUNK) { out = flushUnits(out, n); n = 0; }
    if (needed === 0) {
      if (b < 0x80) { chunkUnits[n++] = b; continue; }
      seqStart = i;
      if (b >= 0xC2 && b <= 0xDF) { needed = 1; cp = b & 0x1F; }
      else if (b >= 0xE0 && b <= 0xEF) {
        if (b === 0xE0) lower = 0xA0;
        if (b === 0xED) upper = 0x9F;
        needed = 2; cp = b & 0x0F;
      } else if (b >= 0xF0 && b <= 0xF4) {
        if (b === 0xF0) lower = 0x90;
        if (b === 0xF4) upper = 0x8F;
        needed = 3; cp = b & 0x07;
      } else {
        if (fatal) throw decodeError();
        chunkUnits[n++] = 0xFFFD;
      }
      continue;
    }
    if (b < lower || b > upper) {
      needed = 0; seen = 0; cp = 0; lower = 0x80; upper = 0xBF;
      if (fatal) throw decodeError();
      chunkUnits[n++] = 0xFFFD;
      i--; // reprocess this byte as the start of a new sequence
      continue;
    }
    lower = 0x80; upper = 0xBF;
    cp = (cp << 6) | (b & 0x3F);
    seen++;
    if (seen === needed) {
      if (cp >= 0x10000) {
        cp -= 0x10000;
        chunkUnits[n++] = 0xD800 + (cp >> 10);
        chunkUnits[n++] = 0xDC00 + (cp & 0x3FF);
      } else {
        chunkUnits[n++] = cp;
      }
      needed = 0; seen = 0; cp = 0;
    }
  }
  if (needed !== 0) {
    if (stream) decodedPendingStart = seqStart;
    else {
      if (fatal) throw decodeError();
      chunkUnits[n++] = 0xFFFD;
    }
  }
  return n === 0 ? out : flushUnits(out, n);
}

function decodeError() {
  const err = new TypeErrorCtor('The encoded data was not valid for encoding utf-8');
  ObjectDefineProperty(err, 'code', { __proto__: null, value: 'ERR_ENCODING_INVALID_ENCODED_DATA', writable: true, enumerable: false, configurable: true });
  return err;
}

// ---------------------------------------------------------------------------------------------
// TextEncoder / TextDecoder
// ---------------------------------------------------------------------------------------------
class TextEncoder {
  get encoding() { return 'utf-8'; }

  encode(input = '') {
    return utf8Encode(toUSVString(input));
  }

  encodeInto(source, destination) {
    if (arguments.length < 2) throw new TypeErrorCtor('The "src" and "dest" arguments must be specified');
    const s = toUSVString(source);
    if (typedArrayName(destination) !== 'Uint8Array') {
      throw new TypeErrorCtor('The "dest" argument must be an instance of Uint8Array. ' + describeReceived(destination));
    }
    utf8Write(s, destination, 0, TypedArrayPrototypeGetLength(destination));
    return { read: encodedRead, written: encodedWritten };
  }
}
webIdlClass(TextEncoder, 'TextEncoder');

const UTF8_LABELS = { __proto__: null,
  'unicode-1-1-utf-8': true, 'unicode11utf8': true, 'unicode20utf8': true, 'utf-8': true, 'utf8': true, 'x-unicode20utf8': true,
};
const asciiWhitespaceTrim = /^[\t\n\f\r ]+|[\t\n\f\r ]+$/g;

class TextDecoder {
  #fatal;
  #ignoreBOM;
  #pending = null;   // bytes of an unfinished sequence kept between stream: true calls
  #bomSeen = false;

  constructor(label = 'utf-8', options = undefined) {
    const name = StringPrototypeToLowerCase(StringPrototypeReplace(toDOMString(label), asciiWhitespaceTrim, ''));
    if (UTF8_LABELS[name] !== true) {
      const err = new RangeErrorCtor('The "' + toDOMString(label) + '" encoding is not supported');
      ObjectDefineProperty(err, 'code', { __proto__: null, value: 'ERR_ENCODING_NOT_SUPPORTED', writable: true, enumerable: false, configurable: true });
      throw err;
    }
    if (options !== undefined && options !== null && typeof options !== 'object' && typeof options !== 'function') {
      throw new TypeErrorCtor('The "options" argument must be of type object. ' + describeReceived(options));
    }
    this.#fatal = options != null ? !!options.fatal : false;
    this.#ignoreBOM = options != null ? !!options.ignoreBOM : false;
  }

  get encoding() {
    void this.#fatal; // throws for a foreign receiver, like the other accessors
    return 'utf-8';
  }
  get fatal() { return this.#fatal; }
  get ignoreBOM() { return this.#ignoreBOM; }

  decode(input = undefined, options = undefined) {
    const fatal = this.#fatal;
    let bytes;
    if (input === undefined) bytes = new Uint8ArrayCtor(0);
    else {
      bytes = viewBytes(input);
      if (bytes === undefined) {
        throw new TypeErrorCtor('The "input" argument must be an instance of ArrayBuffer or ArrayBufferView. ' + describeReceived(input));
      }
    }
    const stream = options != null && typeof options === 'object' ? !!options.stream : false;
    const pending = this.#pending;
    if (pending !== null) {
      const joined = new Uint8ArrayCtor(pending.length + bytes.length);
      TypedArrayPrototypeSet(joined, pending, 0);
      TypedArrayPrototypeSet(joined, bytes, pending.length);
      bytes = joined;
      this.#pending = null;
    }
    let text;
    try {
      text = utf8Decode(bytes, 0, bytes.length, fatal, stream);
    } catch (err) {
      this.#bomSeen = false;
      this.#pending = null;
      throw err;
    }
    if (stream && decodedPendingStart !== -1) {
      this.#pending = new Uint8ArrayCtor(TypedArrayPrototypeSubarray(bytes, decodedPendingStart, bytes.length));
    }
    // The BOM is dropped from the first code point of a stream only.
    if (!this.#bomSeen && text.length !== 0) {
      this.#bomSeen = true;
      if (!this.#ignoreBOM && StringPrototypeCharCodeAt(text, 0) === 0xFEFF) text = StringPrototypeSlice(text, 1);
    }
    if (!stream) this.#bomSeen = false;
    return text;
  }
}
webIdlClass(TextDecoder, 'TextDecoder');

// ---------------------------------------------------------------------------------------------
// atob / btoa (HTML "forgiving-base64")
// ---------------------------------------------------------------------------------------------
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
// Built on first use: every context pays for its tables only if it uses them.
let B64_CODES = null;
let B64_VALUES = null;
function base64Tables() {
  B64_CODES = new Uint8ArrayCtor(64);
  B64_VALUES = new Uint8ArrayCtor(128);
  for (let i = 0; i < 128; i++) B64_VALUES[i] = 255;
  for (let i = 0; i < 64; i++) {
    B64_CODES[i] = StringPrototypeCharCodeAt(B64, i);
    B64_VALUES[B64_CODES[i]] = i;
  }
}

function btoa(data) {
  if (arguments.length === 0) throw new TypeErrorCtor('The "data" argument must be specified');
  const s = toDOMString(data);
  const len = s.length;
  if (B64_CODES === null) base64Tables();
  let out = '';
  let n = 0;
  for (let i = 0; i < len; i += 3) {
    const a = StringPrototypeCharCodeAt(s, i);
    const b = i + 1 < len ? StringPrototypeCharCodeAt(s, i + 1) : 0;
    const c = i + 2 < len ? StringPrototypeCharCodeAt(s, i + 2) : 0;
    if (a > 0xFF || b > 0xFF || c > 0xFF) throw new InvalidCharacterError('Invalid character');
    if (n >= CHUNK) { out = flushUnits(out, n); n = 0; }
    chunkUnits[n++] = B64_CODES[a >> 2];
    chunkUnits[n++] = B64_CODES[((a & 3) << 4) | (b >> 4)];
    chunkUnits[n++] = i + 1 < len ? B64_CODES[((b & 15) << 2) | (c >> 6)] : 61;
    chunkUnits[n++] = i + 2 < len ? B64_CODES[c & 63] : 61;
  }
  return n === 0 ? out : flushUnits(out, n);
}

function atob(data) {
  if (arguments.length === 0) throw new TypeErrorCtor('The "data" argument must be specified');
  const s = toDOMString(data);
  const len = s.length;
  if (B64_VALUES === null) base64Tables();
  // Pass 1: count significant characters and validate.
  let count = 0;
  let padding = 0;
  for (let i = 0; i < len; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c === 0x09 || c === 0x0A || c === 0x0C || c === 0x0D || c === 0x20) continue;
    if (c === 0x3D) { padding++; count++; continue; }
    if (padding !== 0 || c > 127 || B64_VALUES[c] === 255) throw new InvalidCharacterError('Invalid character');
    count++;
  }
  if (padding > 0) {
    if (count % 4 !== 0 || padding > 2) throw new InvalidCharacterError('Invalid character');
    count -= padding;
  }
  if (count % 4 === 1) throw new InvalidCharacterError('The string to be decoded is not correctly encoded.');
  // Pass 2: decode.
  let out = '';
  let n = 0;
  let acc = 0;
  let bits = 0;
  let taken = 0;
  for (let i = 0; i < len && taken < count; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c === 0x09 || c === 0x0A || c === 0x0C || c === 0x0D || c === 0x20) continue;
    taken++;
    acc = ((acc << 6) | B64_VALUES[c]) & 0xFFFFFF;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n >= CHUNK) { out = flushUnits(out, n); n = 0; }
      chunkUnits[n++] = (acc >> bits) & 0xFF;
    }
  }
  return n === 0 ? out : flushUnits(out, n);
}

// ---------------------------------------------------------------------------------------------
// structuredClone (HTML structured serialize + deserialize, in one pass)
// ---------------------------------------------------------------------------------------------
const ObjectCtor = Object;
const ArrayCtor = Array;
const UNCLONEABLE_TAGS = { __proto__: null,
  '[object Promise]': 'Promise', '[object WeakMap]': 'WeakMap', '[object WeakSet]': 'WeakSet',
  '[object WeakRef]': 'WeakRef', '[object FinalizationRegistry]': 'FinalizationRegistry',
  '[object Generator]': 'Generator', '[object AsyncGenerator]': 'AsyncGenerator', '[object Module]': 'Module',
  '[object Map Iterator]': 'Map Iterator', '[object Set Iterator]': 'Set Iterator',
  '[object Array Iterator]': 'Array Iterator', '[object String Iterator]': 'String Iterator',
  '[object RegExp String Iterator]': 'RegExp String Iterator',
};

function dataProperty(value, enumerable) {
  return { __proto__: null, value, writable: true, enumerable, configurable: true };
}

function notCloneable(description) {
  return new DataCloneError(description + ' could not be cloned.');
}

function describeFunctionForClone(fn) {
  let src;
  try { src = FunctionPrototypeToString(fn); } catch { src = 'function'; }
  return src.length > 100 ? StringPrototypeSlice(src, 0, 97) + '...' : src;
}

function structuredClone(value, options = undefined) {
  if (arguments.length === 0) throw new TypeErrorCtor('The "value" argument must be specified');
  if (options !== undefined && options !== null && typeof options !== 'object') {
    throw new TypeErrorCtor('The "options" argument must be of type object. ' + describeReceived(options));
  }
  // options.transfer is accepted but buffers are copied, not detached: script cannot detach them.
  return cloneValue(value, new MapCtor());
}

function cloneValue(v, memory) {
  const type = typeof v;
  if (type === 'symbol') throw notCloneable(SymbolPrototypeToString(v));
  if (type === 'function') throw notCloneable(describeFunctionForClone(v));
  if (type !== 'object' || v === null) return v;
  const known = MapPrototypeGet(memory, v);
  if (known !== undefined) return known;

  const tag = ObjectPrototypeToString(v);
  let out;
  switch (tag) {
    case '[object Array]':
      if (ArrayIsArray(v)) {
        out = new ArrayCtor(v.length);
        MapPrototypeSet(memory, v, out);
        copyOwnEnumerable(v, out, memory);
        return out;
      }
      break;
    case '[object Date]':
      if (isDate(v)) {
        out = new DateCtor(DatePrototypeGetTime(v));
        MapPrototypeSet(memory, v, out);
        return out;
      }
      break;
    case '[object RegExp]':
      if (isRegExp(v)) {
        out = new RegExpCtor(RegExpPrototypeGetSource(v), RegExpPrototypeGetFlags(v));
        MapPrototypeSet(memory, v, out);
        return out;
      }
      break;
    case '[object Map]':
      if (isMap(v)) {
        out = new MapCtor();
        MapPrototypeSet(memory, v, out);
        const keys = [];
        const values = [];
        MapPrototypeForEach(v, (val, key) => { keys[keys.length] = key; values[values.length] = val; });
        for (let i = 0; i < keys.length; i++) {
          MapPrototypeSet(out, cloneValue(keys[i], memory), cloneValue(values[i], memory));
        }
        return out;
      }
      break;
    case '[object Set]':
      if (isSet(v)) {
        out = new SetCtor();
        MapPrototypeSet(memory, v, out);
        const items = [];
        SetPrototypeForEach(v, (val) => { items[items.length] = val; });
        for (let i = 0; i < items.length; i++) SetPrototypeAdd(out, cloneValue(items[i], memory));
        return out;
      }
      break;
    case '[object ArrayBuffer]':
      if (isArrayBuffer(v)) {
        out = new ArrayBufferCtor(ArrayBufferPrototypeGetByteLength(v));
        TypedArrayPrototypeSet(new Uint8ArrayCtor(out), new Uint8ArrayCtor(v), 0);
        MapPrototypeSet(memory, v, out);
        return out;
      }
      break;
    case '[object SharedArrayBuffer]':
      // Shared memory stays shared, as it does across agents.
      if (isSharedArrayBuffer(v)) return v;
      break;
    case '[object DataView]':
      if (isDataView(v)) {
        const buffer = cloneValue(DataViewPrototypeGetBuffer(v), memory);
        out = new DataViewCtor(buffer, DataViewPrototypeGetByteOffset(v), DataViewPrototypeGetByteLength(v));
        MapPrototypeSet(memory, v, out);
        return out;
      }
      break;
    case '[object Error]':
      out = cloneError(v, memory);
      return out;
    case '[object Number]':
    case '[object String]':
    case '[object Boolean]':
    case '[object BigInt]':
    case '[object Symbol]': {
      const kind = boxedKind(v);
      if (kind === 'Symbol') throw notCloneable('Symbol object');
      if (kind !== '') {
        const prim = kind === 'Number' ? NumberPrototypeValueOf(v) : kind === 'String' ? StringPrototypeValueOf(v)
          : kind === 'Boolean' ? BooleanPrototypeValueOf(v) : BigIntPrototypeValueOf(v);
        out = ObjectCtor(prim);
        MapPrototypeSet(memory, v, out);
        return out;
      }
      break;
    }
    default: {
      const uncloneable = UNCLONEABLE_TAGS[tag];
      if (uncloneable !== undefined) throw notCloneable('#<' + uncloneable + '>');
    }
  }

  const taName = typedArrayName(v);
  if (taName !== undefined) {
    const buffer = cloneValue(TypedArrayPrototypeGetBuffer(v), memory);
    out = new TYPED_ARRAY_CTORS[taName](buffer, TypedArrayPrototypeGetByteOffset(v), TypedArrayPrototypeGetLength(v));
    MapPrototypeSet(memory, v, out);
    return out;
  }
  if (ArrayBufferIsView(v)) {
    const buffer = cloneValue(DataViewPrototypeGetBuffer(v), memory);
    out = new DataViewCtor(buffer, DataViewPrototypeGetByteOffset(v), DataViewPrototypeGetByteLength(v));
    MapPrototypeSet(memory, v, out);
    return out;
  }
  out = {};
  MapPrototypeSet(memory, v, out);
  copyOwnEnumerable(v, out, memory);
  return out;
}

function copyOwnEnumerable(from, to, memory) {
  const keys = ObjectKeys(from);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    // Defined rather than assigned so that a "__proto__" key stays a plain property.
    ObjectDefineProperty(to, key, dataProperty(cloneValue(from[key], memory), true));
  }
}

function cloneError(v, memory) {
  let name = v.name;
  name = typeof name === 'string' && ERROR_CTORS[name] !== undefined ? name : 'Error';
  const messageDesc = ObjectGetOwnPropertyDescriptor(v, 'message');
  const hasMessage = messageDesc !== undefined && 'value' in messageDesc;
  const out = hasMessage ? new ERROR_CTORS[name](StringCtor(messageDesc.value)) : new ERROR_CTORS[name]();
  MapPrototypeSet(memory, v, out);
  const stack = v.stack;
  if (typeof stack === 'string') ObjectDefineProperty(out, 'stack', dataProperty(stack, false));
  const causeDesc = ObjectGetOwnPropertyDescriptor(v, 'cause');
  if (causeDesc !== undefined && 'value' in causeDesc) {
    ObjectDefineProperty(out, 'cause', dataProperty(cloneValue(causeDesc.value, memory), false));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// queueMicrotask
// ---------------------------------------------------------------------------------------------
const resolvedPromise = ReflectApply(PromiseCtor.resolve, PromiseCtor, [undefined]);

function reportMicrotaskError(err) {
  // There is no window.onerror here; the console (installed by the host) is the only witness.
  try {
    const c = G.console;
    if (c !== null && typeof c === 'object' && typeof c.error === 'function') c.error('Uncaught', err);
  } catch {}
}

function queueMicrotask(callback) {
  if (typeof callback !== 'function') {
    throw new TypeErrorCtor('The "callback" argument must be of type function. ' + describeReceived(callback));
  }
  PromisePrototypeThen(resolvedPromise, () => {
    try {
      ReflectApply(callback, undefined, []);
    } catch (err) {
      reportMicrotaskError(err);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// crypto.getRandomValues / crypto.randomUUID
// ---------------------------------------------------------------------------------------------
const UUID_POOL_SIZE = 256;
const uuidPool = new Uint8ArrayCtor(UUID_POOL_SIZE);
let uuidPoolPos = UUID_POOL_SIZE;

function getRandomValues(typedArray) {
  const name = typedArrayName(typedArray);
  if (name === undefined || INTEGER_TYPED_ARRAYS[name] !== true) {
    throw new TypeMismatchError('The data argument must be an integer-type TypedArray');
  }
  const byteLength = TypedArrayPrototypeGetByteLength(typedArray);
  if (byteLength > 65536) {
    throw new QuotaExceededError('The requested length exceeds 65,536 bytes');
  }
  if (byteLength !== 0) {
    hookRandomFill(new Uint8ArrayCtor(TypedArrayPrototypeGetBuffer(typedArray), TypedArrayPrototypeGetByteOffset(typedArray), byteLength));
  }
  return typedArray;
}

function randomUUID() {
  if (uuidPoolPos + 16 > UUID_POOL_SIZE) {
    hookRandomFill(uuidPool);
    uuidPoolPos = 0;
  }
  const b = uuidPool;
  const p = uuidPoolPos;
  uuidPoolPos += 16;
  return hex2(b[p]) + hex2(b[p + 1]) + hex2(b[p + 2]) + hex2(b[p + 3]) + '-' +
    hex2(b[p + 4]) + hex2(b[p + 5]) + '-' +
    hex2((b[p + 6] & 0x0F) | 0x40) + hex2(b[p + 7]) + '-' +
    hex2((b[p + 8] & 0x3F) | 0x80) + hex2(b[p + 9]) + '-' +
    hex2(b[p + 10]) + hex2(b[p + 11]) + hex2(b[p + 12]) + hex2(b[p + 13]) + hex2(b[p + 14]) + hex2(b[p + 15]);
}

const cryptoProto = {
  getRandomValues(typedArray) { return getRandomValues(typedArray); },
  randomUUID() { return randomUUID(); },
};
ObjectDefineProperty(cryptoProto, SymbolToStringTag, { __proto__: null, value: 'Crypto', writable: false, enumerable: false, configurable: true });
const crypto = ObjectCreate(cryptoProto);

// ---------------------------------------------------------------------------------------------
// URLSearchParams (pure script, WHATWG URL Standard section 5/6)
// ---------------------------------------------------------------------------------------------
function isHexDigit(c) {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}
function hexValue(c) {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10;
}

// application/x-www-form-urlencoded "percent-decode" of one name or value, '+' meaning space.
function decodeFormComponent(s) {
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

function parseFormUrlencoded(s) {
  const list = [];
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
      list[list.length] = [decodeFormComponent(name), decodeFormComponent(value)];
    }
    start = amp + 1;
  }
  return list;
}


// Code points left as they are by the application/x-www-form-urlencoded percent-encode set.
function isFormSafe(c) {
  return (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) ||
    c === 0x2A || c === 0x2D || c === 0x2E || c === 0x5F;
}

function encodeFormComponent(s) {
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

function serializeForm(list) {
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
function iterateToArray(iterable, method, onItem) {
  const iterator = ReflectApply(method, iterable, []);
  if (iterator === null || (typeof iterator !== 'object' && typeof iterator !== 'function')) {
    throw new TypeErrorCtor('Result of the Symbol.iterator method is not an object');
  }
  const next = iterator.next;
  for (;;) {
    const step = ReflectApply(next, iterator, []);
    if (step === null || (typeof step !== 'object' && typeof step !== 'function')) {
      throw new TypeErrorCtor('Iterator result ' + step + ' is not an object');
    }
    if (step.done) return;
    onItem(step.value);
  }
}

let searchParamsList;     // (params) => list
let searchParamsSetList;  // (params, list) => void
let searchParamsAttach;   // (params, url) => void
let isSearchParams;       // (value) => boolean
let urlSetQuery;          // (url, serializedQuery) => void, defined with URL below
let isURLObject;          // (value) => boolean, defined with URL below

class URLSearchParams {
  #list = [];
  #url = null;

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
          const items = [];
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
    searchParamsList = (p) => p.#list;
    searchParamsSetList = (p, list) => { p.#list = list; };
    searchParamsAttach = (p, url) => { p.#url = url; };
    isSearchParams = (v) => v !== null && typeof v === 'object' && #list in v;
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
    const kept = [];
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
    const out = [];
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
    const out = [];
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

class URLSearchParamsIterator {
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
delete URLSearchParamsIterator.prototype.constructor;

// ---------------------------------------------------------------------------------------------
// URL: parsing is done by the host's WHATWG parser through hookUrlParse; everything else here.
// ---------------------------------------------------------------------------------------------
const MAX_URL_LENGTH = 65536;
const SPECIAL_SCHEMES = { __proto__: null, 'ftp:': true, 'file:': true, 'http:': true, 'https:': true, 'ws:': true, 'wss:': true };
const URL_FIELDS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];

// Parsed components as a null-prototype record, or null when the input is not a valid URL.
function parseURL(input, base) {
  if (input.length > MAX_URL_LENGTH || (base !== undefined && base.length > MAX_URL_LENGTH)) return null;
  const json = hookUrlParse(input, base);
  if (typeof json !== 'string') return null;
  const parsed = JSONParse(json);
  if (parsed === null || typeof parsed !== 'object') return null;
  const record = { __proto__: null };
  for (let i = 0; i < URL_FIELDS.length; i++) {
    const field = URL_FIELDS[i];
    const value = parsed[field];
    record[field] = typeof value === 'string' ? value : '';
  }
  return record;
}

function invalidURL(input) {
  const err = new TypeErrorCtor('Invalid URL');
  ObjectDefineProperty(err, 'code', dataProperty('ERR_INVALID_URL', false));
  ObjectDefineProperty(err, 'input', dataProperty(input, true));
  return err;
}

function removeTabsAndNewlines(s) {
  return StringPrototypeReplace(s, /[\t\n\r]/g, '');
}

// Setter values are re-parsed as part of a whole href, and the parser trims C0 controls and spaces
// at the ends of its input. The path, query and fragment percent-encode sets all contain those
// code points, so encoding them first gives the same result without the trimming.
function encodeControlsAndSpace(s) {
  return StringPrototypeReplace(s, /[\x00-\x20]/g, (ch) => percentByte(StringPrototypeCharCodeAt(ch, 0)));
}

// href = head + ('?' query)? + ('#' fragment)?  ('?' and '#' cannot occur earlier in a
// serialized URL: they are percent-encoded in userinfo and path, forbidden in hosts).
function splitHref(href) {
  const hashAt = StringPrototypeIndexOf(href, '#');
  const beforeHash = hashAt === -1 ? href : StringPrototypeSlice(href, 0, hashAt);
  const fragment = hashAt === -1 ? '' : StringPrototypeSlice(href, hashAt);
  const queryAt = StringPrototypeIndexOf(beforeHash, '?');
  const head = queryAt === -1 ? beforeHash : StringPrototypeSlice(beforeHash, 0, queryAt);
  const query = queryAt === -1 ? '' : StringPrototypeSlice(beforeHash, queryAt);
  return { __proto__: null, head, query, fragment, beforeHash };
}

function hasAuthority(c) {
  return StringPrototypeStartsWith(c.href, '//', c.protocol.length);
}

function hasOpaquePath(c) {
  return !hasAuthority(c) && StringPrototypeCharCodeAt(c.href, c.protocol.length) !== 0x2F;
}

function cannotHaveCredentialsOrPort(c) {
  return !hasAuthority(c) || c.hostname === '' || c.protocol === 'file:';
}

// Userinfo percent-encode set of the URL Standard.
function encodeUserinfo(s) {
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

function userinfoOf(c) {
  if (c.username === '' && c.password === '') return '';
  return c.username + (c.password !== '' ? ':' + c.password : '') + '@';
}

function hostWithPort(hostname, port) {
  return hostname + (port !== '' ? ':' + port : '');
}

function rebuildWithAuthority(c, userinfo, host) {
  const parts = splitHref(c.href);
  return c.protocol + '//' + userinfo + host + c.pathname + parts.query + parts.fragment;
}

// Index of the ':' that starts a port in a host setter value (outside IPv6 brackets), or -1.
function portColon(v) {
  let inBrackets = false;
  for (let i = 0; i < v.length; i++) {
    const c = StringPrototypeCharCodeAt(v, i);
    if (c === 0x5B) inBrackets = true;
    else if (c === 0x5D) inBrackets = false;
    else if (c === 0x3A && !inBrackets) return i;
  }
  return -1;
}

function leadingDigits(s) {
  let i = 0;
  while (i < s.length) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c < 0x30 || c > 0x39) break;
    i++;
  }
  return StringPrototypeSlice(s, 0, i);
}

// The part of a host setter value the host state would consume.
function hostSetterInput(c, value) {
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
function hasControlOrSpace(s) {
  return RegExpPrototypeTest(/[\x00-\x20@]/, s);
}

// Whether a host setter may leave an empty host: file URLs may, special URLs may not, and other
// URLs only when they already have a host and no credentials or port (as Node does).
function emptyHostAllowed(c, colon) {
  if (colon !== -1) return false;
  if (c.protocol === 'file:') return true;
  if (SPECIAL_SCHEMES[c.protocol] === true || !hasAuthority(c)) return false;
  return c.username === '' && c.password === '' && c.port === '';
}

class URL {
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
    return new URL(input, b);
  }

  static {
    urlSetQuery = (url, serialized) => url.#setQuery(serialized);
    isURLObject = (v) => v !== null && typeof v === 'object' && #c in v;
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

// ---------------------------------------------------------------------------------------------
// Console argument formatting: a compact re-implementation of Node's util.format/util.inspect
// defaults (depth 2, breakLength 80, compact 3, 100 array items), without colors or proxies.
// ---------------------------------------------------------------------------------------------
const FORMAT_LIMIT = 10000;
const kObjectType = 0;
const kArrayType = 1;
const kArrayExtrasType = 2;
const customInspectSymbol = SymbolFor('nodejs.util.inspect.custom');
const keyStrRegExp = /^[a-zA-Z_][a-zA-Z_0-9]*$/;
const numberRegExp = /^(0|[1-9][0-9]*)$/;
const escapeTestRegExp = /[\x00-\x1f\x27\x5c\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const escapeReplaceRegExp = /[\x00-\x1f\x27\x5c\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const escapeTestRegExpSingle = /[\x00-\x1f\x5c\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const escapeReplaceRegExpSingle = /[\x00-\x1f\x5c\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// Names of the built-in constructors whose toString "%s" ignores in favour of inspection.
let builtinConstructorNames = null;
function isBuiltinConstructorName(name) {
  if (builtinConstructorNames === null) {
    builtinConstructorNames = { __proto__: null };
    const names = ObjectGetOwnPropertyNames(G);
    for (let i = 0; i < names.length; i++) {
      if (RegExpPrototypeTest(/^[A-Z][a-zA-Z0-9]+$/, names[i])) builtinConstructorNames[names[i]] = true;
    }
  }
  return builtinConstructorNames[name] === true;
}

function escapeFn(ch) {
  const code = StringPrototypeCharCodeAt(ch, 0);
  switch (code) {
    case 8: return '\\b';
    case 9: return '\\t';
    case 10: return '\\n';
    case 12: return '\\f';
    case 13: return '\\r';
    case 0x27: return "\\'";
    case 0x5C: return '\\\\';
  }
  if (code < 0x20 || (code >= 0x7F && code < 0xA0)) return '\\x' + UPPER_HEX_DIGITS[code >> 4] + UPPER_HEX_DIGITS[code & 15];
  return '\\u' + NumberPrototypeToString(code, 16);
}

function strEscape(str) {
  let escapeTest = escapeTestRegExp;
  let escapeReplace = escapeReplaceRegExp;
  let quote = "'";
  if (StringPrototypeIncludes(str, "'")) {
    if (!StringPrototypeIncludes(str, '"')) quote = '"';
    else if (!StringPrototypeIncludes(str, '\x60') && !StringPrototypeIncludes(str, '$' + '{')) quote = '\x60';
    if (quote !== "'") {
      escapeTest = escapeTestRegExpSingle;
      escapeReplace = escapeReplaceRegExpSingle;
    }
  }
  if (!RegExpPrototypeTest(escapeTest, str)) return quote + str + quote;
  escapeReplace.lastIndex = 0;
  return quote + StringPrototypeReplace(str, escapeReplace, escapeFn) + quote;
}

function newInspectContext(depth) {
  return { __proto__: null, seen: [], circular: undefined, indentationLvl: 0, currentDepth: 0, depth, emitted: 0 };
}

function inspectValue(value, depth) {
  return formatValue(newInspectContext(depth), value, 0, undefined);
}

function formatNumber(n) {
  return ObjectIs(n, -0) ? '-0' : '' + n;
}

function formatPrimitive(ctx, value) {
  let out;
  if (typeof value === 'string') {
    let trailer = '';
    if (value.length > FORMAT_LIMIT) {
      const remaining = value.length - FORMAT_LIMIT;
      value = StringPrototypeSlice(value, 0, FORMAT_LIMIT);
      trailer = '... ' + remaining + ' more character' + (remaining > 1 ? 's' : '');
    }
    if (value.length > 16 && value.length > 80 - ctx.indentationLvl - 4 && StringPrototypeIndexOf(value, '\n') !== -1) {
      const lines = StringPrototypeSplit(value, /(?<=\n)/);
      const pieces = [];
      for (let i = 0; i < lines.length; i++) pieces[i] = strEscape(lines[i]);
      out = ArrayPrototypeJoin(pieces, ' +\n' + StringPrototypeRepeat(' ', ctx.indentationLvl + 2)) + trailer;
    } else {
      out = strEscape(value) + trailer;
    }
  } else if (typeof value === 'number') out = formatNumber(value);
  else if (typeof value === 'bigint') out = value + 'n';
  else if (typeof value === 'boolean') out = value ? 'true' : 'false';
  else if (typeof value === 'undefined') out = 'undefined';
  else out = SymbolPrototypeToString(value);
  ctx.emitted += out.length;
  return out;
}

function formatValue(ctx, value, recurseTimes, typedArray) {
  if (typeof value !== 'object' && typeof value !== 'function') return formatPrimitive(ctx, value);
  if (value === null) { ctx.emitted += 4; return 'null'; }

  let maybeCustom;
  try { maybeCustom = value[customInspectSymbol]; } catch {}
  if (typeof maybeCustom === 'function') {
    let isProto = false;
    try { isProto = value.constructor !== undefined && value.constructor !== null && value.constructor.prototype === value; } catch {}
    if (!isProto) {
      const options = { depth: ctx.depth - recurseTimes, colors: false, compact: 3, breakLength: 80 };
      const ret = ReflectApply(maybeCustom, value, [ctx.depth - recurseTimes, options, inspectForCustom]);
      if (ret !== value) {
        if (typeof ret !== 'string') return formatValue(ctx, ret, recurseTimes, undefined);
        return StringPrototypeReplace(ret, /\n/g, '\n' + StringPrototypeRepeat(' ', ctx.indentationLvl));
      }
    }
  }

  if (ArrayPrototypeIncludes(ctx.seen, value)) {
    let index = 1;
    if (ctx.circular === undefined) {
      ctx.circular = new MapCtor();
      MapPrototypeSet(ctx.circular, value, index);
    } else {
      index = MapPrototypeGet(ctx.circular, value);
      if (index === undefined) {
        index = MapPrototypeGetSize(ctx.circular) + 1;
        MapPrototypeSet(ctx.circular, value, index);
      }
    }
    return '[Circular *' + index + ']';
  }
  return formatRaw(ctx, value, recurseTimes, typedArray);
}

function inspectForCustom(value, options) {
  const depth = options !== null && typeof options === 'object' && typeof options.depth === 'number' ? options.depth : 2;
  return inspectValue(value, depth);
}

function getConstructorName(obj) {
  let current = obj;
  let firstProto;
  while (current !== null && current !== undefined) {
    const desc = ObjectGetOwnPropertyDescriptor(current, 'constructor');
    if (desc !== undefined && typeof desc.value === 'function' && desc.value.name !== '' && typeof desc.value.name === 'string') {
      return desc.value.name;
    }
    current = ObjectGetPrototypeOf(current);
    if (firstProto === undefined) firstProto = current;
  }
  if (firstProto === null) return null;
  return 'Object <Complex prototype>';
}

function getPrefix(constructor, tag, fallback, size) {
  if (size === undefined) size = '';
  if (constructor === null) {
    if (tag !== '' && fallback !== tag) return '[' + fallback + size + ': null prototype] [' + tag + '] ';
    return '[' + fallback + size + ': null prototype] ';
  }
  if (tag !== '' && constructor !== tag) return constructor + size + ' [' + tag + '] ';
  return constructor + size + ' ';
}

function getKeys(value) {
  const keys = ObjectKeys(value);
  const symbols = ObjectGetOwnPropertySymbols(value);
  for (let i = 0; i < symbols.length; i++) {
    if (ObjectPrototypePropertyIsEnumerable(value, symbols[i])) keys[keys.length] = symbols[i];
  }
  return keys;
}

function isIndexKey(key) {
  return RegExpPrototypeTest(numberRegExp, key) && NumberCtor(key) < 4294967295;
}

function getNonIndexKeys(value) {
  const all = getKeys(value);
  const keys = [];
  for (let i = 0; i < all.length; i++) {
    if (typeof all[i] === 'symbol' || !isIndexKey(all[i])) keys[keys.length] = all[i];
  }
  return keys;
}

function functionKind(fn) {
  const proto = ObjectGetPrototypeOf(fn);
  if (proto === AsyncFunctionPrototype) return 'AsyncFunction';
  if (proto === GeneratorFunctionPrototype) return 'GeneratorFunction';
  if (proto === AsyncGeneratorFunctionPrototype) return 'AsyncGeneratorFunction';
  return 'Function';
}

function getFunctionBase(value, constructor, tag) {
  let source = '';
  try { source = FunctionPrototypeToString(value); } catch {}
  if (StringPrototypeStartsWith(source, 'class') && StringPrototypeEndsWith(source, '}')) {
    const hasName = ObjectPrototypeHasOwnProperty(value, 'name');
    const name = (hasName && value.name) || '(anonymous)';
    let base = 'class ' + name;
    if (constructor !== 'Function' && constructor !== null) base += ' [' + constructor + ']';
    if (tag !== '' && constructor !== tag) base += ' [' + tag + ']';
    if (constructor !== null) {
      const superName = ObjectGetPrototypeOf(value).name;
      if (superName) base += ' extends ' + superName;
    } else {
      base += ' extends [null prototype]';
    }
    return '[' + base + ']';
  }
  const type = functionKind(value);
  let base = '[' + type;
  if (constructor === null) base += ' (null prototype)';
  const name = value.name;
  if (name === '' || typeof name !== 'string') base += ' (anonymous)';
  else base += ': ' + name;
  base += ']';
  if (constructor !== type && constructor !== null) base += ' ' + constructor;
  if (tag !== '' && constructor !== tag) base += ' [' + tag + ']';
  return base;
}

function improveStack(stack, constructor, name, tag) {
  let len = name.length;
  if (constructor === null ||
      (StringPrototypeEndsWith(name, 'Error') && StringPrototypeStartsWith(stack, name) &&
       (stack.length === len || stack[len] === ':' || stack[len] === '\n'))) {
    let fallback = 'Error';
    if (constructor === null) {
      const start = RegExpPrototypeExec(/^([A-Z][a-z_ A-Z0-9[\]()-]+)(?::|\n\s+at)/, stack) ||
        RegExpPrototypeExec(/^([a-z_A-Z0-9-]*Error)$/, stack);
      fallback = (start && start[1]) || '';
      len = fallback.length;
      fallback = fallback || 'Error';
    }
    const prefix = StringPrototypeSlice(getPrefix(constructor, tag, fallback), 0, -1);
    if (name !== prefix) {
      if (StringPrototypeIncludes(prefix, name)) {
        stack = len === 0 ? prefix + ': ' + stack : prefix + StringPrototypeSlice(stack, len);
      } else {
        stack = prefix + ' [' + name + ']' + StringPrototypeSlice(stack, len);
      }
    }
  }
  return stack;
}

function formatError(err, constructor, tag, ctx, keys) {
  const name = err.name != null ? StringCtor(err.name) : 'Error';
  let stack;
  try {
    stack = err.stack ? StringCtor(err.stack) : ErrorPrototypeToString(err);
  } catch {
    stack = ErrorPrototypeToString(err);
  }
  // Own name/message/stack keys already shown by the stack are not repeated.
  const shownKeys = ['name', 'message', 'stack'];
  for (let k = 0; k < shownKeys.length; k++) {
    const key = shownKeys[k];
    const at = ArrayPrototypeIndexOf(keys, key);
    if (at !== -1 && StringPrototypeIncludes(stack, StringCtor(err[key]))) ArrayPrototypeSplice(keys, at, 1);
  }
  if ('cause' in err && !ArrayPrototypeIncludes(keys, 'cause')) keys[keys.length] = 'cause';
  const errors = ObjectGetOwnPropertyDescriptor(err, 'errors');
  if (errors !== undefined && ArrayIsArray(errors.value) && !ArrayPrototypeIncludes(keys, 'errors')) keys[keys.length] = 'errors';
  stack = improveStack(stack, constructor, name, tag);
  const message = err.message;
  let pos = (typeof message === 'string' && message !== '' && StringPrototypeIndexOf(stack, message)) || -1;
  if (pos !== -1) pos += message.length;
  if (StringPrototypeIndexOf(stack, '\n    at', pos) === -1) stack = '[' + stack + ']';
  if (ctx.indentationLvl !== 0) {
    stack = StringPrototypeReplace(stack, /\n/g, '\n' + StringPrototypeRepeat(' ', ctx.indentationLvl));
  }
  return stack;
}

function getBoxedBase(value, kind, keys, constructor, tag, ctx) {
  let primitive;
  if (kind === 'Number') primitive = NumberPrototypeValueOf(value);
  else if (kind === 'String') {
    primitive = StringPrototypeValueOf(value);
    // Index keys of a String object just repeat its characters.
    ArrayPrototypeSplice(keys, 0, primitive.length);
  } else if (kind === 'Boolean') primitive = BooleanPrototypeValueOf(value);
  else if (kind === 'BigInt') primitive = BigIntPrototypeValueOf(value);
  else primitive = SymbolPrototypeValueOf(value);
  let base = '[' + kind;
  if (kind !== constructor) base += constructor === null ? ' (null prototype)' : ' (' + constructor + ')';
  base += ': ' + formatPrimitive(newInspectContext(0), primitive) + ']';
  if (tag !== '' && tag !== constructor) base += ' [' + tag + ']';
  return base;
}

function moreItems(remaining) {
  return '... ' + remaining + ' more item' + (remaining > 1 ? 's' : '');
}

function formatArray(ctx, value, recurseTimes) {
  const valLen = value.length;
  const len = MathMin(100, valLen);
  const output = [];
  for (let i = 0; i < len; i++) {
    if (ctx.emitted > FORMAT_LIMIT) { output[output.length] = '...'; return output; }
    if (!ObjectPrototypeHasOwnProperty(value, i)) return formatSpecialArray(ctx, value, recurseTimes, len, output, i);
    output[output.length] = formatProperty(ctx, value, recurseTimes, i, kArrayType);
  }
  if (valLen - len > 0) output[output.length] = moreItems(valLen - len);
  return output;
}

// Arrays with holes: runs of missing indices are shown as "<n empty items>".
function formatSpecialArray(ctx, value, recurseTimes, maxLength, output, i) {
  const keys = ObjectKeys(value);
  let index = i;
  for (; i < keys.length && output.length < maxLength; i++) {
    const key = keys[i];
    const tmp = +key;
    if (tmp > 4294967294) break;
    if ('' + index !== key) {
      if (!RegExpPrototypeTest(numberRegExp, key)) break;
      const emptyItems = tmp - index;
      output[output.length] = '<' + emptyItems + ' empty item' + (emptyItems > 1 ? 's' : '') + '>';
      index = tmp;
      if (output.length === maxLength) break;
    }
    output[output.length] = formatProperty(ctx, value, recurseTimes, key, kArrayType);
    index++;
  }
  const remaining = value.length - index;
  if (output.length !== maxLength) {
    if (remaining > 0) output[output.length] = '<' + remaining + ' empty item' + (remaining > 1 ? 's' : '') + '>';
  } else if (remaining > 0) {
    output[output.length] = moreItems(remaining);
  }
  return output;
}

function formatTypedArray(ctx, value, length) {
  const maxLength = MathMin(100, length);
  const output = [];
  for (let i = 0; i < maxLength; i++) {
    const element = value[i];
    output[i] = typeof element === 'bigint' ? element + 'n' : formatNumber(element);
    ctx.emitted += output[i].length;
  }
  if (length > maxLength) output[maxLength] = moreItems(length - maxLength);
  return output;
}

function formatArrayBuffer(ctx, value) {
  const bytes = new Uint8ArrayCtor(value);
  const shown = MathMin(100, bytes.length);
  let str = '';
  for (let i = 0; i < shown; i++) str += (i === 0 ? '' : ' ') + hex2(bytes[i]);
  if (bytes.length > shown) {
    const remaining = bytes.length - shown;
    str += ' ... ' + remaining + ' more byte' + (remaining > 1 ? 's' : '');
  }
  ctx.emitted += str.length;
  return ['[Uint8Contents]: <' + str + '>'];
}

function formatSet(ctx, value, recurseTimes) {
  const items = [];
  SetPrototypeForEach(value, (v) => { items[items.length] = v; });
  const shown = MathMin(100, items.length);
  const output = [];
  ctx.indentationLvl += 2;
  for (let i = 0; i < shown; i++) {
    if (ctx.emitted > FORMAT_LIMIT) { output[output.length] = '...'; break; }
    output[output.length] = formatValue(ctx, items[i], recurseTimes, undefined);
  }
  if (items.length > shown) output[output.length] = moreItems(items.length - shown);
  ctx.indentationLvl -= 2;
  return output;
}

function formatMap(ctx, value, recurseTimes) {
  const keys = [];
  const values = [];
  MapPrototypeForEach(value, (v, k) => { keys[keys.length] = k; values[values.length] = v; });
  const shown = MathMin(100, keys.length);
  const output = [];
  ctx.indentationLvl += 2;
  for (let i = 0; i < shown; i++) {
    if (ctx.emitted > FORMAT_LIMIT) { output[output.length] = '...'; break; }
    output[output.length] = formatValue(ctx, keys[i], recurseTimes, undefined) + ' => ' + formatValue(ctx, values[i], recurseTimes, undefined);
  }
  if (keys.length > shown) output[output.length] = moreItems(keys.length - shown);
  ctx.indentationLvl -= 2;
  return output;
}

function formatSearchParams(ctx, value, recurseTimes) {
  const list = searchParamsList(value);
  const output = [];
  ctx.indentationLvl += 2;
  for (let i = 0; i < list.length; i++) {
    if (ctx.emitted > FORMAT_LIMIT) { output[output.length] = '...'; break; }
    output[output.length] = formatPrimitive(ctx, list[i][0]) + ' => ' + formatPrimitive(ctx, list[i][1]);
  }
  ctx.indentationLvl -= 2;
  return output;
}

function formatURL(ctx, value, recurseTimes) {
  const output = [];
  const fields = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'searchParams', 'hash'];
  for (let i = 0; i < fields.length; i++) {
    ctx.indentationLvl += 2;
    const shown = formatValue(ctx, value[fields[i]], recurseTimes, undefined);
    ctx.indentationLvl -= 2;
    output[i] = fields[i] + ': ' + shown;
  }
  return output;
}

function formatProperty(ctx, value, recurseTimes, key, type) {
  let desc = ObjectGetOwnPropertyDescriptor(value, key);
  if (desc === undefined) desc = { __proto__: null, value: value[key], enumerable: true };
  let str;
  if (desc.value !== undefined) {
    ctx.indentationLvl += 2;
    str = formatValue(ctx, desc.value, recurseTimes, undefined);
    ctx.indentationLvl -= 2;
  } else if (desc.get !== undefined) {
    str = desc.set !== undefined ? '[Getter/Setter]' : '[Getter]';
  } else if (desc.set !== undefined) {
    str = '[Setter]';
  } else {
    str = 'undefined';
  }
  if (type === kArrayType) return str;
  let name;
  if (typeof key === 'symbol') {
    name = '[' + StringPrototypeReplace(SymbolPrototypeToString(key), escapeReplaceRegExp, escapeFn) + ']';
  } else if (desc.enumerable === false) {
    name = '[' + StringPrototypeReplace(key, escapeReplaceRegExp, escapeFn) + ']';
  } else if (RegExpPrototypeTest(keyStrRegExp, key)) {
    name = key;
  } else {
    name = strEscape(key);
  }
  ctx.emitted += name.length;
  return name + ': ' + str;
}

function getCtxStyle(constructor, tag) {
  return getPrefix(constructor, tag, 'Object');
}

function formatRaw(ctx, value, recurseTimes, typedArray) {
  let keys;
  const constructor = getConstructorName(value);
  let tag = value[SymbolToStringTag];
  if (typeof tag !== 'string' || (tag !== '' && ObjectPrototypePropertyIsEnumerable(value, SymbolToStringTag))) tag = '';
  let base = '';
  let formatter = null;
  let braces;
  let extrasType = kObjectType;
  let taLength = 0;

  const taName = typedArrayName(value);
  if (ArrayIsArray(value)) {
    keys = getNonIndexKeys(value);
    const prefix = constructor !== 'Array' || tag !== '' ? getPrefix(constructor, tag, 'Array', '(' + value.length + ')') : '';
    braces = [prefix + '[', ']'];
    if (value.length === 0 && keys.length === 0) return braces[0] + ']';
    extrasType = kArrayExtrasType;
    formatter = formatArray;
  } else if (isSet(value)) {
    keys = getKeys(value);
    const size = SetPrototypeGetSize(value);
    const prefix = getPrefix(constructor, tag, 'Set', '(' + size + ')');
    if (size === 0 && keys.length === 0) return prefix + '{}';
    braces = [prefix + '{', '}'];
    formatter = formatSet;
  } else if (isMap(value)) {
    keys = getKeys(value);
    const size = MapPrototypeGetSize(value);
    const prefix = getPrefix(constructor, tag, 'Map', '(' + size + ')');
    if (size === 0 && keys.length === 0) return prefix + '{}';
    braces = [prefix + '{', '}'];
    formatter = formatMap;
  } else if (taName !== undefined) {
    keys = getNonIndexKeys(value);
    taLength = TypedArrayPrototypeGetLength(value);
    const prefix = getPrefix(constructor, tag, taName, '(' + taLength + ')');
    braces = [prefix + '[', ']'];
    if (taLength === 0 && keys.length === 0) return braces[0] + ']';
    formatter = (c, v) => formatTypedArray(c, v, taLength);
    extrasType = kArrayExtrasType;
  } else if (isURLObject(value)) {
    keys = getKeys(value);
    braces = [getPrefix(constructor, tag, 'URL') + '{', '}'];
    formatter = formatURL;
  } else if (isSearchParams(value)) {
    keys = getKeys(value);
    const prefix = getPrefix(constructor, tag, 'URLSearchParams');
    if (searchParamsList(value).length === 0 && keys.length === 0) return prefix + '{}';
    braces = [prefix + '{', '}'];
    formatter = formatSearchParams;
  } else {
    keys = getKeys(value);
    braces = ['{', '}'];
    if (constructor === 'Object' && typeof value !== 'function' && !isError(value) && boxedKind(value) === '' &&
        !isDate(value) && !isRegExp(value) && !isArrayBuffer(value) && !isDataView(value)) {
      if (tag !== '') braces[0] = getPrefix(constructor, tag, 'Object') + '{';
      if (keys.length === 0) return braces[0] + '}';
    } else if (typeof value === 'function') {
      base = getFunctionBase(value, constructor, tag);
      if (keys.length === 0) return base;
    } else if (isRegExp(value)) {
      base = RegExpPrototypeToString(constructor !== null ? value : new RegExpCtor(value));
      const prefix = getPrefix(constructor, tag, 'RegExp');
      if (prefix !== 'RegExp ') base = prefix + base;
      if (keys.length === 0 || recurseTimes > ctx.depth) return base;
    } else if (isDate(value)) {
      base = NumberIsNaN(DatePrototypeGetTime(value)) ? DatePrototypeToString(value) : DatePrototypeToISOString(value);
      const prefix = getPrefix(constructor, tag, 'Date');
      if (prefix !== 'Date ') base = prefix + base;
      if (keys.length === 0) return base;
    } else if (isError(value)) {
      base = formatError(value, constructor, tag, ctx, keys);
      if (keys.length === 0) return base;
    } else if (isArrayBuffer(value) || isSharedArrayBuffer(value)) {
      const arrayType = isArrayBuffer(value) ? 'ArrayBuffer' : 'SharedArrayBuffer';
      const prefix = getPrefix(constructor, tag, arrayType);
      if (typedArray === undefined) {
        formatter = formatArrayBuffer;
      } else if (keys.length === 0) {
        const byteLength = arrayType === 'ArrayBuffer' ? ArrayBufferPrototypeGetByteLength(value) : SharedArrayBufferPrototypeGetByteLength(value);
        return prefix + '{ byteLength: ' + formatNumber(byteLength) + ' }';
      }
      braces[0] = prefix + '{';
      ArrayPrototypeUnshift(keys, 'byteLength');
    } else if (isDataView(value)) {
      braces[0] = getPrefix(constructor, tag, 'DataView') + '{';
      ArrayPrototypeUnshift(keys, 'byteLength', 'byteOffset', 'buffer');
    } else if (ObjectPrototypeToString(value) === '[object Promise]') {
      braces[0] = getPrefix(constructor, tag, 'Promise') + '{';
      formatter = () => ['<unknown>'];
    } else if (isWeakSet(value)) {
      braces[0] = getPrefix(constructor, tag, 'WeakSet') + '{';
      formatter = () => ['<items unknown>'];
    } else if (isWeakMap(value)) {
      braces[0] = getPrefix(constructor, tag, 'WeakMap') + '{';
      formatter = () => ['<items unknown>'];
    } else {
      const kind = boxedKind(value);
      if (kind !== '') {
        base = getBoxedBase(value, kind, keys, constructor, tag, ctx);
        if (keys.length === 0) return base;
      } else {
        if (keys.length === 0) return getCtxStyle(constructor, tag) + '{}';
        braces[0] = getCtxStyle(constructor, tag) + '{';
      }
    }
  }

  if (recurseTimes > ctx.depth) {
    let constructorName = StringPrototypeSlice(getCtxStyle(constructor, tag), 0, -1);
    if (constructor !== null) constructorName = '[' + constructorName + ']';
    return constructorName;
  }
  recurseTimes += 1;
  ctx.seen[ctx.seen.length] = value;
  ctx.currentDepth = recurseTimes;
  let output;
  const indentationLvl = ctx.indentationLvl;
  try {
    output = formatter === null ? [] : formatter(ctx, value, recurseTimes);
    for (let i = 0; i < keys.length; i++) {
      if (ctx.emitted > FORMAT_LIMIT) { output[output.length] = '...'; break; }
      output[output.length] = formatProperty(ctx, value, recurseTimes, keys[i], extrasType);
    }
  } catch (err) {
    if (err instanceof RangeErrorCtor && StringPrototypeIncludes(StringCtor(err.message), 'call stack')) {
      ArrayPrototypePop(ctx.seen);
      ctx.indentationLvl = indentationLvl;
      return '[' + StringPrototypeSlice(getCtxStyle(constructor, tag), 0, -1) +
        ': Inspection interrupted prematurely. Maximum call stack size exceeded.]';
    }
    throw err;
  }
  if (ctx.circular !== undefined) {
    const index = MapPrototypeGet(ctx.circular, value);
    if (index !== undefined) {
      const reference = '<ref *' + index + '>';
      base = base === '' ? reference : reference + ' ' + base;
    }
  }
  ArrayPrototypePop(ctx.seen);
  return reduceToSingleString(ctx, output, base, braces, extrasType, recurseTimes, value);
}

function isBelowBreakLength(output, start, base) {
  let totalLength = output.length + start;
  if (totalLength + output.length > 80) return false;
  for (let i = 0; i < output.length; i++) {
    totalLength += output[i].length;
    if (totalLength > 80) return false;
  }
  return base === '' || !StringPrototypeIncludes(base, '\n');
}

function reduceToSingleString(ctx, output, base, braces, extrasType, recurseTimes, value) {
  const entries = output.length;
  if (extrasType === kArrayExtrasType && entries > 6) output = groupArrayElements(ctx, output, value);
  if (ctx.currentDepth - recurseTimes < 3 && entries === output.length) {
    const start = output.length + ctx.indentationLvl + braces[0].length + base.length + 10;
    if (isBelowBreakLength(output, start, base)) {
      const joined = ArrayPrototypeJoin(output, ', ');
      if (!StringPrototypeIncludes(joined, '\n')) {
        return (base ? base + ' ' : '') + braces[0] + ' ' + joined + ' ' + braces[1];
      }
    }
  }
  const indentation = '\n' + StringPrototypeRepeat(' ', ctx.indentationLvl);
  return (base ? base + ' ' : '') + braces[0] + indentation + '  ' +
    ArrayPrototypeJoin(output, ',' + indentation + '  ') + indentation + braces[1];
}

// Lines up many short array entries in columns, as Node does.
function groupArrayElements(ctx, output, value) {
  let totalLength = 0;
  let maxLength = 0;
  let outputLength = output.length;
  if (outputLength > 0 && StringPrototypeStartsWith(output[outputLength - 1], '... ') &&
      StringPrototypeIncludes(output[outputLength - 1], ' more item')) {
    outputLength--;
  }
  const separatorSpace = 2;
  const dataLen = [];
  for (let i = 0; i < outputLength; i++) {
    const len = output[i].length;
    dataLen[i] = len;
    totalLength += len + separatorSpace;
    if (maxLength < len) maxLength = len;
  }
  const actualMax = maxLength + separatorSpace;
  if (actualMax * 3 + ctx.indentationLvl < 80 && (totalLength / actualMax > 5 || maxLength <= 6)) {
    const averageBias = MathSqrt(actualMax - totalLength / output.length);
    const biasedMax = MathMax(actualMax - 3 - averageBias, 1);
    const columns = MathMin(
      MathRound(MathSqrt(2.5 * biasedMax * outputLength) / biasedMax),
      MathFloor((80 - ctx.indentationLvl) / actualMax),
      3 * 4,
      15,
    );
    if (columns <= 1) return output;
    const tmp = [];
    const maxLineLength = [];
    for (let i = 0; i < columns; i++) {
      let lineLength = 0;
      for (let j = i; j < output.length; j += columns) {
        if (dataLen[j] > lineLength) lineLength = dataLen[j];
      }
      maxLineLength[maxLineLength.length] = lineLength + separatorSpace;
    }
    let padStart = true;
    if (value !== undefined) {
      for (let i = 0; i < output.length; i++) {
        const element = value[i];
        if (typeof element !== 'number' && typeof element !== 'bigint') { padStart = false; break; }
      }
    }
    for (let i = 0; i < outputLength; i += columns) {
      const max = MathMin(i + columns, outputLength);
      let str = '';
      let j = i;
      for (; j < max - 1; j++) {
        const padding = maxLineLength[j - i];
        str += padStart ? StringPrototypePadStart(output[j] + ', ', padding, ' ') : StringPrototypePadEnd(output[j] + ', ', padding, ' ');
      }
      if (padStart) {
        str += StringPrototypePadStart(output[j], maxLineLength[j - i] - separatorSpace, ' ');
      } else {
        str += output[j];
      }
      tmp[tmp.length] = str;
    }
    if (outputLength < output.length) tmp[tmp.length] = output[outputLength];
    output = tmp;
  }
  return output;
}

// %s: user-defined toString wins; built-in objects are inspected shallowly.
function hasBuiltInToString(value) {
  if (typeof value.toString !== 'function') return true;
  if (ObjectPrototypeHasOwnProperty(value, 'toString')) return false;
  let pointer = value;
  do {
    pointer = ObjectGetPrototypeOf(pointer);
  } while (pointer !== null && !ObjectPrototypeHasOwnProperty(pointer, 'toString'));
  if (pointer === null) return true;
  const desc = ObjectGetOwnPropertyDescriptor(pointer, 'constructor');
  return desc !== undefined && typeof desc.value === 'function' && isBuiltinConstructorName(desc.value.name);
}

function tryStringify(arg) {
  try {
    return JSONStringify(arg);
  } catch (err) {
    if (err instanceof TypeErrorCtor && StringPrototypeIncludes(StringCtor(err.message), 'circular')) return '[Circular]';
    throw err;
  }
}

function formatArgs(args) {
  const first = args[0];
  let a = 0;
  let str = '';
  let join = '';
  if (typeof first === 'string') {
    if (args.length === 1) return first;
    let tempStr;
    let lastPos = 0;
    for (let i = 0; i < first.length - 1; i++) {
      if (StringPrototypeCharCodeAt(first, i) === 37) { // '%'
        const nextChar = StringPrototypeCharCodeAt(first, ++i);
        if (a + 1 !== args.length) {
          switch (nextChar) {
            case 115: { // 's'
              const tempArg = args[++a];
              if (typeof tempArg === 'number') tempStr = formatNumber(tempArg);
              else if (typeof tempArg === 'bigint') tempStr = tempArg + 'n';
              else if (typeof tempArg !== 'object' || tempArg === null || !hasBuiltInToString(tempArg)) tempStr = StringCtor(tempArg);
              else tempStr = inspectValue(tempArg, 0);
              break;
            }
            case 106: // 'j'
              tempStr = tryStringify(args[++a]);
              break;
            case 100: { // 'd'
              const tempNum = args[++a];
              if (typeof tempNum === 'bigint') tempStr = tempNum + 'n';
              else if (typeof tempNum === 'symbol') tempStr = 'NaN';
              else tempStr = formatNumber(NumberCtor(tempNum));
              break;
            }
            case 79: // 'O'
              tempStr = inspectValue(args[++a], 2);
              break;
            case 111: // 'o'
              tempStr = inspectValue(args[++a], 4);
              break;
            case 105: { // 'i'
              const tempInteger = args[++a];
              if (typeof tempInteger === 'bigint') tempStr = tempInteger + 'n';
              else if (typeof tempInteger === 'symbol') tempStr = 'NaN';
              else tempStr = formatNumber(NumberParseInt(tempInteger));
              break;
            }
            case 102: { // 'f'
              const tempFloat = args[++a];
              tempStr = typeof tempFloat === 'symbol' ? 'NaN' : formatNumber(NumberParseFloat(tempFloat));
              break;
            }
            case 99: // 'c'
              a += 1;
              tempStr = '';
              break;
            case 37: // '%'
              str += StringPrototypeSlice(first, lastPos, i);
              lastPos = i + 1;
              continue;
            default:
              continue;
          }
          if (lastPos !== i - 1) str += StringPrototypeSlice(first, lastPos, i - 1);
          str += tempStr;
          lastPos = i + 1;
        } else if (nextChar === 37) {
          str += StringPrototypeSlice(first, lastPos, i);
          lastPos = i + 1;
        }
      }
    }
    if (lastPos !== 0) {
      a++;
      join = ' ';
      if (lastPos < first.length) str += StringPrototypeSlice(first, lastPos);
    }
  }
  while (a < args.length) {
    const value = args[a];
    str += join;
    str += typeof value !== 'string' ? inspectValue(value, 2) : value;
    join = ' ';
    a++;
    if (str.length > FORMAT_LIMIT) break;
  }
  return str;
}

function sbFormat(args) {
  let out;
  try {
    out = formatArgs(ArrayIsArray(args) ? args : [args]);
  } catch (err) {
    let reason;
    try { reason = StringCtor(err && err.message); } catch { reason = 'unknown error'; }
    out = '[console: arguments could not be formatted: ' + reason + ']';
  }
  if (out.length > FORMAT_LIMIT) {
    out = StringPrototypeSlice(out, 0, FORMAT_LIMIT) + '... [truncated]';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Globals
// ---------------------------------------------------------------------------------------------
defineGlobal('TextEncoder', TextEncoder);
defineGlobal('TextDecoder', TextDecoder);
defineGlobal('URL', URL);
defineGlobal('URLSearchParams', URLSearchParams);
defineGlobal('atob', atob);
defineGlobal('btoa', btoa);
defineGlobal('structuredClone', structuredClone);
defineGlobal('queueMicrotask', queueMicrotask);
defineGlobal('crypto', crypto);
defineGlobal('__sb_format', sbFormat);
})();
`;

// Host side of the hooks -----------------------------------------------------------------------

interface UrlComponents {
  href: string;
  origin: string;
  protocol: string;
  username: string;
  password: string;
  host: string;
  hostname: string;
  port: string;
  pathname: string;
  search: string;
  hash: string;
}

/**
 * The urlParse hook: parses with Node's WHATWG URL and returns the components as JSON, or null when
 * the input (resolved against base, if given) is not a valid URL or either string exceeds 64 KiB.
 */
export function hostUrlParse(input: string, base?: string): string | null {
  if (typeof input !== 'string' || input.length > MAX_URL_INPUT_LENGTH) return null;
  if (base !== undefined && (typeof base !== 'string' || base.length > MAX_URL_INPUT_LENGTH)) return null;
  let url: URL;
  try {
    url = base === undefined ? new URL(input) : new URL(input, base);
  } catch {
    return null;
  }
  const components: UrlComponents = {
    href: url.href,
    origin: url.origin,
    protocol: url.protocol,
    username: url.username,
    password: url.password,
    host: url.host,
    hostname: url.hostname,
    port: url.port,
    pathname: url.pathname,
    search: url.search,
    hash: url.hash,
  };
  return JSON.stringify(components);
}

/** The randomFill hook's host half: `length` fresh random bytes (at most 64 KiB per call). */
export function hostRandomBytes(length: number): Uint8Array {
  if (typeof length !== 'number' || !Number.isInteger(length) || length < 0 || length > RANDOM_CHUNK) {
    throw fail('CAPABILITY_ERROR', 'sandbox runtime: random byte count must be an integer from 0 to 65536');
  }
  const bytes = new Uint8Array(length);
  randomFillSync(bytes);
  return bytes;
}

const HOST_OP_URL_PARSE = 0;
const HOST_OP_RANDOM = 1;

// One multiplexed callback keeps installation to a single global handed across the boundary.
function hostCall(op: unknown, a: unknown, b: unknown): string | Uint8Array | null {
  if (op === HOST_OP_URL_PARSE) {
    if (typeof a !== 'string' || (b !== undefined && typeof b !== 'string')) return null;
    return hostUrlParse(a, b);
  }
  if (op === HOST_OP_RANDOM) return hostRandomBytes(a as number);
  throw fail('CAPABILITY_ERROR', 'sandbox runtime: unknown host operation');
}

const HOST_GLOBAL = '__sb_host';

// Builds __sb_hooks from the one host callback, then removes the callback's global. Runs in the
// same script as RUNTIME_SOURCE, so no capability code can observe either temporary global.
const BOOT_SOURCE = String.raw`(function () {
  'use strict';
  const host = globalThis.${HOST_GLOBAL};
  delete globalThis.${HOST_GLOBAL};
  const call = Function.prototype.call;
  const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
  const set = call.bind(TypedArrayPrototype.set);
  const byteLength = call.bind(Object.getOwnPropertyDescriptor(TypedArrayPrototype, 'byteLength').get);
  const MathMin = Math.min;
  globalThis.__sb_hooks = {
    urlParse(input, base) { return host(${HOST_OP_URL_PARSE}, input, base); },
    randomFill(bytes) {
      const length = byteLength(bytes);
      for (let offset = 0; offset < length; offset += ${RANDOM_CHUNK}) {
        set(bytes, host(${HOST_OP_RANDOM}, MathMin(${RANDOM_CHUNK}, length - offset)), offset);
      }
    },
  };
})();
`;

// The memory guards go last: they wrap constructors the runtime has already captured.
const INSTALL_SOURCE = BOOT_SOURCE + RUNTIME_SOURCE + MEMORY_GUARDS_SOURCE;
const INSTALL_FILENAME = 'substrate:runtime';

// Created once: a Callback is a host-side handle that can be handed to any number of contexts.
const hostCallback = new ivm.Callback(hostCall);

type CompiledScript = ivm.Script & { cachedData?: ivm.ExternalCopy<ArrayBuffer>; cachedDataRejected?: boolean };

// Compiled once per isolate: running the compiled script in another context of the same isolate
// costs a fraction of a millisecond.
const compiledInstall = new WeakMap<ivm.Isolate, ivm.Script>();
// V8 code cache of INSTALL_SOURCE, produced by the first compilation in this process. It makes the
// compilation in each new isolate several times cheaper. It only ever holds our own source's code.
let installCodeCache: ivm.ExternalCopy<ArrayBuffer> | undefined;

function installScript(isolate: ivm.Isolate): ivm.Script {
  let script = compiledInstall.get(isolate);
  if (script === undefined) {
    const cache = installCodeCache;
    const compiled = isolate.compileScriptSync(INSTALL_SOURCE, cache === undefined
      ? { filename: INSTALL_FILENAME, produceCachedData: true }
      : { filename: INSTALL_FILENAME, cachedData: cache }) as CompiledScript;
    if (cache === undefined) installCodeCache = compiled.cachedData;
    else if (compiled.cachedDataRejected === true) installCodeCache = undefined;
    script = compiled;
    compiledInstall.set(isolate, script);
  }
  return script;
}

/**
 * Installs the runtime globals into a fresh context. Pass the context's isolate to reuse one
 * compiled script per isolate (faster); without it the source is evaluated (V8's compilation cache
 * still helps). Afterwards only `__sb_format` remains as a temporary global.
 */
export async function installRuntime(context: ivm.Context, isolate?: ivm.Isolate): Promise<void> {
  await context.global.set(HOST_GLOBAL, hostCallback);
  try {
    if (isolate !== undefined) await installScript(isolate).run(context);
    else await context.eval(INSTALL_SOURCE, { filename: INSTALL_FILENAME });
  } catch (err) {
    await removeHostGlobal(context, false);
    throw err;
  }
}

/**
 * Same as installRuntime, with synchronous isolate calls: about ten times faster for a fresh
 * context, but it blocks the Node thread while the isolate is busy elsewhere, so use it only on an
 * isolate that is not running anything.
 */
export function installRuntimeSync(context: ivm.Context, isolate?: ivm.Isolate): void {
  context.global.setSync(HOST_GLOBAL, hostCallback);
  try {
    if (isolate !== undefined) installScript(isolate).runSync(context);
    else context.evalSync(INSTALL_SOURCE, { filename: INSTALL_FILENAME });
  } catch (err) {
    void removeHostGlobal(context, true);
    throw err;
  }
}

async function removeHostGlobal(context: ivm.Context, sync: boolean): Promise<void> {
  try {
    if (sync) context.global.deleteSync(HOST_GLOBAL);
    else await context.global.delete(HOST_GLOBAL);
  } catch {
    // The context is unusable anyway; the caller gets the original error.
  }
}
