// The hooks to the host (the boot bundle, boot.ts, sets `globalThis.__sb_hooks` in the same
// script, just before this bundle): captured here and removed from the global before any
// capability code can run. This module is the first of the bundle (index.ts imports it first);
// nothing ever hands the hooks (or this module's state) to user-visible objects.

/** What the host hands in (boot.ts builds it from the host callback, sandbox/runtime.ts). */
export interface RuntimeHooks {
  /** Node's WHATWG parser: the components as JSON, or null for an invalid URL. */
  urlParse(input: string, base: string | undefined): string | null;
  /** Node's URL setters: `href` with `field` set to `value`, the components as JSON, or null. */
  urlSet(href: string, field: string, value: string): string | null;
  /** Fills `bytes` with random bytes from the host. */
  randomFill(bytes: Uint8Array): void;
}

const holder = globalThis as { __sb_hooks?: RuntimeHooks | null };
const hooks = holder.__sb_hooks;
delete holder.__sb_hooks;
if (hooks === null || typeof hooks !== 'object' ||
    typeof hooks.urlParse !== 'function' || typeof hooks.urlSet !== 'function' || typeof hooks.randomFill !== 'function') {
  throw new TypeError('sandbox runtime: __sb_hooks is missing');
}
export const hookUrlParse = hooks.urlParse;
export const hookUrlSet = hooks.urlSet;
export const hookRandomFill = hooks.randomFill;
