// The one concurrency limiter: runs an async function over a list with at most `limit` calls
// pending, results in input order. Gates (kernel/gates.ts) and MCP's tool loading use it.

/** Like Promise.all(items.map(fn)), but at most `limit` (at least 1) calls run at once; items
 *  start in order. A rejection rejects the whole, as Promise.all does; calls already started
 *  run to their end. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return results;
}
