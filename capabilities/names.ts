// Capability names and shared-namespace names: one form for both, checked in this one place so the
// manifest parser, the kernel's RPC params and the CLI all agree on what a name is.

import { fail } from './errors.ts';

/** The contract's name form: dot-separated segments, each a lowercase letter then [a-z0-9-]. */
export const NAME_RE = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/;

export const MAX_NAME_LENGTH = 128;

export function isValidName(s: unknown): s is string {
  return typeof s === 'string' && s.length <= MAX_NAME_LENGTH && NAME_RE.test(s);
}

/** Why `s` is not a valid name, or null when it is. */
export function nameProblem(s: unknown): string | null {
  if (typeof s !== 'string') return 'must be a string';
  if (s.length === 0) return 'must not be empty';
  if (s.length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters`;
  if (!NAME_RE.test(s)) {
    return 'must be dot-separated lowercase segments, each a letter then letters, digits or "-" (like text.wordcount)';
  }
  return null;
}

/** Throws INVALID_MANIFEST `{ field, value }` unless `s` is a valid name. */
export function assertName(s: unknown, what = 'name'): asserts s is string {
  const problem = nameProblem(s);
  if (problem !== null) {
    const shown = typeof s === 'string' ? JSON.stringify(s.length > 140 ? `${s.slice(0, 140)}...` : s) : String(s);
    throw fail('INVALID_MANIFEST', `${what} ${shown} ${problem}`, { field: what, value: s });
  }
}
