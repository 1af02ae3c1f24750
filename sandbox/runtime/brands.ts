// Brand checks: what kind of built-in a value really is, by calling a built-in getter or method
// that throws for any other receiver (never @@toStringTag or instanceof: both are forgeable), and
// the registry through which URLSearchParams and URL make their own brands known to inspect.ts.
// Also the hex helpers several globals share.
import { ObjectPrototype, ObjectPrototypeToString, StringPrototypeValueOf, RegExpCtor, RegExpPrototypeGetSource, NumberPrototypeValueOf, BooleanPrototypeValueOf, BigIntPrototypeValueOf, SymbolPrototypeValueOf, MapPrototypeGetSize, SetPrototypeGetSize, WeakMapPrototypeHas, WeakSetPrototypeHas, DatePrototypeGetTime, ArrayBufferIsView, ArrayBufferPrototypeGetByteLength, SharedArrayBufferPrototypeGetByteLength, TypedArrayPrototypeGetSymbolToStringTag, TypedArrayPrototypeGetBuffer, TypedArrayPrototypeGetByteOffset, TypedArrayPrototypeGetByteLength, Uint8ArrayCtor, DataViewPrototypeGetBuffer, DataViewPrototypeGetByteOffset, DataViewPrototypeGetByteLength } from './primordials.ts';

export function typedArrayName(v) {
  // The getter returns undefined (without throwing) for anything that is not a typed array.
  return TypedArrayPrototypeGetSymbolToStringTag(v);
}
export function isArrayBuffer(v) {
  try { ArrayBufferPrototypeGetByteLength(v); return true; } catch { return false; }
}
export function isSharedArrayBuffer(v) {
  if (SharedArrayBufferPrototypeGetByteLength === undefined) return false;
  try { SharedArrayBufferPrototypeGetByteLength(v); return true; } catch { return false; }
}
export function isDataView(v) {
  try { DataViewPrototypeGetByteLength(v); return true; } catch { return false; }
}
export function isDate(v) {
  try { DatePrototypeGetTime(v); return true; } catch { return false; }
}
export function isRegExp(v) {
  if (v === RegExpCtor.prototype) return false;
  try { RegExpPrototypeGetSource(v); return true; } catch { return false; }
}
export function isMap(v) {
  try { MapPrototypeGetSize(v); return true; } catch { return false; }
}
export function isSet(v) {
  try { SetPrototypeGetSize(v); return true; } catch { return false; }
}
export function isWeakMap(v) {
  try { WeakMapPrototypeHas(v, ObjectPrototype); return true; } catch { return false; }
}
export function isWeakSet(v) {
  try { WeakSetPrototypeHas(v, ObjectPrototype); return true; } catch { return false; }
}
export function isError(v) {
  return ObjectPrototypeToString(v) === '[object Error]';
}
export function boxedKind(v) {
  try { NumberPrototypeValueOf(v); return 'Number'; } catch {}
  try { StringPrototypeValueOf(v); return 'String'; } catch {}
  try { BooleanPrototypeValueOf(v); return 'Boolean'; } catch {}
  try { BigIntPrototypeValueOf(v); return 'BigInt'; } catch {}
  try { SymbolPrototypeValueOf(v); return 'Symbol'; } catch {}
  return '';
}

// Bytes of any ArrayBuffer, SharedArrayBuffer or view, or undefined.
export function viewBytes(v) {
  if (ArrayBufferIsView(v)) {
    if (typedArrayName(v) !== undefined) {
      return new Uint8ArrayCtor(TypedArrayPrototypeGetBuffer(v), TypedArrayPrototypeGetByteOffset(v), TypedArrayPrototypeGetByteLength(v));
    }
    return new Uint8ArrayCtor(DataViewPrototypeGetBuffer(v), DataViewPrototypeGetByteOffset(v), DataViewPrototypeGetByteLength(v));
  }
  if (isArrayBuffer(v) || isSharedArrayBuffer(v)) return new Uint8ArrayCtor(v);
  return undefined;
}


export const HEX_DIGITS = '0123456789abcdef';
export const UPPER_HEX_DIGITS = '0123456789ABCDEF';
export function hex2(b) {
  return HEX_DIGITS[b >> 4] + HEX_DIGITS[b & 15];
}
export function percentByte(b) {
  return '%' + UPPER_HEX_DIGITS[b >> 4] + UPPER_HEX_DIGITS[b & 15];
}

// URLSearchParams and URL register their brand checks here, from their classes' static blocks
// (where the private names are in scope), so that inspect.ts recognises them without importing
// them (and without an import cycle through describeReceived). Evaluated with the bundle, before
// capability code runs; capability code cannot reach the register functions.
export let isSearchParams: (v: unknown) => boolean = () => false;
export let searchParamsList: (params: unknown) => [string, string][] = () => [];
export let isURLObject: (v: unknown) => boolean = () => false;
export function registerSearchParamsBrand(is: (v: unknown) => boolean, list: (params: unknown) => [string, string][]): void {
  isSearchParams = is;
  searchParamsList = list;
}
export function registerURLBrand(is: (v: unknown) => boolean): void {
  isURLObject = is;
}
