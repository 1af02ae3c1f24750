// Bearer tokens: creation (the secret is shown once and stored only as its sha256), verification on
// every call (so a revocation reaches connections already open), and the first operator token that
// a new data directory gets in <data>/operator.token (mode 0600).

import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { nanoid } from 'nanoid';
import type { Principal, Role } from '../capabilities/types.ts';
import { fail } from '../capabilities/errors.ts';
import type { StoreApi, TokenRow } from '../store/types.ts';
import type { TokenCreateResult, TokenRevokeResult, TokenListResult } from './api.ts';
import { TOKEN_FILE } from './data-dir.ts';

export { TOKEN_FILE };

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export class Auth {
  /** secret hash -> principal; dropped on revoke. */
  private readonly cache = new Map<string, Principal>();
  /** Grows at every revocation: a connection may reuse the principal it verified while this has
   *  not moved, and must verify again once it has (so a revocation reaches open connections). */
  epoch = 0;
  /** Told the id of every token revoked, at once: the transports end what it holds open
   *  (WebSocket connections and their subscriptions, MCP sessions and their streams). */
  private readonly revokeListeners = new Set<(id: string) => void>();

  constructor(private readonly store: StoreApi) {}

  /** Calls `cb` with the id of each token revoked from now on; returns the way to stop. */
  onRevoke(cb: (id: string) => void): () => void {
    this.revokeListeners.add(cb);
    return () => this.revokeListeners.delete(cb);
  }

  create(role: Role, name: string): TokenCreateResult {
    const id = `tok_${nanoid(10)}`;
    const token = `sbt_${nanoid(40)}`;
    this.store.createToken({ id, name, role, secretHash: hashSecret(token) });
    return { id, name, role, token };
  }

  list(): TokenListResult['items'] {
    return this.store.tokens().map((t) => ({ id: t.id, name: t.name, role: t.role, createdAt: new Date(t.createdAt).toISOString(), revoked: t.revokedAt !== null }));
  }

  /** NOT_FOUND for an id that names no token: a typo must not read as a revocation. */
  revoke(id: string): TokenRevokeResult {
    const revoked = this.store.revokeToken(id);
    if (!revoked) throw fail('NOT_FOUND', `no token '${id}' (see tokens/list)`, { id });
    for (const [h, p] of this.cache) if (p.id === id) this.cache.delete(h);
    this.epoch++;
    if (revoked) {
      for (const cb of this.revokeListeners) {
        // One transport failing to let go must not keep the others holding on, nor fail the revoke.
        try {
          cb(id);
        } catch (e) {
          process.stderr.write(`substrate: ending what a revoked token held open failed: ${e instanceof Error ? e.message : String(e)}\n`);
        }
      }
    }
    return { id, revoked };
  }

  /** The principal of a secret, or undefined when it is unknown or revoked. */
  verify(secret: string | undefined): Principal | undefined {
    if (!secret) return undefined;
    const h = hashSecret(secret);
    const hit = this.cache.get(h);
    if (hit) return hit;
    const row: TokenRow | undefined = this.store.tokenBySecretHash(h);
    if (!row || row.revokedAt !== null) return undefined;
    // The lookup is by hash already; compare once more in constant time for form's sake.
    if (!timingSafeEqual(Buffer.from(h), Buffer.from(hashSecret(secret)))) return undefined;
    const p: Principal = { id: row.id, name: row.name, role: row.role };
    this.cache.set(h, p);
    return p;
  }

  /** The operator token of a data directory: reused when the file holds a valid one, else
   *  created and written with mode 0600. */
  ensureOperatorToken(dataDir: string): { token: string; file: string; created: boolean } {
    const file = path.join(dataDir, TOKEN_FILE);
    if (existsSync(file)) {
      const token = readFileSync(file, 'utf8').trim();
      const p = this.verify(token);
      if (p && p.role === 'operator') return { token, file, created: false };
    }
    const { token } = this.create('operator', 'operator');
    writeFileSync(file, token + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
    return { token, file, created: true };
  }
}

/** The subprotocol a WebSocket client names to speak this protocol; the only one the server
 *  answers with (so a token offered beside it is never echoed back). */
export const WS_PROTOCOL = 'substrate.v1';
/** Prefix of the subprotocol that carries a token from a browser, which cannot set Authorization
 *  on a WebSocket handshake: `substrate.token.<token>` (docs/protocol.md, "Browser authentication"). */
export const WS_TOKEN_PREFIX = 'substrate.token.';

/** What `Sec-WebSocket-Protocol` offers: whether it names WS_PROTOCOL, and the token it carries
 *  (the first `substrate.token.` entry). */
export function protocolOffer(header: string | string[] | undefined): { speaks: boolean; token: string | undefined } {
  const entries = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((e) => e.trim()).filter(Boolean);
  const carried = entries.find((e) => e.startsWith(WS_TOKEN_PREFIX));
  const token = carried?.slice(WS_TOKEN_PREFIX.length);
  return { speaks: entries.includes(WS_PROTOCOL), token: token ? token : undefined };
}

export function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m ? m[1].trim() : undefined;
}
