import { describe, expect, it } from 'vitest';
import { backoffMs } from '../capabilities/backoff.ts';

describe('backoffMs', () => {
  it('is 0 before any failure, then doubles from baseMs up to maxMs (the pool respawn delay)', () => {
    const o = { baseMs: 100, maxMs: 5000 };
    expect([0, 1, 2, 3, 6, 7, 50].map((n) => backoffMs(n, o))).toEqual([0, 100, 200, 400, 3200, 5000, 5000]);
    for (let f = 0; f < 20; f++) expect(backoffMs(f, o)).toBe(f === 0 ? 0 : Math.min(100 * 2 ** (f - 1), 5000));
  });

  it('jitters by ±jitter and rounds, as the client reconnect did', () => {
    for (const r of [0, 0.25, 0.5, 0.999]) {
      for (let a = 1; a < 12; a++) {
        const want = Math.round(Math.min(8000, 250 * 2 ** (a - 1)) * (0.8 + r * 0.4));
        expect(backoffMs(a, { baseMs: 250, maxMs: 8000, jitter: 0.2, random: () => r })).toBe(want);
      }
    }
    const d = backoffMs(3, { baseMs: 100, maxMs: 1000, jitter: 0.2 });
    expect(d).toBeGreaterThanOrEqual(320);
    expect(d).toBeLessThanOrEqual(480);
  });
});
