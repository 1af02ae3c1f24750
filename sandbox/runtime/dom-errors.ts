// DOMException-like errors (InvalidCharacterError, TypeMismatchError, QuotaExceededError,
// DataCloneError) with Node's names and codes. No DOMException global is exposed (the contract does
// not list one).
import { ObjectDefineProperty, ErrorCtor } from './primordials.ts';

export function domErrorClass(name, code) {
  const cls = ({ [name]: class extends ErrorCtor {} })[name];
  ObjectDefineProperty(cls.prototype, 'name', { __proto__: null, value: name, writable: true, enumerable: false, configurable: true });
  ObjectDefineProperty(cls.prototype, 'code', { __proto__: null, value: code, writable: true, enumerable: false, configurable: true });
  return cls;
}
export const InvalidCharacterError = domErrorClass('InvalidCharacterError', 5);
export const TypeMismatchError = domErrorClass('TypeMismatchError', 17);
export const QuotaExceededError = domErrorClass('QuotaExceededError', 22);
export const DataCloneError = domErrorClass('DataCloneError', 25);

