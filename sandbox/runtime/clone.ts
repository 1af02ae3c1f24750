// The structuredClone global: HTML structured serialize + deserialize in one pass, with Node's
// DataCloneError for what cannot be cloned. Buffers are copied, never detached.
import { dataProperty, ObjectDefineProperty, ObjectGetOwnPropertyDescriptor, ObjectKeys, ObjectPrototypeToString, FunctionPrototypeToString, ArrayIsArray, StringCtor, StringPrototypeSlice, StringPrototypeValueOf, RegExpCtor, RegExpPrototypeGetSource, RegExpPrototypeGetFlags, NumberPrototypeValueOf, BooleanPrototypeValueOf, BigIntPrototypeValueOf, SymbolPrototypeToString, MapCtor, MapPrototypeGet, MapPrototypeSet, MapPrototypeForEach, SetCtor, SetPrototypeAdd, SetPrototypeForEach, DateCtor, DatePrototypeGetTime, ArrayBufferCtor, ArrayBufferIsView, ArrayBufferPrototypeGetByteLength, TypedArrayPrototypeGetBuffer, TypedArrayPrototypeGetByteOffset, TypedArrayPrototypeGetLength, TypedArrayPrototypeSet, Uint8ArrayCtor, DataViewCtor, DataViewPrototypeGetBuffer, DataViewPrototypeGetByteOffset, DataViewPrototypeGetByteLength, TypeErrorCtor, TYPED_ARRAY_CTORS, ERROR_CTORS } from './primordials.ts';
import { typedArrayName, isArrayBuffer, isSharedArrayBuffer, isDataView, isDate, isRegExp, isMap, isSet, boxedKind } from './brands.ts';
import { DataCloneError } from './dom-errors.ts';
import { describeReceived } from './inspect.ts';

export const ObjectCtor = Object;
export const ArrayCtor = Array;
export const UNCLONEABLE_TAGS = { __proto__: null,
  '[object Promise]': 'Promise', '[object WeakMap]': 'WeakMap', '[object WeakSet]': 'WeakSet',
  '[object WeakRef]': 'WeakRef', '[object FinalizationRegistry]': 'FinalizationRegistry',
  '[object Generator]': 'Generator', '[object AsyncGenerator]': 'AsyncGenerator', '[object Module]': 'Module',
  '[object Map Iterator]': 'Map Iterator', '[object Set Iterator]': 'Set Iterator',
  '[object Array Iterator]': 'Array Iterator', '[object String Iterator]': 'String Iterator',
  '[object RegExp String Iterator]': 'RegExp String Iterator',
};


export function notCloneable(description) {
  return new DataCloneError(description + ' could not be cloned.');
}

export function describeFunctionForClone(fn) {
  let src;
  try { src = FunctionPrototypeToString(fn); } catch { src = 'function'; }
  return src.length > 100 ? StringPrototypeSlice(src, 0, 97) + '...' : src;
}

export function structuredClone(value, options = undefined) {
  if (arguments.length === 0) throw new TypeErrorCtor('The "value" argument must be specified');
  if (options !== undefined && options !== null && typeof options !== 'object') {
    throw new TypeErrorCtor('The "options" argument must be of type object. ' + describeReceived(options));
  }
  // options.transfer is accepted but buffers are copied, not detached: script cannot detach them.
  return cloneValue(value, new MapCtor());
}

export function cloneValue(v, memory) {
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
        const keys: unknown[] = [];
        const values: unknown[] = [];
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
        const items: unknown[] = [];
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

export function copyOwnEnumerable(from, to, memory) {
  const keys = ObjectKeys(from);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    // Defined rather than assigned so that a "__proto__" key stays a plain property.
    ObjectDefineProperty(to, key, dataProperty(cloneValue(from[key], memory), true));
  }
}

export function cloneError(v, memory) {
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

