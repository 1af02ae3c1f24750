// Deep equality of JSON values, as gate tests compare an expected output with the actual one:
// object key order is irrelevant, array order is not.

import type { Json } from './types.ts';

export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  // Keys whose value is undefined do not exist once serialized, so they do not count here either.
  let count = 0;
  for (const key of Object.keys(a)) {
    const av = a[key];
    if (av === undefined) continue;
    count++;
    if (!Object.hasOwn(b, key) || !jsonEqual(av, b[key])) return false;
  }
  for (const key of Object.keys(b)) if (b[key] !== undefined) count--;
  return count === 0;
}
