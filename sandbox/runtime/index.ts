// Entry of the in-isolate runtime bundle (sandbox/runtime.ts bundles it with esbuild into
// RUNTIME_SOURCE): defines the globals the contract lists, plus the hidden console formatter
// `__sb_format` (SB_FORMAT_GLOBAL) and the fetch link `__sb_fetch` (SB_FETCH_GLOBAL), which the
// bridge captures and deletes before capability code runs.
// console, setTimeout and clearTimeout are the bridge's (bridge.ts).
//
// Import order is evaluation order: the hooks are taken (and deleted from the global) first, then
// the primordials are captured, then the globals are built from them.
import './hooks.ts';
import { defineGlobal } from './primordials.ts';
import { TextEncoder, TextDecoder } from './encoding.ts';
import { btoa, atob } from './base64.ts';
import { structuredClone } from './clone.ts';
import { queueMicrotask } from './microtask.ts';
import { crypto } from './crypto.ts';
import { URLSearchParams } from './search-params.ts';
import { URL } from './url.ts';
import { sbFormat } from './format.ts';
import { Headers } from './headers.ts';
import { Request, Response } from './request-response.ts';
import { fetch, linkFetch } from './fetch.ts';

defineGlobal('TextEncoder', TextEncoder);
defineGlobal('TextDecoder', TextDecoder);
defineGlobal('URL', URL);
defineGlobal('URLSearchParams', URLSearchParams);
defineGlobal('atob', atob);
defineGlobal('btoa', btoa);
defineGlobal('structuredClone', structuredClone);
defineGlobal('queueMicrotask', queueMicrotask);
defineGlobal('crypto', crypto);
defineGlobal('Headers', Headers);
defineGlobal('Request', Request);
defineGlobal('Response', Response);
defineGlobal('fetch', fetch);
defineGlobal('__sb_format', sbFormat);
defineGlobal('__sb_fetch', linkFetch);
