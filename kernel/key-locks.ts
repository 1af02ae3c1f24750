// Conflict-driven serialization of state transactions. Every invocation first runs optimistically
// (no locks). One that loses a conflict re-runs while holding kernel-side locks on the keys it read
// or wrote, taken in sorted order (so two re-runners can never deadlock) and granted first come,
// first served. While a key is locked, an optimistic transaction that writes it is treated as
// conflicting, so it cannot invalidate the lock holder's reads: the re-run commits on its first try
// unless it touches keys it had not touched before. Under heavy contention on one key this turns a
// storm of optimistic re-runs into a queue, which is what makes 50 concurrent incrementers of one
// counter all succeed.
//
// Invariant: a key is in `owners` exactly while some holder's acquire() has resolved for it and
// its release() has not run.

export class KeyLocks {
  private readonly owners = new Map<string, number>();
  /** FIFO of holders waiting for a key; release hands the key straight to the first of them. */
  private readonly waiters = new Map<string, Array<{ holder: number; grant: () => void }>>();
  private nextHolder = 1;

  /** True when `key` is held by anyone but `holder`. */
  lockedByOther(key: string, holder: number): boolean {
    const o = this.owners.get(key);
    return o !== undefined && o !== holder;
  }

  get size(): number {
    return this.owners.size;
  }

  newHolder(): number {
    return this.nextHolder++;
  }

  /** Takes every key (deduplicated, in sorted order) for `holder`. */
  async acquire(keys: Iterable<string>, holder: number): Promise<void> {
    for (const key of [...new Set(keys)].sort()) {
      const owner = this.owners.get(key);
      if (owner === holder) continue;
      if (owner === undefined) {
        this.owners.set(key, holder);
        continue;
      }
      await new Promise<void>((grant) => {
        const q = this.waiters.get(key);
        if (q) q.push({ holder, grant });
        else this.waiters.set(key, [{ holder, grant }]);
      });
    }
  }

  release(holder: number): void {
    for (const [key, owner] of [...this.owners]) {
      if (owner !== holder) continue;
      const q = this.waiters.get(key);
      const next = q?.shift();
      if (q && q.length === 0) this.waiters.delete(key);
      if (next) {
        // Hand-off: the key never looks free, so no newcomer can overtake the queue.
        this.owners.set(key, next.holder);
        next.grant();
      } else {
        this.owners.delete(key);
      }
    }
  }
}

/** The lock key of a state key: namespace and key, joined by a character neither may contain
 *  ambiguously (a NUL never appears in a namespace name). */
export function lockKey(namespace: string, key: string): string {
  return `${namespace}\u0000${key}`;
}
