// How deeply JSON may nest wherever it crosses a process or the wire, and the checks that measure
// it. The checks are iterative: JSON.parse is iterative in V8, but JSON.stringify, structured clone,
// zod, ajv and our own walkers (canonicalJson, jsonEqual) recurse and throw RangeError (or worse,
// take a process down from a timer callback) on input a few thousand levels deep. Measuring first,
// without recursion, is what keeps every one of them within a depth it is known to survive.
//
// Depth: a scalar is 0, `[]` and `{}` are 1, `[[1]]` is 2.

import { exceeded, type ErrorData, type SubstrateError } from './errors.ts';

/** The deepest a capability's input or output, or a state value, may nest. */
export const MAX_JSON_DEPTH = 256;

/** What the protocol wraps around such a value at most: request > params > changes > change >
 *  manifest > tests > test case, then the case's `input`, plus one for a batch. */
export const ENVELOPE_DEPTH = 8;

/** The deepest a request (a message, a batch element) or a manifest may nest. */
export const MAX_MESSAGE_DEPTH = MAX_JSON_DEPTH + ENVELOPE_DEPTH;

/** The maximal nesting depth of JSON text (brackets inside strings do not count). Text that is
 *  not JSON still gets a number; it is meant to run before JSON.parse or after JSON.stringify.
 *  Stops counting once it is sure the depth exceeds `stopAbove`. */
export function jsonTextDepth(text: string, stopAbove = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) {
        max = depth;
        if (max > stopAbove) return max;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** Whether JSON text may nest more than `limit` levels (cheap: no scan for short texts). */
export function textMayExceed(text: string, limit: number): boolean {
  return text.length > 2 * limit && jsonTextDepth(text, limit) > limit;
}

/** The maximal nesting depth of a value (arrays and plain objects), walked with an explicit
 *  stack. Stops once it is sure the depth exceeds `stopAbove`. */
export function jsonValueDepth(value: unknown, stopAbove = Infinity): number {
  if (value === null || typeof value !== 'object') return 0;
  const stack: Array<{ v: object; d: number }> = [{ v: value, d: 1 }];
  let max = 0;
  while (stack.length > 0) {
    const { v, d } = stack.pop()!;
    if (d > max) {
      max = d;
      if (max > stopAbove) return max;
    }
    const items: unknown[] = Array.isArray(v) ? v : Object.values(v);
    for (let i = 0; i < items.length; i++) {
      const c = items[i];
      if (c !== null && typeof c === 'object') stack.push({ v: c, d: d + 1 });
    }
  }
  return max;
}

/** The typed error of a value nesting deeper than allowed: PAYLOAD_TOO_LARGE, like the byte
 *  limits, since the caller's remedy is the same (send less). `subject` starts the message;
 *  `data.what` names the value as the byte limits do ('input', 'output', 'value', 'request'), and
 *  `limitKind: 'depth'` tells this limit from theirs. */
export function tooDeep(subject: string, depth: number, limit: number, data: ErrorData & { what: string }): SubstrateError {
  return exceeded('size', `${subject} nests ${depth} levels deep, the limit is ${limit}`, { ...data, depth, limit, limitKind: 'depth' });
}

/** Throws tooDeep when JSON text nests deeper than `limit`. */
export function checkTextDepth(text: string, subject: string, data: ErrorData & { what: string }, limit = MAX_JSON_DEPTH): void {
  if (text.length <= 2 * limit) return;
  const depth = jsonTextDepth(text, limit);
  if (depth > limit) throw tooDeep(subject, jsonTextDepth(text), limit, data);
}

/** Throws tooDeep when a value nests deeper than `limit`. */
export function checkValueDepth(value: unknown, subject: string, data: ErrorData & { what: string }, limit = MAX_JSON_DEPTH): void {
  const depth = jsonValueDepth(value, limit);
  if (depth > limit) throw tooDeep(subject, jsonValueDepth(value), limit, data);
}
