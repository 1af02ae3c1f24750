// The typed errors of the contract, created in this one place. Every failure a caller can see is a
// SubstrateError whose `type` is one of ErrorType; `data` carries what the caller needs to act
// (which limit, which test, which dependency, the capability's message and stack).
// Errors cross process boundaries (sandbox worker -> kernel -> client) as plain WireError values.
//
// The rule for which type a failure gets (docs/protocol.md, "Errors"):
//   a limit was exceeded          → the limit's kind decides (LIMIT_ERROR_TYPES, use exceeded()):
//                                   data too big or too deep PAYLOAD_TOO_LARGE, too much work at
//                                   once or per run OVERLOADED, time TIMEOUT, memory MEMORY_LIMIT,
//                                   call-tree depth CALL_DEPTH_EXCEEDED;
//   a caller's value is refused   → INVALID_INPUT (schemas, state keys, options), or the specific
//                                   type the contract names (INVALID_MANIFEST, COMPILE_ERROR, …);
//   a capability's value refused  → INVALID_OUTPUT;
//   capability code threw or did  → CAPABILITY_ERROR (its message and stack in data);
//   something the sandbox refuses
//   who may do what               → UNAUTHORIZED (no valid token), FORBIDDEN (role or owner),
//                                   STATE_FORBIDDEN (a namespace not declared or granted);
//   the sandbox process died      → SANDBOX_CRASHED, unless a limit explains it (MEMORY_LIMIT).

export const ERROR_TYPES = [
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'VERSION_EXISTS',
  'VERSION_NOT_NEWER',
  'INVALID_MANIFEST',
  'COMPILE_ERROR',
  'DEPENDENCY_UNSATISFIED',
  'DEPENDENCY_CYCLE',
  'DEPENDENTS_EXIST',
  'GATE_FAILED',
  'MIGRATION_FAILED',
  'INVALID_INPUT',
  'INVALID_OUTPUT',
  'CAPABILITY_ERROR',
  'TIMEOUT',
  'MEMORY_LIMIT',
  'CALL_DEPTH_EXCEEDED',
  'UNDECLARED_DEPENDENCY',
  'STATE_CONFLICT',
  'STATE_FORBIDDEN',
  'PAYLOAD_TOO_LARGE',
  'OVERLOADED',
  'SANDBOX_CRASHED',
  'EFFECT_FORBIDDEN',
  'EFFECT_FAILED',
  'ROLLOUT_ACTIVE',
  'REPLAY_FAILED',
] as const;

export type ErrorType = (typeof ERROR_TYPES)[number];

/** JSON-RPC error codes (defined in jsonrpc-codes.ts); everything typed uses SERVER_ERROR with data.type. */
export { JSONRPC_CODES as RPC_CODES } from './jsonrpc-codes.ts';

export type ErrorData = { [key: string]: unknown };

/** An error as it travels between processes and over the wire. */
export interface WireError {
  type: ErrorType;
  message: string;
  data: ErrorData;
}

export class SubstrateError extends Error {
  readonly type: ErrorType;
  readonly data: ErrorData;

  constructor(type: ErrorType, message: string, data: ErrorData = {}) {
    super(message);
    this.name = 'SubstrateError';
    this.type = type;
    this.data = data;
  }

  toWire(): WireError {
    return { type: this.type, message: this.message, data: this.data };
  }

  static fromWire(w: WireError): SubstrateError {
    return new SubstrateError(w.type, w.message, w.data ?? {});
  }
}

export function isErrorType(t: unknown): t is ErrorType {
  return typeof t === 'string' && (ERROR_TYPES as readonly string[]).includes(t);
}

/** The one constructor everything uses: `fail('NOT_FOUND', 'no capability x', { name: 'x' })`. */
export function fail(type: ErrorType, message: string, data: ErrorData = {}): SubstrateError {
  return new SubstrateError(type, message, data);
}

/** The kinds of limit a failure can exceed, and the type each gets (the rule above). */
export type LimitKind = 'size' | 'work' | 'time' | 'memory' | 'callDepth';
export const LIMIT_ERROR_TYPES: { readonly [K in LimitKind]: ErrorType } = {
  size: 'PAYLOAD_TOO_LARGE',
  work: 'OVERLOADED',
  time: 'TIMEOUT',
  memory: 'MEMORY_LIMIT',
  callDepth: 'CALL_DEPTH_EXCEEDED',
};

/** A limit exceeded: `exceeded('size', 'source is larger than 1 MiB', { what: 'source', limit })`. */
export function exceeded(kind: LimitKind, message: string, data: ErrorData = {}): SubstrateError {
  return new SubstrateError(LIMIT_ERROR_TYPES[kind], message, data);
}

/** Turns anything thrown into a SubstrateError; unknown exceptions are kept as an internal detail. */
export function asSubstrateError(e: unknown, fallback: ErrorType = 'CAPABILITY_ERROR'): SubstrateError {
  if (e instanceof SubstrateError) return e;
  if (e && typeof e === 'object' && isErrorType((e as WireError).type) && typeof (e as WireError).message === 'string') {
    return SubstrateError.fromWire(e as WireError);
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return new SubstrateError(fallback, err.message, { stack: err.stack });
}

/** A JSON-RPC protocol-level error (parse, invalid request/params, unknown method): not a typed error. */
export class RpcProtocolError extends Error {
  readonly code: number;
  readonly data?: ErrorData;
  constructor(code: number, message: string, data?: ErrorData) {
    super(message);
    this.name = 'RpcProtocolError';
    this.code = code;
    this.data = data;
  }
}
