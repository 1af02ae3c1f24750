// The canonical JSON text of a value and the content hash of a version. Both must never change
// shape: stored hashes, idempotent re-registration and cache keys depend on them byte for byte.

import { createHash } from 'node:crypto';
import type { Json, Manifest } from './types.ts';

/** JSON with object keys sorted (by UTF-16 code units) and no whitespace. Keys whose value is
 *  undefined are left out and undefined array items become null, as JSON.stringify does. */
export function canonicalJson(value: Json): string {
  return write(value);
}

function write(value: Json | undefined): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + write(value[i]);
    return out + ']';
  }
  const keys = Object.keys(value).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const v = value[key];
    if (v === undefined) continue;
    out += (first ? '' : ',') + JSON.stringify(key) + ':' + write(v);
    first = false;
  }
  return out + '}';
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** `sha256:` + hex of the canonical JSON of `{ manifest, source }` (the normalized manifest, so
 *  spelling a default out or leaving it implicit yields the same version hash). */
export function contentHash(manifest: Manifest, source: string): string {
  return 'sha256:' + sha256Hex(canonicalJson({ manifest: manifest as unknown as Json, source }));
}
