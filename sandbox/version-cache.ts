// The worker's copy of version payloads, by content hash: asked of the kernel once (`need`), with
// concurrent asks for the same hash sharing one request. Content-addressed, so never stale; bounded
// so a long-lived worker does not keep every version it ever ran.

import { LRUCache } from 'lru-cache';
import type { VersionPayload } from './protocol.ts';

export class VersionCache {
  private readonly cache: LRUCache<string, VersionPayload>;
  private readonly waiting = new Map<string, { promise: Promise<VersionPayload | null>; resolve: (p: VersionPayload | null) => void }>();

  constructor(
    private readonly ask: (hash: string) => void,
    max = 2000,
  ) {
    this.cache = new LRUCache({ max });
  }

  /** The payload, from the cache or the kernel; null when the kernel knows no such version. */
  get(hash: string): VersionPayload | Promise<VersionPayload | null> {
    // peek: a hit does not refresh; the payload provided longest ago goes first (as before).
    const hit = this.cache.peek(hash);
    if (hit) return hit;
    let w = this.waiting.get(hash);
    if (!w) {
      let resolve!: (p: VersionPayload | null) => void;
      const promise = new Promise<VersionPayload | null>((r) => (resolve = r));
      w = { promise, resolve };
      this.waiting.set(hash, w);
      this.ask(hash);
    }
    return w.promise;
  }

  /** A `version` message: answers the waiters, and keeps the payload (also when unasked). */
  provide(hash: string, payload: VersionPayload | null): void {
    if (payload) {
      this.cache.set(hash, payload);
    }
    const w = this.waiting.get(hash);
    if (w) {
      this.waiting.delete(hash);
      w.resolve(payload);
    }
  }

  forget(hashes: string[]): void {
    for (const h of hashes) this.cache.delete(h);
  }
}
