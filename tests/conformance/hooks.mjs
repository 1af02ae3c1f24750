// Module resolution hooks (registered by preload.mjs) for the conformance CLI's bundle only: its
// `fs` gains globSync on Node 20, its `undici` sends the kernel's bearer token. Every other module,
// and these shims' own imports, resolve as usual.

const BUNDLE = /\/node_modules\/@modelcontextprotocol\/conformance\/dist\//;
const SHIMS = { fs: './fs-node20.mjs', 'node:fs': './fs-node20.mjs', undici: './undici-bearer.mjs' };

export async function resolve(specifier, context, next) {
  const shim = Object.hasOwn(SHIMS, specifier) ? SHIMS[specifier] : undefined;
  if (shim && context.parentURL && BUNDLE.test(context.parentURL)) {
    const url = new URL(shim, import.meta.url);
    // The shim imports the real module from where the bundle would have found it.
    if (specifier === 'undici') url.searchParams.set('real', (await next(specifier, context)).url);
    return { url: url.href, shortCircuit: true };
  }
  return next(specifier, context);
}
