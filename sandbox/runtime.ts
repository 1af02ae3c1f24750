/**
 * sandbox/runtime.ts: the host side of the in-isolate runtime. The runtime itself (TextEncoder,
 * TextDecoder, URL, URLSearchParams, atob, btoa, structuredClone, queueMicrotask, crypto and the
 * hidden console argument formatter) is TypeScript under sandbox/runtime/, bundled by
 * runtime-bundle.ts; this file owns the host hooks it needs (the URL parse and set hooks: Node's
 * WHATWG URL; the random-bytes hook) and `installRuntime`, which wires them into a fresh context
 * and evaluates the install script (boot + runtime + memory guards) from a V8 code cache.
 * console, setTimeout and clearTimeout are installed by the bridge, not here.
 *
 * After installRuntime the only global left behind is `__sb_format` (SB_FORMAT_GLOBAL): the bridge
 * captures it for its console and deletes it before capability code runs.
 */
import ivm from 'isolated-vm';
import { randomFillSync } from 'node:crypto';
import { fail } from '../capabilities/errors.ts';
import { runtimeBundles } from './runtime-bundle.ts';
import { HOOK_OP, MAX_URL_INPUT_LENGTH, RANDOM_CHUNK_BYTES, SB_FORMAT_GLOBAL } from './wire.ts';

export { MAX_URL_INPUT_LENGTH, SB_FORMAT_GLOBAL };

/**
 * The runtime bundle: a classic script (an IIFE), evaluated once per fresh context after
 * `globalThis.__sb_hooks` = { urlParse, urlSet, randomFill } has been set (by the boot bundle, in
 * the same script). It captures and deletes the hooks, captures the built-ins it relies on
 * (capability code may tamper with prototypes afterwards; that can only break its own globals), and
 * defines the globals non-enumerable, writable and configurable, like a browser's. Evaluated alone
 * it throws: the hooks are missing.
 */
export const RUNTIME_SOURCE: string = runtimeBundles().runtime;

// Host side of the hooks -----------------------------------------------------------------------

interface UrlComponents {
  href: string;
  origin: string;
  protocol: string;
  username: string;
  password: string;
  host: string;
  hostname: string;
  port: string;
  pathname: string;
  search: string;
  hash: string;
}

/**
 * The urlParse hook: parses with Node's WHATWG URL and returns the components as JSON, or null when
 * the input (resolved against base, if given) is not a valid URL or either string exceeds 64 KiB.
 */
export function hostUrlParse(input: string, base?: string): string | null {
  if (typeof input !== 'string' || input.length > MAX_URL_INPUT_LENGTH) return null;
  if (base !== undefined && (typeof base !== 'string' || base.length > MAX_URL_INPUT_LENGTH)) return null;
  let url: URL;
  try {
    url = base === undefined ? new URL(input) : new URL(input, base);
  } catch {
    return null;
  }
  return urlComponentsJson(url);
}

function urlComponentsJson(url: URL): string {
  const components: UrlComponents = {
    href: url.href,
    origin: url.origin,
    protocol: url.protocol,
    username: url.username,
    password: url.password,
    host: url.host,
    hostname: url.hostname,
    port: url.port,
    pathname: url.pathname,
    search: url.search,
    hash: url.hash,
  };
  return JSON.stringify(components);
}

/** The randomFill hook's host half: `length` fresh random bytes (at most 64 KiB per call). */
export function hostRandomBytes(length: number): Uint8Array {
  if (typeof length !== 'number' || !Number.isInteger(length) || length < 0 || length > RANDOM_CHUNK_BYTES) {
    throw fail('CAPABILITY_ERROR', 'sandbox runtime: random byte count must be an integer from 0 to 65536');
  }
  const bytes = new Uint8Array(length);
  randomFillSync(bytes);
  return bytes;
}

/** The URL setters Node's WHATWG URL has (searchParams is not one: it is not settable). */
const URL_SETTERS = new Set(['href', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']);

/**
 * The urlSet hook: `href` parsed by Node's URL, `field` set to `value` by Node's setter, and the
 * components as JSON; null when `href` is not a URL, the field is not a setter, either string
 * exceeds 64 KiB, or (for href) the new value is not a URL. Other setters ignore what they cannot
 * apply, as Node's do, and return the components unchanged.
 */
export function hostUrlSet(href: string, field: string, value: string): string | null {
  if (typeof href !== 'string' || href.length > MAX_URL_INPUT_LENGTH) return null;
  if (typeof value !== 'string' || value.length > MAX_URL_INPUT_LENGTH || !URL_SETTERS.has(field)) return null;
  let url: URL;
  try {
    url = new URL(href);
    (url as unknown as Record<string, string>)[field] = value;
  } catch {
    return null;
  }
  return urlComponentsJson(url);
}

// One multiplexed callback keeps installation to a single global handed across the boundary.
function hostCall(op: unknown, a: unknown, b: unknown, c: unknown): string | Uint8Array | null {
  if (op === HOOK_OP.urlParse) {
    if (typeof a !== 'string' || (b !== undefined && typeof b !== 'string')) return null;
    return hostUrlParse(a, b);
  }
  if (op === HOOK_OP.urlSet) {
    if (typeof a !== 'string' || typeof b !== 'string' || typeof c !== 'string') return null;
    return hostUrlSet(a, b, c);
  }
  if (op === HOOK_OP.random) return hostRandomBytes(a as number);
  throw fail('CAPABILITY_ERROR', 'sandbox runtime: unknown host operation');
}

// The global the host callback is handed in by; the boot bundle (sandbox/runtime/boot.ts) takes it
// and deletes it.
const HOST_GLOBAL = '__sb_host';

// The install script: boot, runtime, then the memory guards (last: they wrap constructors the
// runtime has already captured). Built from the bundles on first use.
let installSource: string | undefined;
function installSourceText(): string {
  if (installSource === undefined) {
    const b = runtimeBundles();
    installSource = b.boot + b.runtime + b.guards;
  }
  return installSource;
}
const INSTALL_FILENAME = 'substrate:runtime';

// Created once: a Callback is a host-side handle that can be handed to any number of contexts.
const hostCallback = new ivm.Callback(hostCall);

type CompiledScript = ivm.Script & { cachedData?: ivm.ExternalCopy<ArrayBuffer>; cachedDataRejected?: boolean };

// Compiled once per isolate: running the compiled script in another context of the same isolate
// costs a fraction of a millisecond.
const compiledInstall = new WeakMap<ivm.Isolate, ivm.Script>();
// V8 code cache of the install script, produced by the first compilation in this process. It makes the
// compilation in each new isolate several times cheaper. It only ever holds our own source's code.
let installCodeCache: ivm.ExternalCopy<ArrayBuffer> | undefined;

function installScript(isolate: ivm.Isolate): ivm.Script {
  let script = compiledInstall.get(isolate);
  if (script === undefined) {
    const cache = installCodeCache;
    const compiled = isolate.compileScriptSync(installSourceText(), cache === undefined
      ? { filename: INSTALL_FILENAME, produceCachedData: true }
      : { filename: INSTALL_FILENAME, cachedData: cache }) as CompiledScript;
    if (cache === undefined) installCodeCache = compiled.cachedData;
    else if (compiled.cachedDataRejected === true) installCodeCache = undefined;
    script = compiled;
    compiledInstall.set(isolate, script);
  }
  return script;
}

/**
 * Installs the runtime globals into a fresh context. Pass the context's isolate to reuse one
 * compiled script per isolate (faster); without it the source is evaluated (V8's compilation cache
 * still helps). Afterwards only `__sb_format` remains as a temporary global.
 */
export async function installRuntime(context: ivm.Context, isolate?: ivm.Isolate): Promise<void> {
  await context.global.set(HOST_GLOBAL, hostCallback);
  try {
    if (isolate !== undefined) await installScript(isolate).run(context);
    else await context.eval(installSourceText(), { filename: INSTALL_FILENAME });
  } catch (err) {
    await removeHostGlobal(context, false);
    throw err;
  }
}

/**
 * Same as installRuntime, with synchronous isolate calls: about ten times faster for a fresh
 * context, but it blocks the Node thread while the isolate is busy elsewhere, so use it only on an
 * isolate that is not running anything.
 */
export function installRuntimeSync(context: ivm.Context, isolate?: ivm.Isolate): void {
  context.global.setSync(HOST_GLOBAL, hostCallback);
  try {
    if (isolate !== undefined) installScript(isolate).runSync(context);
    else context.evalSync(installSourceText(), { filename: INSTALL_FILENAME });
  } catch (err) {
    void removeHostGlobal(context, true);
    throw err;
  }
}

async function removeHostGlobal(context: ivm.Context, sync: boolean): Promise<void> {
  try {
    if (sync) context.global.deleteSync(HOST_GLOBAL);
    else await context.global.delete(HOST_GLOBAL);
  } catch {
    // The context is unusable anyway; the caller gets the original error.
  }
}
