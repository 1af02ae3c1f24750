// The crypto global: getRandomValues (bytes from the host's randomFill hook, in place, with Node's
// errors) and randomUUID (v4, from a pool refilled 256 bytes at a time).
import { hookRandomFill } from './hooks.ts';
import { ObjectDefineProperty, ObjectCreate, SymbolToStringTag, TypedArrayPrototypeGetBuffer, TypedArrayPrototypeGetByteOffset, TypedArrayPrototypeGetByteLength, Uint8ArrayCtor, INTEGER_TYPED_ARRAYS } from './primordials.ts';
import { typedArrayName, hex2 } from './brands.ts';
import { TypeMismatchError, QuotaExceededError } from './dom-errors.ts';

export const UUID_POOL_SIZE = 256;
export const uuidPool = new Uint8ArrayCtor(UUID_POOL_SIZE);
export let uuidPoolPos = UUID_POOL_SIZE;

export function getRandomValues(typedArray) {
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

export function randomUUID() {
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

export const cryptoProto = {
  getRandomValues(typedArray) { return getRandomValues(typedArray); },
  randomUUID() { return randomUUID(); },
};
ObjectDefineProperty(cryptoProto, SymbolToStringTag, { __proto__: null, value: 'Crypto', writable: false, enumerable: false, configurable: true });
export const crypto = ObjectCreate(cryptoProto);

