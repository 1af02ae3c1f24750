// Which worker runs a call of a hot version. A version has a home worker (pool.ts slotOf: decided
// at its first run, then pinned), where its isolate is warm; one hot version would then use one
// core however many workers there are. So a run spills to the least-loaded other worker when the
// home worker is busy and that one is clearly less so; the version then has a warm isolate there
// too. State semantics are unchanged: every run reads the store through its worker's own read-only
// connection and its transaction is validated by the kernel at commit, wherever it ran.
//
// Containment comes first: a version spills only after it has run successfully many times, and
// never again once a worker died while running it (it may be what crashed it), so a capability
// that crashes its worker takes down one worker's calls, not every worker's.

import { LRUCache } from 'lru-cache';

/** Runs pending on the home worker before a run may go elsewhere. */
export const SPILL_AT = 4;
/** The other worker must have at least this many fewer pending runs. */
export const SPILL_MARGIN = 2;
/** Successful runs a version needs before it may spill. */
export const SPILL_AFTER_RUNS = 50;

const MAX_TRACKED = 10_000;

export interface SpillTarget {
  /** Pending runs and inspections of the slot's current worker. */
  load: number;
  /** Its current worker is ready and not being retired. */
  available: boolean;
}

export class SpillPolicy {
  private readonly succeeded = new LRUCache<string, number>({ max: MAX_TRACKED });
  private readonly suspect = new LRUCache<string, true>({ max: MAX_TRACKED });

  /** A run of `root` finished (on any worker). */
  done(root: string, ok: boolean): void {
    if (ok && !this.suspect.has(root)) this.succeeded.set(root, (this.succeeded.peek(root) ?? 0) + 1);
  }

  /** A worker died while running `root`: it stays on its home worker from now on. */
  crashed(root: string): void {
    this.suspect.set(root, true);
    this.succeeded.delete(root);
  }

  /** The slot to run `root` on, given its home slot and every slot's load. */
  choose(root: string, home: number, slots: readonly SpillTarget[]): number {
    const h = slots[home];
    if (slots.length < 2 || !h || h.load < SPILL_AT) return home;
    if ((this.succeeded.peek(root) ?? 0) < SPILL_AFTER_RUNS) return home;
    let best = home;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      if (i !== home && s.available && s.load < slots[best].load) best = i;
    }
    return best !== home && slots[best].load + SPILL_MARGIN <= h.load ? best : home;
  }
}
