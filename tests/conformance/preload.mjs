// Loaded with `node --import` before the MCP conformance CLI (@modelcontextprotocol/conformance)
// so that it can test Substrate's /mcp, which it cannot do as published:
// - its bundle imports `globSync` from `fs`, which Node 20 lacks (Node 22 has it): the link fails
//   before anything runs. hooks.mjs hands that bundle a `fs` with globSync (see fs-node20.mjs);
// - it has no option to send an Authorization header, and every request to /mcp needs a token:
//   requests to SUBSTRATE_CONFORMANCE_URL's origin get `Authorization: Bearer
//   $SUBSTRATE_CONFORMANCE_TOKEN`, both through the global fetch (the MCP SDK client and the raw
//   requests of the scenarios) and through undici's request() (the DNS rebinding scenario; see
//   undici-bearer.mjs). Nothing else of a request is changed: Host and Origin stay the scenario's.

import { register } from 'node:module';

const target = process.env.SUBSTRATE_CONFORMANCE_URL;
const token = process.env.SUBSTRATE_CONFORMANCE_TOKEN;
if (!target || !token) throw new Error('SUBSTRATE_CONFORMANCE_URL and SUBSTRATE_CONFORMANCE_TOKEN must be set');
const origin = new URL(target).origin;

register('./hooks.mjs', import.meta.url);

const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = input instanceof Request ? input.url : String(input);
  if (new URL(url).origin !== origin) return realFetch(input, init);
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  headers.set('authorization', `Bearer ${token}`);
  return realFetch(input, { ...init, headers });
};
