import { G } from './primordials.ts';
import { ReflectApply, ObjectGetOwnPropertyDescriptor, ObjectGetOwnPropertyNames, ObjectGetOwnPropertySymbols, ObjectGetPrototypeOf, ObjectKeys, ObjectIs, ObjectPrototypeHasOwnProperty, ObjectPrototypePropertyIsEnumerable, ObjectPrototypeToString, FunctionPrototypeToString, ArrayIsArray, ArrayPrototypePop, ArrayPrototypeJoin, ArrayPrototypeSplice, ArrayPrototypeIncludes, ArrayPrototypeIndexOf, ArrayPrototypeUnshift, StringCtor, StringPrototypeCharCodeAt, StringPrototypeSlice, StringPrototypeIndexOf, StringPrototypeIncludes, StringPrototypeStartsWith, StringPrototypeEndsWith, StringPrototypeRepeat, StringPrototypePadStart, StringPrototypePadEnd, StringPrototypeSplit, StringPrototypeReplace, StringPrototypeValueOf, RegExpCtor, RegExpPrototypeExec, RegExpPrototypeTest, RegExpPrototypeToString, NumberCtor, NumberIsNaN, NumberPrototypeValueOf, NumberPrototypeToString, BooleanPrototypeValueOf, BigIntPrototypeValueOf, SymbolToStringTag, SymbolFor, SymbolPrototypeToString, SymbolPrototypeValueOf, MathMin, MathMax, MathFloor, MathRound, MathSqrt, MapCtor, MapPrototypeGet, MapPrototypeSet, MapPrototypeForEach, MapPrototypeGetSize, SetPrototypeForEach, SetPrototypeGetSize, DatePrototypeGetTime, DatePrototypeToISOString, DatePrototypeToString, ErrorPrototypeToString, ArrayBufferPrototypeGetByteLength, SharedArrayBufferPrototypeGetByteLength, TypedArrayPrototypeGetLength, Uint8ArrayCtor, RangeErrorCtor, AsyncFunctionPrototype, GeneratorFunctionPrototype, AsyncGeneratorFunctionPrototype } from './primordials.ts';
import { typedArrayName, isArrayBuffer, isSharedArrayBuffer, isDataView, isDate, isRegExp, isMap, isSet, isWeakMap, isWeakSet, isError, boxedKind, UPPER_HEX_DIGITS, hex2, isSearchParams, isURLObject, searchParamsList } from './brands.ts';

// ---------------------------------------------------------------------------------------------
// Console argument formatting: a compact re-implementation of Node's util.format/util.inspect
// defaults (depth 2, breakLength 80, compact 3, 100 array items), without colors or proxies.
// ---------------------------------------------------------------------------------------------
export const FORMAT_LIMIT = 10000;
export const kObjectType = 0;
export const kArrayType = 1;
export const kArrayExtrasType = 2;
export const customInspectSymbol = SymbolFor('nodejs.util.inspect.custom');
export const keyStrRegExp = /^[a-zA-Z_][a-zA-Z_0-9]*$/;
export const numberRegExp = /^(0|[1-9][0-9]*)$/;
export const escapeTestRegExp = /[\x00-\x1f\x27\x5c\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
export const escapeReplaceRegExp = /[\x00-\x1f\x27\x5c\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
export const escapeTestRegExpSingle = /[\x00-\x1f\x5c\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
export const escapeReplaceRegExpSingle = /[\x00-\x1f\x5c\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// Names of the built-in constructors whose toString "%s" ignores in favour of inspection.
export let builtinConstructorNames = null;
export function isBuiltinConstructorName(name) {
  if (builtinConstructorNames === null) {
    builtinConstructorNames = { __proto__: null };
    const names = ObjectGetOwnPropertyNames(G);
    for (let i = 0; i < names.length; i++) {
      if (RegExpPrototypeTest(/^[A-Z][a-zA-Z0-9]+$/, names[i])) builtinConstructorNames[names[i]] = true;
    }
  }
  return builtinConstructorNames[name] === true;
}

export function escapeFn(ch) {
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

export function strEscape(str) {
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

export function newInspectContext(depth) {
  return { __proto__: null, seen: [], circular: undefined, indentationLvl: 0, currentDepth: 0, depth, emitted: 0 };
}

export function inspectValue(value, depth) {
  return formatValue(newInspectContext(depth), value, 0, undefined);
}

export function formatNumber(n) {
  return ObjectIs(n, -0) ? '-0' : '' + n;
}

export function formatPrimitive(ctx, value) {
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

export function getConstructorName(obj) {
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

export function getPrefix(constructor, tag, fallback, size?) {
  if (size === undefined) size = '';
  if (constructor === null) {
    if (tag !== '' && fallback !== tag) return '[' + fallback + size + ': null prototype] [' + tag + '] ';
    return '[' + fallback + size + ': null prototype] ';
  }
  if (tag !== '' && constructor !== tag) return constructor + size + ' [' + tag + '] ';
  return constructor + size + ' ';
}

export function getKeys(value) {
  const keys: PropertyKey[] = ObjectKeys(value);
  const symbols = ObjectGetOwnPropertySymbols(value);
  for (let i = 0; i < symbols.length; i++) {
    if (ObjectPrototypePropertyIsEnumerable(value, symbols[i])) keys[keys.length] = symbols[i];
  }
  return keys;
}

export function isIndexKey(key) {
  return RegExpPrototypeTest(numberRegExp, key) && NumberCtor(key) < 4294967295;
}

export function getNonIndexKeys(value) {
  const all = getKeys(value);
  const keys = [];
  for (let i = 0; i < all.length; i++) {
    if (typeof all[i] === 'symbol' || !isIndexKey(all[i])) keys[keys.length] = all[i];
  }
  return keys;
}

export function functionKind(fn) {
  const proto = ObjectGetPrototypeOf(fn);
  if (proto === AsyncFunctionPrototype) return 'AsyncFunction';
  if (proto === GeneratorFunctionPrototype) return 'GeneratorFunction';
  if (proto === AsyncGeneratorFunctionPrototype) return 'AsyncGeneratorFunction';
  return 'Function';
}

export function getFunctionBase(value, constructor, tag) {
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

export function improveStack(stack, constructor, name, tag) {
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

export function formatError(err, constructor, tag, ctx, keys) {
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

export function getBoxedBase(value, kind, keys, constructor, tag, _ctx) {
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

export function moreItems(remaining) {
  return '... ' + remaining + ' more item' + (remaining > 1 ? 's' : '');
}

export function formatArray(ctx, value, recurseTimes) {
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

export function formatTypedArray(ctx, value, length) {
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

export function formatArrayBuffer(ctx, value) {
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

export function formatSet(ctx, value, recurseTimes) {
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

export function formatMap(ctx, value, recurseTimes) {
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

export function formatSearchParams(ctx, value, _recurseTimes) {
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

export function formatURL(ctx, value, recurseTimes) {
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

export function getCtxStyle(constructor, tag) {
  return getPrefix(constructor, tag, 'Object');
}

export function formatRaw(ctx, value, recurseTimes, typedArray) {
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

export function isBelowBreakLength(output, start, base) {
  let totalLength = output.length + start;
  if (totalLength + output.length > 80) return false;
  for (let i = 0; i < output.length; i++) {
    totalLength += output[i].length;
    if (totalLength > 80) return false;
  }
  return base === '' || !StringPrototypeIncludes(base, '\n');
}

export function reduceToSingleString(ctx, output, base, braces, extrasType, recurseTimes, value) {
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
export function groupArrayElements(ctx, output, value) {
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
