// Exponential backoff, the one formula: the sandbox pool's respawn delay after failed worker
// starts (sandbox/pool.ts) and the client's reconnect delay (kernel/client.ts). Pure: the caller
// owns the timer, the attempt count and (for jitter) the random source.

export interface BackoffOptions {
  /** Delay of the first attempt; each later attempt doubles it. */
  baseMs: number;
  /** Cap on the doubled delay (before jitter). */
  maxMs: number;
  /** Spread as a fraction: the delay is multiplied by a factor in [1 - jitter, 1 + jitter) and
   *  rounded, so many clients dropped at once do not all come back at the same moment. 0 (the
   *  default): no jitter, no rounding. */
  jitter?: number;
  /** A number in [0, 1); default Math.random (injectable so tests are deterministic). */
  random?: () => number;
}

/** The delay before `attempt` (1 for the first retry): `min(maxMs, baseMs * 2^(attempt-1))`,
 *  then jittered; 0 when `attempt` is 0 or less (nothing has failed, no wait). */
export function backoffMs(attempt: number, opts: BackoffOptions): number {
  if (attempt <= 0) return 0;
  const base = Math.min(opts.maxMs, opts.baseMs * 2 ** (attempt - 1));
  const jitter = opts.jitter ?? 0;
  if (jitter === 0) return base;
  const random = opts.random ?? Math.random;
  return Math.round(base * (1 - jitter + random() * 2 * jitter));
}
