// Strings and UTF-8: USVString/DOMString conversion, UTF-8 length, encoding into a buffer and
// WHATWG decoding (replacement, fatal, streaming), and the chunked code-unit buffer that turns
// long outputs into strings under the engine's argument limit. Shared by encoding, base64 and the
// URL modules.
import { ReflectApply, ObjectDefineProperty, StringCtor, StringFromCharCode, StringPrototypeCharCodeAt, StringPrototypeSlice, StringPrototypeIsWellFormed, StringPrototypeToWellFormed, TypedArrayPrototypeSubarray, Uint8ArrayCtor, Uint16ArrayCtor, TypeErrorCtor } from './primordials.ts';

export function toUSVString(v) {
  if (typeof v === 'symbol') throw new TypeErrorCtor('Cannot convert a Symbol value to a string');
  const s = typeof v === 'string' ? v : StringCtor(v);
  if (StringPrototypeIsWellFormed !== undefined) {
    return StringPrototypeIsWellFormed(s) ? s : (StringPrototypeToWellFormed as (self: string) => string)(s);
  }
  let out = '';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c >= 0xD800 && c <= 0xDFFF) {
      if (c <= 0xDBFF && i + 1 < s.length) {
        const d = StringPrototypeCharCodeAt(s, i + 1);
        if (d >= 0xDC00 && d <= 0xDFFF) { i++; continue; }
      }
      out += StringPrototypeSlice(s, last, i) + '\uFFFD';
      last = i + 1;
    }
  }
  return last === 0 ? s : out + StringPrototypeSlice(s, last);
}

export function toDOMString(v) {
  if (typeof v === 'symbol') throw new TypeErrorCtor('Cannot convert a Symbol value to a string');
  return typeof v === 'string' ? v : StringCtor(v);
}

// Number of UTF-8 bytes for s (lone surrogates count as U+FFFD).
export function utf8Length(s) {
  const len = s.length;
  let n = len;
  for (let i = 0; i < len; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c < 0x80) continue;
    if (c < 0x800) { n += 1; continue; }
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < len) {
      const d = StringPrototypeCharCodeAt(s, i + 1);
      if (d >= 0xDC00 && d <= 0xDFFF) { n += 2; i++; continue; }
    }
    n += 2;
  }
  return n;
}

// Writes the UTF-8 form of s into out[offset, limit), stopping before a character that does not fit
// entirely; leaves the code units read and bytes written in encodedRead / encodedWritten.
export let encodedRead = 0;
export let encodedWritten = 0;
export function utf8Write(s, out, offset, limit) {
  const len = s.length;
  let i = 0;
  let p = offset;
  while (i < len) {
    let c = StringPrototypeCharCodeAt(s, i);
    let units = 1;
    if (c < 0x80) {
      if (p >= limit) break;
      out[p++] = c;
      i++;
      continue;
    }
    if (c >= 0xD800 && c <= 0xDFFF) {
      if (c <= 0xDBFF && i + 1 < len) {
        const d = StringPrototypeCharCodeAt(s, i + 1);
        if (d >= 0xDC00 && d <= 0xDFFF) {
          c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
          units = 2;
        } else {
          c = 0xFFFD;
        }
      } else {
        c = 0xFFFD;
      }
    }
    if (c < 0x800) {
      if (p + 2 > limit) break;
      out[p++] = 0xC0 | (c >> 6);
      out[p++] = 0x80 | (c & 0x3F);
    } else if (c < 0x10000) {
      if (p + 3 > limit) break;
      out[p++] = 0xE0 | (c >> 12);
      out[p++] = 0x80 | ((c >> 6) & 0x3F);
      out[p++] = 0x80 | (c & 0x3F);
    } else {
      if (p + 4 > limit) break;
      out[p++] = 0xF0 | (c >> 18);
      out[p++] = 0x80 | ((c >> 12) & 0x3F);
      out[p++] = 0x80 | ((c >> 6) & 0x3F);
      out[p++] = 0x80 | (c & 0x3F);
    }
    i += units;
  }
  encodedRead = i;
  encodedWritten = p - offset;
}

export function utf8Encode(s) {
  const out = new Uint8ArrayCtor(utf8Length(s));
  utf8Write(s, out, 0, out.length);
  return out;
}

// Collects UTF-16 code units into a reusable buffer and turns them into a string in chunks, which
// keeps String.fromCharCode.apply under the engine's argument limit.
export const CHUNK = 8192;
export const chunkUnits = new Uint16ArrayCtor(CHUNK + 2);
export function flushUnits(out, n) {
  return out + ReflectApply(StringFromCharCode, undefined, TypedArrayPrototypeSubarray(chunkUnits, 0, n));
}

// WHATWG "UTF-8 decode" over bytes[start, end). Invalid sequences become U+FFFD (maximal subpart
// rule) or throw when fatal. When stream is true an unfinished sequence at the end is not an error:
// its start index is left in decodedPendingStart (otherwise -1).
export let decodedPendingStart = -1;
export function utf8Decode(bytes, start, end, fatal, stream) {
  let out = '';
  let n = 0;
  let needed = 0;
  let seen = 0;
  let cp = 0;
  let lower = 0x80;
  let upper = 0xBF;
  let seqStart = 0;
  decodedPendingStart = -1;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (n >= CHUNK) { out = flushUnits(out, n); n = 0; }
    if (needed === 0) {
      if (b < 0x80) { chunkUnits[n++] = b; continue; }
      seqStart = i;
      if (b >= 0xC2 && b <= 0xDF) { needed = 1; cp = b & 0x1F; }
      else if (b >= 0xE0 && b <= 0xEF) {
        if (b === 0xE0) lower = 0xA0;
        if (b === 0xED) upper = 0x9F;
        needed = 2; cp = b & 0x0F;
      } else if (b >= 0xF0 && b <= 0xF4) {
        if (b === 0xF0) lower = 0x90;
        if (b === 0xF4) upper = 0x8F;
        needed = 3; cp = b & 0x07;
      } else {
        if (fatal) throw decodeError();
        chunkUnits[n++] = 0xFFFD;
      }
      continue;
    }
    if (b < lower || b > upper) {
      needed = 0; seen = 0; cp = 0; lower = 0x80; upper = 0xBF;
      if (fatal) throw decodeError();
      chunkUnits[n++] = 0xFFFD;
      i--; // reprocess this byte as the start of a new sequence
      continue;
    }
    lower = 0x80; upper = 0xBF;
    cp = (cp << 6) | (b & 0x3F);
    seen++;
    if (seen === needed) {
      if (cp >= 0x10000) {
        cp -= 0x10000;
        chunkUnits[n++] = 0xD800 + (cp >> 10);
        chunkUnits[n++] = 0xDC00 + (cp & 0x3FF);
      } else {
        chunkUnits[n++] = cp;
      }
      needed = 0; seen = 0; cp = 0;
    }
  }
  if (needed !== 0) {
    if (stream) decodedPendingStart = seqStart;
    else {
      if (fatal) throw decodeError();
      chunkUnits[n++] = 0xFFFD;
    }
  }
  return n === 0 ? out : flushUnits(out, n);
}

export function decodeError() {
  const err = new TypeErrorCtor('The encoded data was not valid for encoding utf-8');
  ObjectDefineProperty(err, 'code', { __proto__: null, value: 'ERR_ENCODING_INVALID_ENCODED_DATA', writable: true, enumerable: false, configurable: true });
  return err;
}

