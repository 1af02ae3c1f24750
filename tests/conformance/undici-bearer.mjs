// undici's request() for the conformance bundle, adding the kernel's bearer token to requests to
// its origin (set up by preload.mjs). The bundle imports nothing else from undici.

const real = await import(new URL(import.meta.url).searchParams.get('real'));
const origin = new URL(process.env.SUBSTRATE_CONFORMANCE_URL).origin;
const token = process.env.SUBSTRATE_CONFORMANCE_TOKEN;

export function request(url, opts = {}) {
  if (new URL(String(url)).origin !== origin) return real.request(url, opts);
  return real.request(url, { ...opts, headers: { ...opts.headers, authorization: `Bearer ${token}` } });
}
