// The JSON-RPC 2.0 error codes Substrate speaks, defined once here (WebSocket RPC, MCP over HTTP, the
// CLI's error reports and the origin refusals all use them). Pure constants: imports nothing.
// Everything with a contract error type travels as SERVER_ERROR with data.type; the others are the
// spec's own codes for what has no contract type.

export const JSONRPC_CODES = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL: -32603,
  SERVER_ERROR: -32000,
} as const;

export type JsonRpcCodeName = keyof typeof JSONRPC_CODES;
export type JsonRpcCode = (typeof JSONRPC_CODES)[JsonRpcCodeName];

/** The names of the codes the JSON-RPC spec itself defines (-32700 … -32603). SERVER_ERROR is left
 *  out on purpose: it is the implementation-defined code whose meaning is its data.type, so a bare
 *  -32000 has no name of its own (callers fall back to their own wording for it). */
const STANDARD_NAMES: ReadonlyMap<number, Exclude<JsonRpcCodeName, 'SERVER_ERROR'>> = new Map([
  [JSONRPC_CODES.PARSE_ERROR, 'PARSE_ERROR'],
  [JSONRPC_CODES.INVALID_REQUEST, 'INVALID_REQUEST'],
  [JSONRPC_CODES.METHOD_NOT_FOUND, 'METHOD_NOT_FOUND'],
  [JSONRPC_CODES.INVALID_PARAMS, 'INVALID_PARAMS'],
  [JSONRPC_CODES.INTERNAL, 'INTERNAL'],
]);

/** -32602 -> 'INVALID_PARAMS'; undefined for SERVER_ERROR and codes outside the spec's set. */
export function jsonRpcCodeName(code: number): Exclude<JsonRpcCodeName, 'SERVER_ERROR'> | undefined {
  return STANDARD_NAMES.get(code);
}
