// Tokens as stored rows: create, look up by secret hash, list, revoke.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store } from '../store/store.ts';

let dir: string;
let store: Store;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-tokens-'));
  store = Store.open(path.join(dir, 'substrate.db'));
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('store tokens', () => {
  it('creates, finds, lists and revokes', () => {
    const t = store.createToken({ id: 'a1', name: 'ci', role: 'agent', secretHash: 'hash-1' });
    expect(t).toMatchObject({ id: 'a1', name: 'ci', role: 'agent', revokedAt: null });
    store.createToken({ id: 'o1', name: 'root', role: 'operator', secretHash: 'hash-2' });

    expect(store.tokenBySecretHash('hash-1')).toEqual(t);
    expect(store.tokenBySecretHash('nope')).toBeUndefined();
    expect(store.token('o1')?.role).toBe('operator');
    expect(store.tokens().map((x) => x.id).sort()).toEqual(['a1', 'o1']);

    expect(store.revokeToken('a1')).toBe(true);
    const revoked = store.token('a1')!;
    expect(revoked.revokedAt).not.toBeNull();
    expect(store.tokenBySecretHash('hash-1')?.revokedAt).toBe(revoked.revokedAt);
    expect(store.revokeToken('a1')).toBe(true);
    expect(store.token('a1')!.revokedAt).toBe(revoked.revokedAt);
    expect(store.revokeToken('missing')).toBe(false);
    expect(store.token('o1')!.revokedAt).toBeNull();
  });

  it('refuses a duplicate secret hash', () => {
    store.createToken({ id: 'a', name: 'a', role: 'client', secretHash: 'same' });
    expect(() => store.createToken({ id: 'b', name: 'b', role: 'client', secretHash: 'same' })).toThrow();
  });
});
