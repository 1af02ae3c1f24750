// What capability code can make V8 allocate outside the heap that isolated-vm's `memoryLimit`
// counts, made to count. isolated-vm charges the V8 heap and the backing stores its ArrayBuffer
// allocator hands out; it does not see resizable ArrayBuffers and growable SharedArrayBuffers
// (V8 reserves and commits their pages itself), nor the ICU objects behind Intl, nor the waiter
// list of Atomics.waitAsync. The guards (sandbox/runtime/memory-guards.ts, bundled into the
// runtime's install script by sandbox/runtime.ts) run in every fresh context before capability code
// and:
//  - charges a resizable or growable buffer its whole maxByteLength up front, as a plain
//    ArrayBuffer of that size that lives exactly as long as the buffer (a WeakMap entry): the
//    isolate's allocator counts it, so `new ArrayBuffer(1, { maxByteLength: 2 ** 32 })` fails with
//    the same RangeError as `new ArrayBuffer(2 ** 32)`, and what `resize`/`grow` can commit never
//    exceeds what was charged;
//  - charges every Intl object (and every Intl.Segmenter segments object and its iterators) an
//    estimate of its native size, the same way;
//  - removes Atomics.waitAsync: isolated-vm aborts the whole worker process on its first use.
// The wrapped constructors are Proxies of the originals (statics, name, length, species and
// subclassing behave as before) and replace `constructor` on their prototypes, so no path leads
// back to an unwrapped constructor.
//
// This file keeps the charges (plain numbers, no Node imports: the in-isolate module imports them).

/** Native bytes charged per Intl object, by constructor, from measurements of retained objects
 *  (RSS growth per object, Node 20 / ICU 7x): the estimate errs on the high side. */
export const INTL_CHARGE_BYTES: { readonly [ctor: string]: number } = {
  DateTimeFormat: 32 * 1024,
  RelativeTimeFormat: 8 * 1024,
  Segmenter: 8 * 1024,
  PluralRules: 4 * 1024,
  Collator: 2 * 1024,
  NumberFormat: 2 * 1024,
  DisplayNames: 2 * 1024,
  ListFormat: 1024,
  Locale: 1024,
};
/** Any other Intl constructor, a segments object, a segment iterator. */
export const INTL_DEFAULT_CHARGE_BYTES = 4 * 1024;
