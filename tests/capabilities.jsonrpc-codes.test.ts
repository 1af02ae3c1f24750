// The one map of JSON-RPC error codes: the values are the spec's, the reverse lookup names only the
// spec's own codes, and capabilities/errors.ts's RPC_CODES is the same object (not a copy).
import { describe, expect, it } from 'vitest';
import { JSONRPC_CODES, jsonRpcCodeName } from '../capabilities/jsonrpc-codes.ts';
import { RPC_CODES } from '../capabilities/errors.ts';

describe('JSONRPC_CODES', () => {
  it('holds the JSON-RPC 2.0 codes', () => {
    expect(JSONRPC_CODES).toEqual({
      PARSE_ERROR: -32700,
      INVALID_REQUEST: -32600,
      METHOD_NOT_FOUND: -32601,
      INVALID_PARAMS: -32602,
      INTERNAL: -32603,
      SERVER_ERROR: -32000,
    });
    expect(RPC_CODES).toBe(JSONRPC_CODES);
  });

  it('names the spec codes and nothing else', () => {
    expect(jsonRpcCodeName(-32700)).toBe('PARSE_ERROR');
    expect(jsonRpcCodeName(-32600)).toBe('INVALID_REQUEST');
    expect(jsonRpcCodeName(-32601)).toBe('METHOD_NOT_FOUND');
    expect(jsonRpcCodeName(-32602)).toBe('INVALID_PARAMS');
    expect(jsonRpcCodeName(-32603)).toBe('INTERNAL');
    expect(jsonRpcCodeName(-32000)).toBeUndefined();
    expect(jsonRpcCodeName(-32001)).toBeUndefined();
    expect(jsonRpcCodeName(0)).toBeUndefined();
  });
});
