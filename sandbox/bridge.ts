// The bridge between a context and its host. The bootstrap that runs inside every context after the
// runtime (console, setTimeout/clearTimeout and the per-call `ctx`) is TypeScript in
// sandbox/runtime/bridge.ts, bundled (runtime-bundle.ts) into BOOTSTRAP_SOURCE; it reaches the host
// through ONE host Reference that lives only in the bundle's closure. Only strings and numbers
// cross: inputs, outputs, state values and errors are JSON text, parsed and stringified inside the
// isolate, so no host object is ever reachable.
//
// The in-isolate code captures every intrinsic it uses before capability code runs, uses
// null-prototype objects for everything handed to isolated-vm (which reads option fields through
// the prototype chain), and avoids spread, for-of and destructuring (they consult the overridable
// Array iterator). Capability code can break its own globals, never the bridge.
//
// Both directions are plain messages, no promise crosses: isolated-vm's promise proxying resolves
// an in-isolate promise with another promise, which looks up a `then` that capability code can
// replace.
//   host -> isolate, dispatch(op, ...): run(callId, entry, inputJson, invocationJson) (the result
//     comes back as a `done` message), reply(requestId, tagged answer), bind(namespace, grantsJson)
//     -> "d-"/"dm"/"--", inspect(namespace) -> "i" + flags + manifest JSON ("" if none) | "e" + why,
//     fire(timerId), clear(), probe().
//   isolate -> host, host(callId, op, ns, a, b, requestId, writes): get/list/call (answered by a
//     `reply`), done (a = tagged result), flush, log (callId 0 = console, attributed by the host),
//     setTimeout, clearTimeout. `writes`: the call's buffered set/delete records, applied first (a
//     set or delete is checked in here and needs no round trip of its own).
// Every tag and limit of the strings that cross is defined once in wire.ts, which both halves import.

import { BRIDGE_GLOBAL_NAME, runtimeBundles } from './runtime-bundle.ts';

// The host's half of the wire format lives in wire.ts; re-exported for the host's importers.
export { answer, MAX_PENDING_TIMERS, parseRunAnswer, TAG } from './wire.ts';

/** The body of the closure each context evaluates with the host's Reference as `$0`: the bridge
 *  bundle (`var __sb_bridge = ...`, local to the closure), then the dispatcher it returns. */
export const BOOTSTRAP_SOURCE: string = runtimeBundles().bridge + `\nreturn ${BRIDGE_GLOBAL_NAME}.startBridge($0);\n`;
