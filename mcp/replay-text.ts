// The text a model reads about a replay (capabilities/apply with `replay`; docs/evaluation.md,
// "Replay"): per capability the counts, the first changed examples as JSON, and the next action.
// Used by apply's summary (summaries.ts) and by REPLAY_FAILED's error text (errors.ts); the same
// summaries travel as structured data (structuredContent.replay, or the error's data.replay).

import type { ReplaySummary } from '../capabilities/evaluation.ts';

const j = (v: unknown): string => {
  const s = JSON.stringify(v) ?? 'undefined';
  return s.length > 600 ? `${s.slice(0, 600)}…` : s;
};

export function replayLines(summaries: readonly ReplaySummary[]): string[] {
  if (summaries.length === 0) return ['Replay: nothing to replay (no changed capability had a current version).'];
  const lines: string[] = [];
  for (const s of summaries) {
    const skipped = s.skipped ? `, ${s.skipped} skipped (replay time ran out)` : '';
    lines.push(
      `Replay of ${s.name} ${s.from} → ${s.to} on ${s.samples} recorded call(s): ${s.same} same, ${s.changed} changed, ${s.errors} answered with an error, ${s.unstable} unstable (the current version no longer reproduces them; not counted), ${s.unreplayable} unreplayable${skipped}.`,
    );
    for (const ex of s.examples.slice(0, 3)) lines.push(`- input ${j(ex.input)}: before ${j(ex.before)}, after ${j(ex.after)}`);
  }
  return lines;
}

/** What to do next, from the summaries alone. */
export function replayNext(summaries: readonly ReplaySummary[], refused: boolean, maxChanged?: number): string {
  const changed = summaries.filter((s) => s.changed > 0);
  if (refused) {
    return `Next: maxChanged${maxChanged !== undefined ? ` ${maxChanged}` : ''} exceeded, nothing was committed. Inspect the examples (input, before, after) of ${changed.map((s) => s.name).join(', ')}: if the new answers are intended, apply again with a higher maxChanged or without it; otherwise fix the candidate and apply again.`;
  }
  if (changed.length === 0) return 'Next: no recorded answer changed.';
  return `Next: ${changed.map((s) => `${s.name} changed ${s.changed} answer(s)`).join(', ')}; check the examples are intended (apply with replay.maxChanged to refuse unintended changes).`;
}
