// A store that cannot grow (the disk or its quota is full): SQLite fails the write and rolls its
// transaction back, so nothing acknowledged is lost and nothing half-written stays. This turns that
// failure into an error a caller can act on, one that names the data directory to free space in,
// instead of an internal error. JSON-RPC's internal code (-32603) keeps its meaning, the kernel
// could not do it, with `data.type` STORAGE_FULL to tell it apart.

import { RpcProtocolError, RPC_CODES, SubstrateError } from '../capabilities/errors.ts';

const FULL_CODES = new Set(['SQLITE_FULL']);
const FULL_MESSAGE = /database or disk is full/;

export function isStorageFull(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && FULL_CODES.has(code)) return true;
  // Wrapped on its way up (a failure of a nested step becomes a typed error with the message kept).
  return e instanceof SubstrateError && FULL_MESSAGE.test(e.message);
}

/** The error a caller gets when the store in `dataDir` is full; nothing of its request was written. */
export function storageFullError(dataDir: string): RpcProtocolError {
  return new RpcProtocolError(
    RPC_CODES.INTERNAL,
    `the store is full: no space left for the data directory ${dataDir}; nothing of this request was written. Free space there and retry.`,
    { type: 'STORAGE_FULL', dataDir },
  );
}
