// How `substrate apply --replay` shows a replay (docs/evaluation.md, "Replay"): one table row per
// changed capability, then the first differences as unified diffs (jsdiff) of the pretty-printed
// JSON before (the recorded answer) and after (the candidate's). Also used for REPLAY_FAILED's
// details (cli/errors.ts). Pure text, no I/O.

import { structuredPatch } from 'diff';
import type { ReplaySummary } from '../../capabilities/evaluation.ts';
import { compactJson, table, truncate, type Style } from '../format.ts';

/** Examples shown as diffs per capability (the kernel sends at most 5). */
export const DIFFS_SHOWN = 3;

export function replayTable(summaries: readonly ReplaySummary[], style: Style): string {
  if (summaries.length === 0) return `  ${style.dim('replay: nothing to replay (no changed capability had a current version)')}`;
  const skipped = summaries.some((s) => (s.skipped ?? 0) > 0);
  const header = ['capability', 'from → to', 'samples', 'same', 'changed', 'errors', 'unstable', 'unreplayable', ...(skipped ? ['skipped'] : [])];
  const rows = summaries.map((s) => [
    s.name,
    `${s.from} → ${s.to}`,
    String(s.samples),
    String(s.same),
    s.changed ? style.yellow(String(s.changed)) : '0',
    s.errors ? style.red(String(s.errors)) : '0',
    String(s.unstable),
    String(s.unreplayable),
    ...(skipped ? [String(s.skipped ?? 0)] : []),
  ]);
  return table(header, rows, { style, alignRight: [2, 3, 4, 5, 6, 7, 8] })
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

/** A unified diff of two JSON values, pretty-printed; +/- lines coloured. */
export function jsonDiff(before: unknown, after: unknown, style: Style): string[] {
  const a = `${JSON.stringify(before, null, 2) ?? 'undefined'}\n`;
  const b = `${JSON.stringify(after, null, 2) ?? 'undefined'}\n`;
  const patch = structuredPatch('before', 'after', a, b, '', '', { context: 3 });
  const out = [style.red('--- before (recorded)'), style.green('+++ after (candidate)')];
  for (const h of patch.hunks) {
    out.push(style.cyan(`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`));
    for (const l of h.lines) out.push(l.startsWith('-') ? style.red(l) : l.startsWith('+') ? style.green(l) : l);
  }
  return out;
}

/** The table and the first differences of each capability. */
export function replayLines(summaries: readonly ReplaySummary[], style: Style): string[] {
  const lines = [`  ${style.bold('replay')} ${style.dim('(candidate on recorded calls of the version it replaces)')}`, replayTable(summaries, style)];
  for (const s of summaries) {
    const shown = s.examples.slice(0, DIFFS_SHOWN);
    if (shown.length === 0) continue;
    lines.push('', `  ${style.bold(s.name)}: first ${shown.length} of ${s.changed} changed`);
    shown.forEach((ex, i) => {
      lines.push(`  ${style.dim(`#${i + 1} input`)} ${truncate(compactJson(ex.input), 100)}`);
      for (const l of jsonDiff(ex.before, ex.after, style)) lines.push(`    ${l}`);
    });
  }
  return lines;
}
