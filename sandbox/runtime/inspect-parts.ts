// The leaves of console formatting (inspect.ts is the recursive core): string escaping, prefixes
// and constructor names, keys, errors with their stacks, boxed primitives, typed arrays and
// buffers, and how the pieces of one value are joined or grouped on lines, as Node's util.inspect
// does it with its defaults (breakLength 80, compact 3). Nothing here formats a nested value.
import { G, ObjectGetOwnPropertyDescriptor, ObjectGetOwnPropertyNames, ObjectGetOwnPropertySymbols, ObjectGetPrototypeOf, ObjectKeys, ObjectIs, ObjectPrototypeHasOwnProperty, ObjectPrototypePropertyIsEnumerable, FunctionPrototypeToString, ArrayIsArray, ArrayPrototypeJoin, ArrayPrototypeSplice, ArrayPrototypeIncludes, ArrayPrototypeIndexOf, StringCtor, StringPrototypeCharCodeAt, StringPrototypeSlice, StringPrototypeIndexOf, StringPrototypeIncludes, StringPrototypeStartsWith, StringPrototypeEndsWith, StringPrototypeRepeat, StringPrototypePadStart, StringPrototypePadEnd, StringPrototypeSplit, StringPrototypeReplace, StringPrototypeValueOf, RegExpPrototypeExec, RegExpPrototypeTest, NumberCtor, NumberPrototypeValueOf, NumberPrototypeToString, BooleanPrototypeValueOf, BigIntPrototypeValueOf, SymbolFor, SymbolPrototypeToString, SymbolPrototypeValueOf, MathMin, MathMax, MathFloor, MathRound, MathSqrt, ErrorPrototypeToString, Uint8ArrayCtor, AsyncFunctionPrototype, GeneratorFunctionPrototype, AsyncGeneratorFunctionPrototype } from './primordials.ts';
import { UPPER_HEX_DIGITS, hex2, searchParamsList } from './brands.ts';

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
export let builtinConstructorNames: Record<string, boolean> | null = null;

export function isBuiltinConstructorName(name) {
  if (builtinConstructorNames === null) {
    builtinConstructorNames = { __proto__: null } as unknown as Record<string, boolean>;
    const names = ObjectGetOwnPropertyNames(G);
    for (let i = 0; i < names.length; i++) {
      if (RegExpPrototypeTest(/^[A-Z][a-zA-Z0-9]+$/, names[i])) builtinConstructorNames[names[i]] = true;
    }
  }
  return (builtinConstructorNames as Record<string, boolean>)[name] === true;
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
      const pieces: string[] = [];
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
  const keys: PropertyKey[] = [];
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

export function formatTypedArray(ctx, value, length) {
  const maxLength = MathMin(100, length);
  const output: string[] = [];
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

export function formatSearchParams(ctx, value, _recurseTimes) {
  const list = searchParamsList(value);
  const output: string[] = [];
  ctx.indentationLvl += 2;
  for (let i = 0; i < list.length; i++) {
    if (ctx.emitted > FORMAT_LIMIT) { output[output.length] = '...'; break; }
    output[output.length] = formatPrimitive(ctx, list[i][0]) + ' => ' + formatPrimitive(ctx, list[i][1]);
  }
  ctx.indentationLvl -= 2;
  return output;
}

export function getCtxStyle(constructor, tag) {
  return getPrefix(constructor, tag, 'Object');
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
  const dataLen: number[] = [];
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
    const tmp: string[] = [];
    const maxLineLength: number[] = [];
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
