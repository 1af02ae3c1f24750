// The atob and btoa globals (HTML "forgiving-base64"), with Node's errors.
import { StringPrototypeCharCodeAt, Uint8ArrayCtor, TypeErrorCtor } from './primordials.ts';
import { InvalidCharacterError } from './dom-errors.ts';
import { toDOMString, CHUNK, chunkUnits, flushUnits } from './utf8.ts';

export const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
// Built on first use: every context pays for its tables only if it uses them.
export let B64_CODES: Uint8Array = null as unknown as Uint8Array;
export let B64_VALUES: Uint8Array = null as unknown as Uint8Array;
export function base64Tables() {
  B64_CODES = new Uint8ArrayCtor(64);
  B64_VALUES = new Uint8ArrayCtor(128);
  for (let i = 0; i < 128; i++) B64_VALUES[i] = 255;
  for (let i = 0; i < 64; i++) {
    B64_CODES[i] = StringPrototypeCharCodeAt(B64, i);
    B64_VALUES[B64_CODES[i]] = i;
  }
}

export function btoa(data) {
  if (arguments.length === 0) throw new TypeErrorCtor('The "data" argument must be specified');
  const s = toDOMString(data);
  const len = s.length;
  if (B64_CODES === null) base64Tables();
  let out = '';
  let n = 0;
  for (let i = 0; i < len; i += 3) {
    const a = StringPrototypeCharCodeAt(s, i);
    const b = i + 1 < len ? StringPrototypeCharCodeAt(s, i + 1) : 0;
    const c = i + 2 < len ? StringPrototypeCharCodeAt(s, i + 2) : 0;
    if (a > 0xFF || b > 0xFF || c > 0xFF) throw new InvalidCharacterError('Invalid character');
    if (n >= CHUNK) { out = flushUnits(out, n); n = 0; }
    chunkUnits[n++] = B64_CODES[a >> 2];
    chunkUnits[n++] = B64_CODES[((a & 3) << 4) | (b >> 4)];
    chunkUnits[n++] = i + 1 < len ? B64_CODES[((b & 15) << 2) | (c >> 6)] : 61;
    chunkUnits[n++] = i + 2 < len ? B64_CODES[c & 63] : 61;
  }
  return n === 0 ? out : flushUnits(out, n);
}

export function atob(data) {
  if (arguments.length === 0) throw new TypeErrorCtor('The "data" argument must be specified');
  const s = toDOMString(data);
  const len = s.length;
  if (B64_VALUES === null) base64Tables();
  // Pass 1: count significant characters and validate.
  let count = 0;
  let padding = 0;
  for (let i = 0; i < len; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c === 0x09 || c === 0x0A || c === 0x0C || c === 0x0D || c === 0x20) continue;
    if (c === 0x3D) { padding++; count++; continue; }
    if (padding !== 0 || c > 127 || B64_VALUES[c] === 255) throw new InvalidCharacterError('Invalid character');
    count++;
  }
  if (padding > 0) {
    if (count % 4 !== 0 || padding > 2) throw new InvalidCharacterError('Invalid character');
    count -= padding;
  }
  if (count % 4 === 1) throw new InvalidCharacterError('The string to be decoded is not correctly encoded.');
  // Pass 2: decode.
  let out = '';
  let n = 0;
  let acc = 0;
  let bits = 0;
  let taken = 0;
  for (let i = 0; i < len && taken < count; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c === 0x09 || c === 0x0A || c === 0x0C || c === 0x0D || c === 0x20) continue;
    taken++;
    acc = ((acc << 6) | B64_VALUES[c]) & 0xFFFFFF;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n >= CHUNK) { out = flushUnits(out, n); n = 0; }
      chunkUnits[n++] = (acc >> bits) & 0xFF;
    }
  }
  return n === 0 ? out : flushUnits(out, n);
}


// Bytes <-> base64 text, for the bodies fetch carries across the bridge (capabilities/effects.ts:
// EgressRequest and EgressResponse bodies are base64). The host writes canonical base64; anything
// else decodes to null.
export function bytesToBase64(bytes: Uint8Array): string {
  const len = bytes.length;
  if (B64_CODES === null) base64Tables();
  let out = '';
  let n = 0;
  for (let i = 0; i < len; i += 3) {
    const a = bytes[i];
    const b = i + 1 < len ? bytes[i + 1] : 0;
    const c = i + 2 < len ? bytes[i + 2] : 0;
    if (n >= CHUNK) { out = flushUnits(out, n); n = 0; }
    chunkUnits[n++] = B64_CODES[a >> 2];
    chunkUnits[n++] = B64_CODES[((a & 3) << 4) | (b >> 4)];
    chunkUnits[n++] = i + 1 < len ? B64_CODES[((b & 15) << 2) | (c >> 6)] : 61;
    chunkUnits[n++] = i + 2 < len ? B64_CODES[c & 63] : 61;
  }
  return n === 0 ? out : flushUnits(out, n);
}

export function base64ToBytes(s: string): Uint8Array | null {
  const len = s.length;
  if (len % 4 !== 0) return null;
  if (B64_VALUES === null) base64Tables();
  let padding = 0;
  if (len > 0 && StringPrototypeCharCodeAt(s, len - 1) === 0x3D) padding++;
  if (len > 1 && StringPrototypeCharCodeAt(s, len - 2) === 0x3D) padding++;
  const out = new Uint8ArrayCtor((len / 4) * 3 - padding);
  let p = 0;
  for (let i = 0; i < len; i += 4) {
    let acc = 0;
    for (let j = 0; j < 4; j++) {
      const c = StringPrototypeCharCodeAt(s, i + j);
      let v: number;
      if (c === 0x3D && i + j >= len - padding) v = 0;
      else if (c > 127 || (v = B64_VALUES[c]) === 255) return null;
      acc = (acc << 6) | v;
    }
    if (p < out.length) out[p++] = (acc >> 16) & 0xFF;
    if (p < out.length) out[p++] = (acc >> 8) & 0xFF;
    if (p < out.length) out[p++] = acc & 0xFF;
  }
  return out;
}
