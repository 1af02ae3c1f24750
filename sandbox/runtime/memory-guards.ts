// The memory guards, in the isolate: what capability code can make V8 allocate outside the heap
// that isolated-vm's memoryLimit counts, made to count (the why, and the charges, are in
// sandbox/memory-guards.ts). sandbox/runtime.ts bundles this entry separately and evaluates it
// right after the runtime (index.ts), in the same script: it wraps constructors the runtime has
// already captured (the runtime keeps the originals; capability code sees only the wrapped ones).
import { INTL_CHARGE_BYTES, INTL_DEFAULT_CHARGE_BYTES } from '../memory-guards.ts';

const G = globalThis;
const ReflectConstruct = Reflect.construct;
const ReflectApply = Reflect.apply;
const ObjectDefineProperty = Object.defineProperty as (o: object, key: PropertyKey, desc: PropertyDescriptor & { __proto__?: null }) => object;
const ObjectGetPrototypeOf = Object.getPrototypeOf;
const ObjectGetOwnPropertyNames = Object.getOwnPropertyNames;
const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const ProxyCtor = Proxy;
const NumberCtor = Number;
const MathTrunc = Math.trunc;
const RangeErrorCtor = RangeError;
const ArrayBufferCtor = ArrayBuffer;
const WeakMapCtor = WeakMap;
const weakMapGet = WeakMap.prototype.get;
const weakMapSet = WeakMap.prototype.set;
const SymbolIterator = Symbol.iterator;
const charges = new WeakMapCtor();
const INTL_CHARGES = INTL_CHARGE_BYTES;
const INTL_DEFAULT = INTL_DEFAULT_CHARGE_BYTES;

// Ties a counted allocation of 'bytes' to the life of 'owner'. A second charge of the same owner
// replaces the first (only one estimate per object).
function charge(owner, bytes) {
  if ((typeof owner !== 'object' && typeof owner !== 'function') || owner === null || bytes <= 0) return owner;
  ReflectApply(weakMapSet, charges, [owner, new ArrayBufferCtor(bytes)]);
  return owner;
}
function defineHidden(obj, key, value) {
  ObjectDefineProperty(obj, key, { __proto__: null, value: value, writable: true, configurable: true, enumerable: false });
}
// ECMAScript ToIndex, as the built-in constructors apply it.
function toIndex(v) {
  if (v === undefined) return 0;
  let n = NumberCtor(v);
  n = n !== n ? 0 : MathTrunc(n);
  if (n === 0) n = 0;
  if (n < 0 || n > 9007199254740991) throw new RangeErrorCtor('Invalid array buffer length');
  return n;
}
// Replaces the global 'name' (on 'holder') by a Proxy of the constructor whose construct and call
// traps are 'onConstruct' / 'onCall', and points the prototype's constructor at it.
function wrapCtor(holder, name, onConstruct, onCall?) {
  const Original = holder[name];
  if (typeof Original !== 'function') return;
  const handler: ProxyHandler<object> & { __proto__?: null } = { __proto__: null, construct: onConstruct };
  if (onCall !== undefined) handler.apply = onCall;
  const Wrapped = new ProxyCtor(Original, handler);
  const proto = Original.prototype;
  if (proto !== undefined && proto !== null) {
    const d = ObjectGetOwnPropertyDescriptor(proto, 'constructor');
    if (d !== undefined && d.value === Original) defineHidden(proto, 'constructor', Wrapped);
  }
  defineHidden(holder, name, Wrapped);
}

// ---- resizable ArrayBuffer, growable SharedArrayBuffer ----
function growable(target, args, newTarget) {
  const options = args.length > 1 ? args[1] : undefined;
  if (options === null || typeof options !== 'object') return ReflectConstruct(target, args, newTarget);
  // The built-in order: the length, then the option (read once: a getter sees one read).
  const length = toIndex(args[0]);
  const max = options.maxByteLength;
  if (max === undefined) return ReflectConstruct(target, [length], newTarget);
  const maxByteLength = toIndex(max);
  if (length > maxByteLength) throw new RangeErrorCtor('Invalid array buffer max length');
  const reserve = maxByteLength > 0 ? new ArrayBufferCtor(maxByteLength) : undefined;
  const buffer = ReflectConstruct(target, [length, { __proto__: null, maxByteLength: maxByteLength }], newTarget);
  if (reserve !== undefined) ReflectApply(weakMapSet, charges, [buffer, reserve]);
  return buffer;
}
wrapCtor(G, 'ArrayBuffer', growable);
if (typeof G.SharedArrayBuffer === 'function') wrapCtor(G, 'SharedArrayBuffer', growable);
// ArrayBuffer.prototype.transfer (newer V8) keeps a resizable buffer resizable: the charge moves.
const ABProto = ArrayBufferCtor.prototype;
for (const m of ['transfer', 'transferToFixedLength']) {
  const original = ABProto[m];
  if (typeof original !== 'function') continue;
  defineHidden(ABProto, m, {
    [m](_newLength) {
      const reserve = ReflectApply(weakMapGet, charges, [this]);
      const out = ReflectApply(original, this, arguments);
      if (reserve !== undefined && m === 'transfer') ReflectApply(weakMapSet, charges, [out, reserve]);
      return out;
    },
  }[m]);
}

// ---- Atomics.waitAsync ----
if (typeof G.Atomics === 'object' && G.Atomics !== null) delete (G.Atomics as { waitAsync?: unknown }).waitAsync;

// ---- Intl ----
const Intl = G.Intl;
if (typeof Intl === 'object' && Intl !== null) {
  const names = ObjectGetOwnPropertyNames(Intl);
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const C = Intl[name];
    if (typeof C !== 'function' || typeof C.prototype !== 'object') continue;
    const bytes = INTL_CHARGES[name] !== undefined ? INTL_CHARGES[name] : INTL_DEFAULT;
    wrapCtor(Intl, name,
      function (target, args, newTarget) { return charge(ReflectConstruct(target, args, newTarget), bytes); },
      // DateTimeFormat, NumberFormat and Collator may be called without new.
      function (target, self, args) { return charge(ReflectApply(target, self, args), bytes); });
  }
  const Segmenter = Intl.Segmenter;
  if (typeof Segmenter === 'function') {
    const SegmenterProto = Segmenter.prototype;
    const segment = SegmenterProto.segment;
    // The segments prototype is only reachable through a segments object: wrapped at the first one
    // (before it is returned), which keeps a Segmenter out of every context's setup.
    let iteratorWrapped = false;
    function wrapIterator(segments) {
      iteratorWrapped = true;
      const SegmentsProto = ObjectGetPrototypeOf(segments);
      if (SegmentsProto === null || typeof SegmentsProto[SymbolIterator] !== 'function') return;
      const iterate = SegmentsProto[SymbolIterator];
      defineHidden(SegmentsProto, SymbolIterator, { [SymbolIterator]() { return charge(ReflectApply(iterate, this, arguments), INTL_DEFAULT); } }[SymbolIterator]);
    }
    defineHidden(SegmenterProto, 'segment', { segment(_input) {
      const segments = ReflectApply(segment, this, arguments);
      if (!iteratorWrapped) wrapIterator(segments);
      return charge(segments, INTL_DEFAULT);
    } }.segment);
  }
  const LocaleProto = typeof Intl.Locale === 'function' ? Intl.Locale.prototype : undefined;
  if (LocaleProto !== undefined) {
    for (const m of ['maximize', 'minimize']) {
      const original = LocaleProto[m];
      if (typeof original !== 'function') continue;
      defineHidden(LocaleProto, m, { [m]() { return charge(ReflectApply(original, this, arguments), INTL_CHARGES.Locale); } }[m]);
    }
  }
}
