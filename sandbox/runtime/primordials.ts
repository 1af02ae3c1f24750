// Primordials: every built-in the runtime's globals rely on, captured when the bundle is evaluated,
// before capability code can tamper with prototypes (capability code may replace them afterwards;
// that can only break its own use of them). uncurryThis(fn)(self, ...args) === fn.call(self,
// ...args), through a bound function whose target cannot be changed later. Also the helpers that
// define the globals (defineGlobal, webIdlClass) and the constructor tables the globals share.

/** The global object of the context the bundle runs in (indexable: globals are looked up by name). */
export const G = globalThis as typeof globalThis & Record<string, unknown>;

/** A property descriptor as the runtime writes it: with a null prototype, so that a tampered
 *  Object.prototype (a `get` or `value` defined on it) cannot change what it describes. */
export type Descriptor = PropertyDescriptor & { __proto__?: null };

// Arguments are left unchecked (unknown): many built-ins are overloaded, and inference would keep
// only the last overload's parameters. The result type is the (last overload's) return type.
type Uncurried<F> = F extends (...args: never[]) => infer R ? (self: unknown, ...args: unknown[]) => R : never;

export const FunctionPrototypeCall = Function.prototype.call;
export const uncurryThis = Function.prototype.bind.bind(FunctionPrototypeCall) as
  <F extends (...args: never[]) => unknown>(fn: F) => Uncurried<F>;

/** The getter of an accessor property of `proto`, uncurried: getter(self) === self[name] for
 *  receivers of the right kind, a TypeError for others (the brand checks rely on that). */
function uncurryGetter<R>(proto: object, name: PropertyKey): (self: unknown) => R {
  return uncurryThis((Object.getOwnPropertyDescriptor(proto, name) as PropertyDescriptor).get as () => R);
}
export const ReflectApply = Reflect.apply;
export const ReflectOwnKeys = Reflect.ownKeys;
export const ObjectDefineProperty = Object.defineProperty as <T>(o: T, key: PropertyKey, desc: Descriptor) => T;
export const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
export const ObjectGetOwnPropertyNames = Object.getOwnPropertyNames;
export const ObjectGetOwnPropertySymbols = Object.getOwnPropertySymbols;
export const ObjectGetPrototypeOf = Object.getPrototypeOf;
export const ObjectSetPrototypeOf = Object.setPrototypeOf;
export const ObjectKeys = Object.keys;
export const ObjectCreate = Object.create;
export const ObjectIs = Object.is;
export const ObjectPrototype = Object.prototype;
export const ObjectPrototypeHasOwnProperty = uncurryThis(Object.prototype.hasOwnProperty);
export const ObjectPrototypePropertyIsEnumerable = uncurryThis(Object.prototype.propertyIsEnumerable);
export const ObjectPrototypeToString = uncurryThis(Object.prototype.toString);
export const FunctionPrototypeToString = uncurryThis(Function.prototype.toString);
export const ArrayIsArray = Array.isArray;
export const ArrayPrototypePop = uncurryThis(Array.prototype.pop);
export const ArrayPrototypeJoin = uncurryThis(Array.prototype.join);
export const ArrayPrototypeSplice = uncurryThis(Array.prototype.splice);
export const ArrayPrototypeSort = uncurryThis(Array.prototype.sort);
export const ArrayPrototypeIncludes = uncurryThis(Array.prototype.includes);
export const ArrayPrototypeIndexOf = uncurryThis(Array.prototype.indexOf);
export const ArrayPrototypeUnshift = uncurryThis(Array.prototype.unshift);
export const StringCtor = String;
export const StringFromCharCode = String.fromCharCode;
export const StringPrototypeCharCodeAt = uncurryThis(String.prototype.charCodeAt);
export const StringPrototypeSlice = uncurryThis(String.prototype.slice);
export const StringPrototypeIndexOf = uncurryThis(String.prototype.indexOf);
export const StringPrototypeIncludes = uncurryThis(String.prototype.includes);
export const StringPrototypeStartsWith = uncurryThis(String.prototype.startsWith);
export const StringPrototypeEndsWith = uncurryThis(String.prototype.endsWith);
export const StringPrototypeToLowerCase = uncurryThis(String.prototype.toLowerCase);
export const StringPrototypeRepeat = uncurryThis(String.prototype.repeat);
export const StringPrototypePadStart = uncurryThis(String.prototype.padStart);
export const StringPrototypePadEnd = uncurryThis(String.prototype.padEnd);
export const StringPrototypeSplit = uncurryThis(String.prototype.split);
export const StringPrototypeReplace = uncurryThis(String.prototype.replace);
export const StringPrototypeValueOf = uncurryThis(String.prototype.valueOf);
// ES2024 methods, absent from older V8 versions (and from the ES2022 lib this folder is checked with).
const StringPrototypeWithWellFormed = String.prototype as { isWellFormed?: (this: string) => boolean; toWellFormed?: (this: string) => string };
export const StringPrototypeIsWellFormed = StringPrototypeWithWellFormed.isWellFormed === undefined ? undefined : uncurryThis(StringPrototypeWithWellFormed.isWellFormed);
export const StringPrototypeToWellFormed = StringPrototypeWithWellFormed.toWellFormed === undefined ? undefined : uncurryThis(StringPrototypeWithWellFormed.toWellFormed);
export const RegExpCtor = RegExp;
export const RegExpPrototypeExec = uncurryThis(RegExp.prototype.exec);
export const RegExpPrototypeTest = uncurryThis(RegExp.prototype.test);
export const RegExpPrototypeToString = uncurryThis(RegExp.prototype.toString);
export const RegExpPrototypeGetSource = uncurryGetter<string>(RegExp.prototype, 'source');
export const RegExpPrototypeGetFlags = uncurryGetter<string>(RegExp.prototype, 'flags');
export const NumberCtor = Number;
export const NumberIsNaN = Number.isNaN;
export const NumberParseInt = Number.parseInt;
export const NumberParseFloat = Number.parseFloat;
export const NumberPrototypeValueOf = uncurryThis(Number.prototype.valueOf);
export const NumberPrototypeToString = uncurryThis(Number.prototype.toString);
export const BooleanPrototypeValueOf = uncurryThis(Boolean.prototype.valueOf);
export const BigIntPrototypeValueOf = uncurryThis(BigInt.prototype.valueOf);
export const SymbolIterator = Symbol.iterator;
export const SymbolToStringTag = Symbol.toStringTag;
export const SymbolFor = Symbol.for;
export const SymbolPrototypeToString = uncurryThis(Symbol.prototype.toString);
export const SymbolPrototypeValueOf = uncurryThis(Symbol.prototype.valueOf);
export const MathMin = Math.min;
export const MathMax = Math.max;
export const MathFloor = Math.floor;
export const MathRound = Math.round;
export const MathSqrt = Math.sqrt;
export const JSONParse = JSON.parse;
export const JSONStringify = JSON.stringify;
export const MapCtor = Map;
export const MapPrototypeGet = uncurryThis(Map.prototype.get);
export const MapPrototypeSet = uncurryThis(Map.prototype.set);
export const MapPrototypeForEach = uncurryThis(Map.prototype.forEach);
export const MapPrototypeGetSize = uncurryGetter<number>(Map.prototype, 'size');
export const SetCtor = Set;
export const SetPrototypeAdd = uncurryThis(Set.prototype.add);
export const SetPrototypeForEach = uncurryThis(Set.prototype.forEach);
export const SetPrototypeGetSize = uncurryGetter<number>(Set.prototype, 'size');
export const WeakMapPrototypeHas = uncurryThis(WeakMap.prototype.has);
export const WeakSetPrototypeHas = uncurryThis(WeakSet.prototype.has);
export const DateCtor = Date;
export const DatePrototypeGetTime = uncurryThis(Date.prototype.getTime);
export const DatePrototypeToISOString = uncurryThis(Date.prototype.toISOString);
export const DatePrototypeToString = uncurryThis(Date.prototype.toString);
export const ErrorCtor = Error;
export const ErrorPrototypeToString = uncurryThis(Error.prototype.toString);
export const PromiseCtor = Promise;
export const PromisePrototypeThen = uncurryThis(Promise.prototype.then);
export const ArrayBufferCtor = ArrayBuffer;
export const ArrayBufferIsView = ArrayBuffer.isView;
export const ArrayBufferPrototypeGetByteLength = uncurryGetter<number>(ArrayBuffer.prototype, 'byteLength');
export const SharedArrayBufferCtor = typeof SharedArrayBuffer === 'function' ? SharedArrayBuffer : undefined;
export const SharedArrayBufferPrototypeGetByteLength = SharedArrayBufferCtor === undefined ? undefined :
  uncurryGetter<number>(SharedArrayBufferCtor.prototype, 'byteLength');
// %TypedArray%, typed as its Uint8Array face: the methods taken from it are the same for every kind.
export const TypedArray = ObjectGetPrototypeOf(Uint8Array) as { prototype: Uint8Array };
export const TypedArrayPrototype = TypedArray.prototype;
export const TypedArrayPrototypeGetSymbolToStringTag = uncurryGetter<string | undefined>(TypedArrayPrototype, SymbolToStringTag);
export const TypedArrayPrototypeGetBuffer = uncurryGetter<ArrayBuffer>(TypedArrayPrototype, 'buffer');
export const TypedArrayPrototypeGetByteOffset = uncurryGetter<number>(TypedArrayPrototype, 'byteOffset');
export const TypedArrayPrototypeGetByteLength = uncurryGetter<number>(TypedArrayPrototype, 'byteLength');
export const TypedArrayPrototypeGetLength = uncurryGetter<number>(TypedArrayPrototype, 'length');
export const TypedArrayPrototypeSubarray = uncurryThis(TypedArrayPrototype.subarray);
export const TypedArrayPrototypeSet = uncurryThis(TypedArrayPrototype.set);
export const Uint8ArrayCtor = Uint8Array;
export const Uint16ArrayCtor = Uint16Array;
export const DataViewCtor = DataView;
export const DataViewPrototypeGetBuffer = uncurryGetter<ArrayBuffer>(DataView.prototype, 'buffer');
export const DataViewPrototypeGetByteOffset = uncurryGetter<number>(DataView.prototype, 'byteOffset');
export const DataViewPrototypeGetByteLength = uncurryGetter<number>(DataView.prototype, 'byteLength');
export const TypeErrorCtor = TypeError;
export const RangeErrorCtor = RangeError;
export const IteratorPrototype = ObjectGetPrototypeOf(ObjectGetPrototypeOf([][SymbolIterator]()));
export const AsyncFunctionPrototype = ObjectGetPrototypeOf(async function () {});
export const GeneratorFunctionPrototype = ObjectGetPrototypeOf(function* () {});
export const AsyncGeneratorFunctionPrototype = ObjectGetPrototypeOf(async function* () {});

export const TYPED_ARRAY_CTORS = { __proto__: null,
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
};
export const INTEGER_TYPED_ARRAYS = { __proto__: null,
  Int8Array: true, Uint8Array: true, Uint8ClampedArray: true, Int16Array: true, Uint16Array: true,
  Int32Array: true, Uint32Array: true, BigInt64Array: true, BigUint64Array: true,
};
export const ERROR_CTORS = { __proto__: null,
  Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError,
};

export function defineGlobal(name: string, value: unknown): void {
  ObjectDefineProperty(G, name, { __proto__: null, value, writable: true, enumerable: false, configurable: true });
}

// Web IDL interfaces expose their operations and attributes as enumerable prototype members and a
// non-writable @@toStringTag; classes define them non-enumerable, so this patches them up.
export function webIdlClass(cls: { prototype: object }, tag: string): void {
  const proto = cls.prototype;
  const names = ObjectGetOwnPropertyNames(proto);
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (name === 'constructor') continue;
    const desc = ObjectGetOwnPropertyDescriptor(proto, name) as PropertyDescriptor;
    desc.enumerable = true;
    ObjectDefineProperty(proto, name, desc);
  }
  ObjectDefineProperty(proto, SymbolToStringTag, { __proto__: null, value: tag, writable: false, enumerable: false, configurable: true });
}

/** A writable, configurable data property of `value`. */
export function dataProperty(value: unknown, enumerable: boolean): Descriptor {
  return { __proto__: null, value, writable: true, enumerable, configurable: true };
}
