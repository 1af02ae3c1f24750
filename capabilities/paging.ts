// Page sizes of the list-shaped methods (list, history, state/list, logs): one clamp for all.

/** `limit` as asked, floored and kept within 1..max; `dflt` when not given. */
export function clampLimit(limit: number | undefined, dflt: number, max: number): number {
  if (limit === undefined) return dflt;
  return Math.max(1, Math.min(max, Math.floor(limit)));
}
