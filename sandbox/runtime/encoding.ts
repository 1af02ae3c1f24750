// The TextEncoder and TextDecoder globals (UTF-8 only, as the contract lists them), on utf8.ts.
import { ObjectDefineProperty, StringPrototypeCharCodeAt, StringPrototypeSlice, StringPrototypeToLowerCase, StringPrototypeReplace, TypedArrayPrototypeGetLength, TypedArrayPrototypeSubarray, TypedArrayPrototypeSet, Uint8ArrayCtor, TypeErrorCtor, RangeErrorCtor, webIdlClass } from './primordials.ts';
import { typedArrayName, viewBytes } from './brands.ts';
import { toUSVString, toDOMString, encodedRead, encodedWritten, utf8Write, utf8Encode, decodedPendingStart, utf8Decode } from './utf8.ts';
import { describeReceived } from './inspect.ts';

export class TextEncoder {
  get encoding() { return 'utf-8'; }

  encode(input = '') {
    return utf8Encode(toUSVString(input));
  }

  encodeInto(source, destination) {
    if (arguments.length < 2) throw new TypeErrorCtor('The "src" and "dest" arguments must be specified');
    const s = toUSVString(source);
    if (typedArrayName(destination) !== 'Uint8Array') {
      throw new TypeErrorCtor('The "dest" argument must be an instance of Uint8Array. ' + describeReceived(destination));
    }
    utf8Write(s, destination, 0, TypedArrayPrototypeGetLength(destination));
    return { read: encodedRead, written: encodedWritten };
  }
}
webIdlClass(TextEncoder, 'TextEncoder');

export const UTF8_LABELS = { __proto__: null,
  'unicode-1-1-utf-8': true, 'unicode11utf8': true, 'unicode20utf8': true, 'utf-8': true, 'utf8': true, 'x-unicode20utf8': true,
};
export const asciiWhitespaceTrim = /^[\t\n\f\r ]+|[\t\n\f\r ]+$/g;

export class TextDecoder {
  #fatal;
  #ignoreBOM;
  #pending: Uint8Array | null = null;   // bytes of an unfinished sequence kept between stream: true calls
  #bomSeen = false;

  constructor(label: unknown = 'utf-8', options: { fatal?: unknown; ignoreBOM?: unknown } | null | undefined = undefined) {
    const name = StringPrototypeToLowerCase(StringPrototypeReplace(toDOMString(label), asciiWhitespaceTrim, ''));
    if (UTF8_LABELS[name] !== true) {
      const err = new RangeErrorCtor('The "' + toDOMString(label) + '" encoding is not supported');
      ObjectDefineProperty(err, 'code', { __proto__: null, value: 'ERR_ENCODING_NOT_SUPPORTED', writable: true, enumerable: false, configurable: true });
      throw err;
    }
    if (options !== undefined && options !== null && typeof options !== 'object' && typeof options !== 'function') {
      throw new TypeErrorCtor('The "options" argument must be of type object. ' + describeReceived(options));
    }
    this.#fatal = options != null ? !!options.fatal : false;
    this.#ignoreBOM = options != null ? !!options.ignoreBOM : false;
  }

  get encoding() {
    void this.#fatal; // throws for a foreign receiver, like the other accessors
    return 'utf-8';
  }
  get fatal() { return this.#fatal; }
  get ignoreBOM() { return this.#ignoreBOM; }

  decode(input: unknown = undefined, options: { stream?: unknown } | null | undefined = undefined) {
    const fatal = this.#fatal;
    let bytes;
    if (input === undefined) bytes = new Uint8ArrayCtor(0);
    else {
      bytes = viewBytes(input);
      if (bytes === undefined) {
        throw new TypeErrorCtor('The "input" argument must be an instance of ArrayBuffer or ArrayBufferView. ' + describeReceived(input));
      }
    }
    const stream = options != null && typeof options === 'object' ? !!options.stream : false;
    const pending = this.#pending;
    if (pending !== null) {
      const joined = new Uint8ArrayCtor(pending.length + bytes.length);
      TypedArrayPrototypeSet(joined, pending, 0);
      TypedArrayPrototypeSet(joined, bytes, pending.length);
      bytes = joined;
      this.#pending = null;
    }
    let text;
    try {
      text = utf8Decode(bytes, 0, bytes.length, fatal, stream);
    } catch (err) {
      this.#bomSeen = false;
      this.#pending = null;
      throw err;
    }
    if (stream && decodedPendingStart !== -1) {
      this.#pending = new Uint8ArrayCtor(TypedArrayPrototypeSubarray(bytes, decodedPendingStart, bytes.length));
    }
    // The BOM is dropped from the first code point of a stream only.
    if (!this.#bomSeen && text.length !== 0) {
      this.#bomSeen = true;
      if (!this.#ignoreBOM && StringPrototypeCharCodeAt(text, 0) === 0xFEFF) text = StringPrototypeSlice(text, 1);
    }
    if (!stream) this.#bomSeen = false;
    return text;
  }
}
webIdlClass(TextDecoder, 'TextDecoder');

