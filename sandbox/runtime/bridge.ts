// The in-isolate half of the bridge (sandbox/bridge.ts is the host's): console, setTimeout /
// clearTimeout and the per-call `ctx`, all reaching the host through ONE host Reference that lives
// only in this module's state. sandbox/bridge.ts bundles it (esbuild, an IIFE) into
// BOOTSTRAP_SOURCE, which every context evaluates right after the runtime with the Reference as
// `$0`; `startBridge` returns the `dispatch` function the host keeps. Only strings and numbers
// cross: inputs, outputs, state values and errors are JSON text, parsed and stringified inside the
// isolate, so no host object is ever reachable.
//
// This code captures every intrinsic it uses when the bundle is evaluated (before capability code
// runs), uses null-prototype objects for everything handed to isolated-vm (which reads option
// fields through the prototype chain), and avoids spread, for-of and destructuring (they consult
// the overridable Array iterator). Capability code can break its own globals, never the bridge.
// Every tag and limit of the strings that cross comes from sandbox/wire.ts (and the kernel's
// limits from capabilities/); the protocol itself is described in sandbox/bridge.ts.
import {
  BARRIER_EVERY_CHARS,
  BARRIER_EVERY_MESSAGES,
  EXPORT_FLAG,
  INSPECT_TAG,
  LOG_CHARS_PER_RUN,
  LOG_MESSAGE_MAX,
  MAX_PENDING_REQUESTS,
  MAX_PENDING_TIMERS,
  SB_FETCH_GLOBAL,
  TAG,
  WRITE_FLUSH_CHARS,
  WRITE_TAG,
} from '../wire.ts';
import {
  MAX_PAYLOAD,
  checkWriteKey,
  checkWriteValue,
  decode,
  errorMessage,
  isTooDeep,
  jsonArg,
  keyArg,
  memoryError,
  slice,
  stateError,
  tooDeepWire,
  typedError,
  typedErrorWire,
  utf8Length,
  wire,
} from './bridge-errors.ts';
import { EFFECT_LIMITS } from '../../capabilities/effects.ts';

/** The host's Reference (isolated-vm) to its `serve` function, as the isolate sees it. */
export interface HostReference {
  applyIgnored(receiver: undefined, args: unknown[], options: object): void;
  applySync(receiver: undefined, args: unknown[], options: object): unknown;
}

/** What the host calls: dispatch(op, ...) (see sandbox/bridge.ts). */
export type Dispatch = (op: string, a?: unknown, b?: unknown, c?: unknown, d?: unknown) => unknown;

let host: HostReference;
let refApplyIgnored: HostReference['applyIgnored'];
let refApplySync: HostReference['applySync'];

/** Takes the host's Reference (captured here, never handed on) and returns the dispatcher. */
export function startBridge(ref: HostReference): Dispatch {
  host = ref;
  refApplyIgnored = ref.applyIgnored;
  refApplySync = ref.applySync;
  return dispatch;
}

const TAG_VALUE_CODE = TAG.value.charCodeAt(0);
const G = globalThis;
const ReflectApply = Reflect.apply;
const ObjectFreeze = Object.freeze;
const ObjectDefineProperty = Object.defineProperty as (o: object, key: PropertyKey, desc: PropertyDescriptor & { __proto__?: null }) => object;
const hasOwn = Object.prototype.hasOwnProperty;
const JSONparse = JSON.parse;
const JSONstringify = JSON.stringify;
const TypeErrorCtor = TypeError;
const StringCtor = String;
const NumberCtor = Number;
const strCharCodeAt = String.prototype.charCodeAt;
const PromiseCtor = Promise;
const WRITE_FLUSH = WRITE_FLUSH_CHARS;
const LOG_MAX = LOG_MESSAGE_MAX;
const LOG_CHARS = LOG_CHARS_PER_RUN;
const MAX_TIMERS = MAX_PENDING_TIMERS;
const MAX_REQUESTS = MAX_PENDING_REQUESTS;
const BARRIER_MESSAGES = BARRIER_EVERY_MESSAGES;
const BARRIER_CHARS = BARRIER_EVERY_CHARS;
const IGNORED = ObjectFreeze({ __proto__: null });

function fallbackFormat(args) {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    let s;
    try { s = typeof a === 'string' ? a : JSONstringify(a); } catch (e) { s = undefined; }
    if (typeof s !== 'string') { try { s = StringCtor(a); } catch (e) { s = '[unprintable]'; } }
    out = i === 0 ? s : out + ' ' + s;
  }
  return out;
}
const format = typeof G.__sb_format === 'function' ? G.__sb_format : fallbackFormat;
delete G.__sb_format;
const linkFetch = G[SB_FETCH_GLOBAL];
delete G[SB_FETCH_GLOBAL];
// Not an ECMAScript global, and not in the contract's list.
delete G.WebAssembly;

let sinceBarrier = 0;
let charsSinceBarrier = 0;
function notify(callId, op, ns, a, b, requestId, w?) {
  ReflectApply(refApplyIgnored, host, [undefined, [callId, op, ns, a, b, requestId, w], IGNORED]);
  sinceBarrier++;
  if (typeof a === 'string') charsSinceBarrier += a.length;
  if (typeof w === 'string') charsSinceBarrier += w.length;
  if (sinceBarrier >= BARRIER_MESSAGES || charsSinceBarrier >= BARRIER_CHARS) {
    sinceBarrier = 0;
    charsSinceBarrier = 0;
    // Answered once the host has handled every message before it (one ordered queue), with the
    // refusal of the call's buffered writes if there is one: a call that only writes, awaiting
    // nothing but resolved promises, never takes the 'refuse' message from its queue.
    let refusal;
    try { refusal = ReflectApply(refApplySync, host, [undefined, [callId, 'barrier'], IGNORED]); } catch (e) { refusal = undefined; }
    if (typeof refusal === 'string' && callId !== 0) refusals[callId] = refusal;
  }
}
// ---- which call the isolate is running for ----
// fetch is a global, yet its request belongs to one call (several calls of one version may run in
// this isolate at once). The rule: `currentCall` is the call on whose behalf the host last entered
// the isolate: run(callId) enters for that call, reply(requestId) for the call that made the
// request, fire(timerId) for the call that was current when the timer was set. It stays set after
// the entry returns, so the continuations that entry's microtasks run (code after an await) see
// it too. Only when it is unknown (0: module evaluation, a timer set with none known) or its call
// is over does fetch fall back to the latest call still in flight (the rule console output follows
// on the host, hosted-isolate.ts).
let currentCall = 0;
let liveCalls = { __proto__: null };
function callForEffects() {
  if (currentCall !== 0 && liveCalls[currentCall] === true) return currentCall;
  let latest = 0;
  // Integer keys enumerate in ascending order: the last is the latest call.
  for (const k in liveCalls) latest = NumberCtor(k);
  return latest;
}

let requestSeq = 0;
let requests = { __proto__: null };
let pendingRequests = 0;
// Unanswered requests by call: a call that is over (it returned, or the host ended it at its
// deadline) is never answered, and its requests must not count against the isolate's others.
let pendingOf = { __proto__: null };
// Every request carries the call's buffered writes (see ctx below), which the host applies first.
// `raw`: the answer's value is resolved as its JSON text (fetch parses it itself), never as an
// object whose `then` capability code could have defined on Object.prototype.
function send(callId, op, ns, a, b, raw?) {
  if (refusals[callId] !== undefined) return rejected(typedError(refusals[callId]));
  if (pendingRequests >= MAX_REQUESTS) return rejected(memoryError('pending ctx requests', MAX_REQUESTS));
  pendingRequests++;
  pendingOf[callId] = (pendingOf[callId] === undefined ? 0 : pendingOf[callId]) + 1;
  const id = ++requestSeq;
  const p = new PromiseCtor(function (resolve, reject) { requests[id] = { __proto__: null, resolve: resolve, reject: reject, callId: callId, raw: raw === true }; });
  notify(callId, op, ns, a, b, id, takeWrites(callId));
  return p;
}
function rejected(e) {
  return new PromiseCtor(function (resolve, reject) { reject(e); });
}
// Forgets what a call that is over left behind: its unanswered requests, writes and refusal.
function endCall(callId) {
  delete liveCalls[callId];
  const n = pendingOf[callId];
  delete pendingOf[callId];
  if (n !== undefined && n > 0) {
    for (const id in requests) {
      if (requests[id].callId === callId) { delete requests[id]; pendingRequests--; }
    }
  }
  delete writes[callId];
  delete writeSize[callId];
  delete refusals[callId];
}
function reply(id, r) {
  const w = requests[id];
  if (w === undefined) return;
  delete requests[id];
  pendingRequests--;
  pendingOf[w.callId]--;
  currentCall = w.callId;
  let v;
  try {
    v = w.raw && typeof r === 'string' && ReflectApply(strCharCodeAt, r, [0]) === TAG_VALUE_CODE ? slice(r, 1) : decode(r);
  } catch (e) { w.reject(e); return; }
  w.resolve(v);
}

// ---- console ----
let logBudget = 1000;
let logChars = LOG_CHARS;
function log(callId, level, args) {
  if (logBudget <= 0 || logChars <= 0) return;
  logBudget--;
  let msg;
  try { msg = ReflectApply(format, undefined, [args]); } catch (e) { msg = '[unformattable log arguments]'; }
  if (typeof msg !== 'string') msg = fallbackFormat([msg]);
  const max = logChars < LOG_MAX ? logChars : LOG_MAX;
  if (msg.length > max) msg = slice(msg, 0, max) + '... [truncated]';
  logChars -= msg.length;
  notify(callId, 'log', level, msg, undefined, 0);
}
const consoleObject = {
  log: function log_(...args) { log(0, 'log', args); },
  info: function info(...args) { log(0, 'info', args); },
  warn: function warn(...args) { log(0, 'warn', args); },
  error: function error(...args) { log(0, 'error', args); },
  debug: function debug(...args) { log(0, 'debug', args); },
};
ObjectDefineProperty(consoleObject.log, 'name', { __proto__: null, value: 'log' });

// ---- timers (host timers, clamped by the host to the deadlines of the calls in flight) ----
let timers = { __proto__: null };
let timerCount = 0;
let timerSeq = 0;
function setTimeout(callback, ms, ...args) {
  if (typeof callback !== 'function') throw new TypeErrorCtor('setTimeout: the callback must be a function');
  if (timerCount >= MAX_TIMERS) throw memoryError('pending timers', MAX_TIMERS);
  let delay = NumberCtor(ms);
  if (!(delay > 0)) delay = 0;
  const id = ++timerSeq;
  timers[id] = { __proto__: null, callback: callback, args: args, callId: callForEffects() };
  timerCount++;
  notify(0, 'setTimeout', '', id, delay, 0);
  return id;
}
function clearTimeout(id) {
  if (typeof id !== 'number' || timers[id] === undefined) return;
  delete timers[id];
  timerCount--;
  notify(0, 'clearTimeout', '', id, undefined, 0);
}
function fire(id) {
  const t = timers[id];
  if (t === undefined) return;
  delete timers[id];
  timerCount--;
  currentCall = t.callId;
  try { ReflectApply(t.callback, undefined, t.args); } catch (e) { log(0, 'error', ['Uncaught exception in a setTimeout callback:', e]); }
}
// No call in flight: nothing pending may keep closures of finished calls alive.
function clearAll() {
  timers = { __proto__: null };
  timerCount = 0;
  requests = { __proto__: null };
  pendingRequests = 0;
  pendingOf = { __proto__: null };
  liveCalls = { __proto__: null };
  currentCall = 0;
  refusals = { __proto__: null };
  writes = { __proto__: null };
  writeSize = { __proto__: null };
}

function define(name, value) {
  ObjectDefineProperty(G, name, { __proto__: null, value: value, writable: true, configurable: true, enumerable: false });
}
define('console', consoleObject);
define('setTimeout', setTimeout);
define('clearTimeout', clearTimeout);

// ---- fetch (the global is the runtime's, sandbox/runtime/fetch.ts; this is its transport) ----
const MAX_REQUEST_BODY = EFFECT_LIMITS.requestBodyBytes;
function fetchTransport(requestJson, url, bodyBytes) {
  const callId = callForEffects();
  if (callId === 0) {
    return rejected(typedError(wire('EFFECT_FORBIDDEN', 'fetch of ' + url + ' outside a call: requests are made only while a call runs',
      { __proto__: null, url: url, reason: 'no call in flight' })));
  }
  if (bodyBytes > MAX_REQUEST_BODY) {
    return rejected(typedError(wire('PAYLOAD_TOO_LARGE', 'the request body is ' + bodyBytes + ' bytes, the limit is ' + MAX_REQUEST_BODY,
      { __proto__: null, what: 'request body', limit: MAX_REQUEST_BODY, size: bodyBytes, url: url })));
  }
  try { return send(callId, 'fetch', '', requestJson, undefined, true); } catch (e) { return rejected(e); }
}
if (typeof linkFetch === 'function') ReflectApply(linkFetch, undefined, [fetchTransport]);

// ---- ctx ----
let grants = { __proto__: null };
let defaultExport;
let migrateExport;

// The ctx functions are not async functions: an async function resolving with our promise would
// look up its (replaceable) then. They return the request's promise, or a rejected one.
//
// Writes are checked here (the same checks and errors as the host's) and buffered per call: a set
// or delete resolves at once, without a round trip. The buffer goes to the host with the call's next
// request (get, list, call), in front of its result, or when it grows past WRITE_FLUSH characters;
// all of these are messages on one ordered channel, so the host applies the writes before anything
// the call does after them. A write the host refuses anyway (the transaction's size cap) fails the
// call's next request, or the call itself.
let writes = { __proto__: null };
let writeSize = { __proto__: null };
// Calls whose buffered writes the host refused (the tagged error's JSON): their further writes and
// requests fail at once instead of sending what the host would drop.
let refusals = { __proto__: null };
function resolved(v) {
  return new PromiseCtor(function (resolve) { resolve(v); });
}
function takeWrites(callId) {
  const w = writes[callId];
  if (w !== undefined) { delete writes[callId]; delete writeSize[callId]; }
  return w;
}
function flush(callId) {
  const w = takeWrites(callId);
  if (w !== undefined) notify(callId, 'flush', '', undefined, undefined, 0, w);
}
function checkWritable(ns, name) {
  if (ns === '') return;
  if (grants[ns] !== 'rw') {
    throw stateError('STATE_FORBIDDEN', 'shared namespace ' + ns + ' is granted read-only to ' + name, { __proto__: null, namespace: ns, access: 'r' });
  }
}
// Record: kind, lengths of ns, key and value, ':', then ns, key and value; the host parses it.
function bufferWrite(callId, ns, key, text) {
  if (refusals[callId] !== undefined) return rejected(typedError(refusals[callId]));
  const rec = text === undefined
    ? WRITE_TAG.delete + ns.length + ',' + key.length + ',0:' + ns + key
    : WRITE_TAG.set + ns.length + ',' + key.length + ',' + text.length + ':' + ns + key + text;
  const prev = writes[callId];
  writes[callId] = prev === undefined ? rec : prev + rec;
  const size = (prev === undefined ? 0 : writeSize[callId]) + rec.length;
  writeSize[callId] = size;
  if (size > WRITE_FLUSH) flush(callId);
  return resolved(undefined);
}
function stateApi(callId, ns, name) {
  return ObjectFreeze({
    get: function get(key) {
      try { return send(callId, 'get', ns, keyArg(key), undefined); } catch (e) { return rejected(e); }
    },
    set: function set(key, value) {
      try {
        const k = keyArg(key);
        const text = jsonArg(value, 'value');
        checkWritable(ns, name);
        checkWriteKey(k);
        checkWriteValue(text);
        return bufferWrite(callId, ns, k, text);
      } catch (e) { return rejected(e); }
    },
    delete: function delete_(key) {
      try {
        const k = keyArg(key);
        checkWritable(ns, name);
        checkWriteKey(k);
        return bufferWrite(callId, ns, k, undefined);
      } catch (e) { return rejected(e); }
    },
    list: function list(opts) {
      try {
        let o: object = { __proto__: null };
        if (opts !== undefined && opts !== null) o = { __proto__: null, prefix: opts.prefix, limit: opts.limit, cursor: opts.cursor };
        return send(callId, 'list', ns, jsonArg(o, 'list options'), undefined);
      } catch (e) { return rejected(e); }
    },
    ns: function ns_(name_) {
      if (typeof name_ !== 'string' || !ReflectApply(hasOwn, grants, [name_])) {
        throw typedError(wire('STATE_FORBIDDEN', 'shared namespace ' + StringCtor(name_) + ' is not granted in manifest.state.shared',
          { __proto__: null, namespace: typeof name_ === 'string' ? name_ : null }));
      }
      return stateApi(callId, name_, name);
    },
  });
}
function makeCtx(callId, invocation) {
  return ObjectFreeze({
    call: function call(name, input) {
      try {
        const text = input === undefined ? 'null' : jsonArg(input, 'input');
        if (text === undefined) {
          throw typedError(wire('INVALID_INPUT', 'the input of ctx.call has no JSON form', { __proto__: null, path: '', message: 'not JSON', name: typeof name === 'string' ? name : null }));
        }
        // Capability names have at most 128 characters: a longer one is refused by the host anyway.
        return send(callId, 'call', '', typeof name === 'string' ? slice(name, 0, 129) : null, text);
      } catch (e) { return rejected(e); }
    },
    // Recorded in the call's frame on the host and stored only when the tree commits (docs/jobs.md).
    enqueue: function enqueue(name, input, opts) {
      try {
        let delayMs;
        let key;
        if (opts !== undefined && opts !== null) { delayMs = opts.delayMs; key = opts.key; }
        const text = jsonArg({ __proto__: null, input: input === undefined ? null : input, delayMs: delayMs, key: key }, 'input');
        if (text === undefined) {
          throw typedError(wire('INVALID_INPUT', 'the input of ctx.enqueue has no JSON form', { __proto__: null, path: '', message: 'not JSON', name: typeof name === 'string' ? name : null }));
        }
        return send(callId, 'enqueue', '', typeof name === 'string' ? slice(name, 0, 129) : null, text);
      } catch (e) { return rejected(e); }
    },
    state: stateApi(callId, '', invocation.name),
    log: function log_(...args) { log(callId, 'log', args); },
    invocation: ObjectFreeze(invocation.job === undefined ? invocation : { ...invocation, job: ObjectFreeze(invocation.job) }),
  });
}
function outputResult(out, name) {
  let text;
  try { text = JSONstringify(out === undefined ? null : out); } catch (e) {
    if (isTooDeep(e)) return TAG.typed + tooDeepWire('output');
    return TAG.typed + wire('INVALID_OUTPUT', 'the output is not JSON: ' + errorMessage(e), { __proto__: null, path: '', message: errorMessage(e), name: name });
  }
  if (typeof text !== 'string') {
    return TAG.typed + wire('INVALID_OUTPUT', 'the output has no JSON form', { __proto__: null, path: '', message: 'not JSON', name: name });
  }
  if (text.length > MAX_PAYLOAD) {
    const size = utf8Length(text);
    return TAG.typed + wire('PAYLOAD_TOO_LARGE', 'output is ' + size + ' bytes, the limit is ' + MAX_PAYLOAD, { __proto__: null, what: 'output', limit: MAX_PAYLOAD, size: size });
  }
  return TAG.value + text;
}
function errorResult(e) {
  const w = typedErrorWire(e);
  if (typeof w === 'string') return TAG.typed + w;
  const message = errorMessage(e);
  let stack;
  try { const s = e !== null && typeof e === 'object' ? e.stack : undefined; if (typeof s === 'string') stack = s; } catch (x) { stack = undefined; }
  if (stack !== undefined && stack.length > 16384) stack = slice(stack, 0, 16384) + '...';
  return TAG.thrown + JSONstringify({ __proto__: null, message: message, stack: stack });
}
// Awaits only what capability code returned; the result leaves as a message.
async function run(callId, entry, inputJson, invocationJson) {
  logBudget = logBudget > 9000 ? 10000 : logBudget + 1000;
  logChars = logChars > 3 * LOG_CHARS ? 4 * LOG_CHARS : logChars + LOG_CHARS;
  let name: string | null;
  let result;
  currentCall = callId;
  liveCalls[callId] = true;
  try {
    const invocation = JSONparse(invocationJson);
    name = invocation.name;
    const arg = JSONparse(inputJson);
    const ctx = makeCtx(callId, invocation);
    if (entry === 'migrate') {
      result = typeof migrateExport === 'function' ? outputResult(await ReflectApply(migrateExport, undefined, [ctx, arg]), name) : 'vnull';
    } else if (typeof defaultExport !== 'function') {
      result = TAG.thrown + JSONstringify({ __proto__: null, message: 'the module has no default export function' });
    } else {
      result = outputResult(await ReflectApply(defaultExport, undefined, [arg, ctx]), name);
    }
  } catch (e) {
    result = errorResult(e);
  }
  // A failed call's writes are discarded anyway; a successful one's reach the host first.
  const w = takeWrites(callId);
  endCall(callId);
  if (currentCall === callId) currentCall = 0;
  notify(callId, 'done', '', result, undefined, 0, ReflectApply(strCharCodeAt, result, [0]) === TAG_VALUE_CODE ? w : undefined);
}
function bind(ns, grantsJson) {
  grants = JSONparse(grantsJson);
  try { defaultExport = ns.default; } catch (e) { defaultExport = undefined; }
  try { migrateExport = ns.migrate; } catch (e) { migrateExport = undefined; }
  return (typeof defaultExport === 'function' ? EXPORT_FLAG.default : EXPORT_FLAG.none) + (typeof migrateExport === 'function' ? EXPORT_FLAG.migrate : EXPORT_FLAG.none);
}
function inspect(ns) {
  let manifest;
  let d;
  let m;
  try { manifest = ns.manifest; d = ns.default; m = ns.migrate; } catch (e) {
    return INSPECT_TAG.failed + 'the module did not finish evaluating: ' + errorMessage(e);
  }
  let text = '';
  if (manifest !== undefined) {
    try { text = JSONstringify(manifest); } catch (e) { return INSPECT_TAG.failed + 'the manifest export is not JSON: ' + errorMessage(e); }
    if (typeof text !== 'string') return INSPECT_TAG.failed + 'the manifest export has no JSON form';
    if (text.length > MAX_PAYLOAD) return INSPECT_TAG.failed + 'the manifest export is too large';
  }
  return INSPECT_TAG.ok + (typeof d === 'function' ? EXPORT_FLAG.default : EXPORT_FLAG.none) + (typeof m === 'function' ? EXPORT_FLAG.migrate : EXPORT_FLAG.none) + text;
}
function dispatch(op, a, b, c, d) {
  if (op === 'reply') { reply(a, b); return; }
  if (op === 'run') { run(a, b, c, d); return; }
  if (op === 'fire') return fire(a);
  if (op === 'refuse') { if (typeof b === 'string') refusals[a] = b; return; }
  if (op === 'end') { endCall(a); return; }
  if (op === 'clear') return clearAll();
  if (op === 'bind') return bind(a, b);
  if (op === 'inspect') return inspect(a);
  return 1;
}
