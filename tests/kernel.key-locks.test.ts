// The lock manager behind conflict re-runs: FIFO hand-off, sorted acquisition, no overtaking.
import { describe, expect, it } from 'vitest';
import { KeyLocks } from '../kernel/key-locks.ts';

describe('KeyLocks', () => {
  it('hands a key to waiters first come, first served, and never to a newcomer first', async () => {
    const locks = new KeyLocks();
    const order: number[] = [];
    const a = locks.newHolder();
    await locks.acquire(['k'], a);
    const waiting = [1, 2, 3].map(async (i) => {
      const h = locks.newHolder();
      await locks.acquire(['k'], h);
      order.push(i);
      locks.release(h);
    });
    expect(locks.lockedByOther('k', 999)).toBe(true);
    expect(locks.lockedByOther('k', a)).toBe(false);
    locks.release(a);
    await Promise.all(waiting);
    expect(order).toEqual([1, 2, 3]);
    expect(locks.size).toBe(0);
  });

  it('two holders taking overlapping keys in different orders do not deadlock', async () => {
    const locks = new KeyLocks();
    const h1 = locks.newHolder();
    const h2 = locks.newHolder();
    const p1 = locks.acquire(['b', 'a'], h1);
    const p2 = locks.acquire(['a', 'b'], h2);
    await p1;
    locks.release(h1);
    await p2;
    expect(locks.lockedByOther('a', h1)).toBe(true);
    locks.release(h2);
    expect(locks.size).toBe(0);
  });
});
