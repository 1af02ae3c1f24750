// First piece of the runtime's install script (sandbox/runtime.ts): turns the one host callback
// (`globalThis.__sb_host`, an isolated-vm Callback) into the hooks the runtime takes
// (`globalThis.__sb_hooks`, see hooks.ts), and removes the callback's global. It runs in the same
// script as the runtime, so no capability code can observe either temporary global.
import { HOOK_OP, RANDOM_CHUNK_BYTES } from '../wire.ts';
import type { RuntimeHooks } from './hooks.ts';

type HostCall = (op: number, a?: unknown, b?: unknown, c?: unknown) => unknown;

const holder = globalThis as { __sb_host?: HostCall; __sb_hooks?: RuntimeHooks };
const host = holder.__sb_host as HostCall;
delete holder.__sb_host;
const call = Function.prototype.call;
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as Uint8Array;
const set = call.bind(TypedArrayPrototype.set) as (self: Uint8Array, source: Uint8Array, offset: number) => void;
const byteLength = call.bind((Object.getOwnPropertyDescriptor(TypedArrayPrototype, 'byteLength') as PropertyDescriptor).get as () => number) as (self: Uint8Array) => number;
const MathMin = Math.min;

holder.__sb_hooks = {
  urlParse(input, base) { return host(HOOK_OP.urlParse, input, base) as string | null; },
  urlSet(href, field, value) { return host(HOOK_OP.urlSet, href, field, value) as string | null; },
  randomFill(bytes) {
    const length = byteLength(bytes);
    for (let offset = 0; offset < length; offset += RANDOM_CHUNK_BYTES) {
      set(bytes, host(HOOK_OP.random, MathMin(RANDOM_CHUNK_BYTES, length - offset)) as Uint8Array, offset);
    }
  },
};
