// The typed errors of the contract, created in this one place. Every failure a caller can see is a
// SubstrateError whose `type` is one of ErrorType; `data` carries what the caller needs to act
// (which limit, which test, which dependency, the capability's message and stack).
// Errors cross process boundaries (sandbox worker -> kernel -> client) as plain WireError values.

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
