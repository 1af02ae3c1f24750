// Console argument formatting, the recursive core: a compact re-implementation of Node's
// util.inspect defaults (depth 2, breakLength 80, compact 3, 100 array items), without colors or
// proxies: formatValue and formatRaw (objects, arrays, Map, Set, URL, URLSearchParams and their
// properties), plus describeReceived, the "Received ..." part of Node's argument errors. The leaves
// are in inspect-parts.ts; format.ts turns console arguments into one line with them.
import { ReflectApply, ObjectGetOwnPropertyDescriptor, ObjectKeys, ObjectPrototypeHasOwnProperty, ObjectPrototypePropertyIsEnumerable, ObjectPrototypeToString, ArrayIsArray, ArrayPrototypePop, ArrayPrototypeIncludes, ArrayPrototypeUnshift, StringCtor, StringPrototypeSlice, StringPrototypeIncludes, StringPrototypeRepeat, StringPrototypeReplace, RegExpCtor, RegExpPrototypeTest, RegExpPrototypeToString, NumberIsNaN, SymbolToStringTag, SymbolPrototypeToString, MathMin, MapCtor, MapPrototypeGet, MapPrototypeSet, MapPrototypeForEach, MapPrototypeGetSize, SetPrototypeForEach, SetPrototypeGetSize, DatePrototypeGetTime, DatePrototypeToISOString, DatePrototypeToString, ArrayBufferPrototypeGetByteLength, SharedArrayBufferPrototypeGetByteLength, TypedArrayPrototypeGetLength, RangeErrorCtor } from './primordials.ts';
import { typedArrayName, isArrayBuffer, isSharedArrayBuffer, isDataView, isDate, isRegExp, isMap, isSet, isWeakMap, isWeakSet, isError, boxedKind, isSearchParams, isURLObject, searchParamsList } from './brands.ts';
import { moreItems, escapeReplaceRegExp, formatError, escapeFn, getPrefix, customInspectSymbol, strEscape, formatPrimitive, getKeys, keyStrRegExp, newInspectContext, getBoxedBase, kArrayExtrasType, formatArrayBuffer, FORMAT_LIMIT, kObjectType, getNonIndexKeys, reduceToSingleString, formatSearchParams, getCtxStyle, getFunctionBase, formatNumber, formatTypedArray, kArrayType, getConstructorName, numberRegExp } from './inspect-parts.ts';

export function inspectValue(value, depth) {
  return formatValue(newInspectContext(depth), value, 0, undefined);
}

export function formatValue(ctx, value, recurseTimes, typedArray) {
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

export function inspectForCustom(value, options) {
  const depth = options !== null && typeof options === 'object' && typeof options.depth === 'number' ? options.depth : 2;
  return inspectValue(value, depth);
}

export function formatArray(ctx, value, recurseTimes) {
  const valLen = value.length;
  const len = MathMin(100, valLen);
  const output: string[] = [];
  for (let i = 0; i < len; i++) {
    if (ctx.emitted > FORMAT_LIMIT) { output[output.length] = '...'; return output; }
    if (!ObjectPrototypeHasOwnProperty(value, i)) return formatSpecialArray(ctx, value, recurseTimes, len, output, i);
    output[output.length] = formatProperty(ctx, value, recurseTimes, i, kArrayType);
  }
  if (valLen - len > 0) output[output.length] = moreItems(valLen - len);
  return output;
}

// Arrays with holes: runs of missing indices are shown as "<n empty items>".
export function formatSpecialArray(ctx, value, recurseTimes, maxLength, output, i) {
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

export function formatSet(ctx, value, recurseTimes) {
  const items: unknown[] = [];
  SetPrototypeForEach(value, (v) => { items[items.length] = v; });
  const shown = MathMin(100, items.length);
  const output: string[] = [];
  ctx.indentationLvl += 2;
  for (let i = 0; i < shown; i++) {
    if (ctx.emitted > FORMAT_LIMIT) { output[output.length] = '...'; break; }
    output[output.length] = formatValue(ctx, items[i], recurseTimes, undefined);
  }
  if (items.length > shown) output[output.length] = moreItems(items.length - shown);
  ctx.indentationLvl -= 2;
  return output;
}

export function formatMap(ctx, value, recurseTimes) {
  const keys: unknown[] = [];
  const values: unknown[] = [];
  MapPrototypeForEach(value, (v, k) => { keys[keys.length] = k; values[values.length] = v; });
  const shown = MathMin(100, keys.length);
  const output: string[] = [];
  ctx.indentationLvl += 2;
  for (let i = 0; i < shown; i++) {
    if (ctx.emitted > FORMAT_LIMIT) { output[output.length] = '...'; break; }
    output[output.length] = formatValue(ctx, keys[i], recurseTimes, undefined) + ' => ' + formatValue(ctx, values[i], recurseTimes, undefined);
  }
  if (keys.length > shown) output[output.length] = moreItems(keys.length - shown);
  ctx.indentationLvl -= 2;
  return output;
}

export function formatURL(ctx, value, recurseTimes) {
  const output: string[] = [];
  const fields = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'searchParams', 'hash'];
  for (let i = 0; i < fields.length; i++) {
    ctx.indentationLvl += 2;
    const shown = formatValue(ctx, value[fields[i]], recurseTimes, undefined);
    ctx.indentationLvl -= 2;
    output[i] = fields[i] + ': ' + shown;
  }
  return output;
}

export function formatProperty(ctx, value, recurseTimes, key, type) {
  let desc = ObjectGetOwnPropertyDescriptor(value, key);
  if (desc === undefined) desc = { __proto__: null, value: value[key], enumerable: true } as PropertyDescriptor;
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

export function formatRaw(ctx, value, recurseTimes, typedArray) {
  let keys;
  const constructor = getConstructorName(value);
  let tag = value[SymbolToStringTag];
  if (typeof tag !== 'string' || (tag !== '' && ObjectPrototypePropertyIsEnumerable(value, SymbolToStringTag))) tag = '';
  let base = '';
  let formatter: ((ctx, value, recurseTimes) => string[]) | null = null;
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
        const byteLength = arrayType === 'ArrayBuffer' ? ArrayBufferPrototypeGetByteLength(value) : (SharedArrayBufferPrototypeGetByteLength as (self: unknown) => number)(value);
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

// %s: user-defined toString wins; built-in objects are inspected shallowly.
export function describeReceived(v) {
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
