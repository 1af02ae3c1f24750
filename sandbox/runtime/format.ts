// The console's argument formatting, as Node's util.format does it (%s %d %i %f %j %o %O %c, then
// the remaining arguments inspected), bounded to 10,000 characters and never throwing: sbFormat is
// the hidden __sb_format global the bridge takes for its console.
import { ObjectGetOwnPropertyDescriptor, ObjectGetPrototypeOf, ObjectPrototypeHasOwnProperty, ArrayIsArray, StringCtor, StringPrototypeCharCodeAt, StringPrototypeSlice, StringPrototypeIncludes, NumberCtor, NumberParseInt, NumberParseFloat, JSONStringify, TypeErrorCtor } from './primordials.ts';
import { inspectValue } from './inspect.ts';
import { FORMAT_LIMIT, formatNumber, isBuiltinConstructorName } from './inspect-parts.ts';

export function hasBuiltInToString(value) {
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

export function tryStringify(arg) {
  try {
    return JSONStringify(arg);
  } catch (err) {
    if (err instanceof TypeErrorCtor && StringPrototypeIncludes(StringCtor(err.message), 'circular')) return '[Circular]';
    throw err;
  }
}

export function formatArgs(args) {
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

export function sbFormat(args) {
  let out;
  try {
    out = formatArgs(ArrayIsArray(args) ? args : [args]);
  } catch (err) {
    let reason;
    try { reason = StringCtor(err && (err as Error).message); } catch { reason = 'unknown error'; }
    out = '[console: arguments could not be formatted: ' + reason + ']';
  }
  if (out.length > FORMAT_LIMIT) {
    out = StringPrototypeSlice(out, 0, FORMAT_LIMIT) + '... [truncated]';
  }
  return out;
}

