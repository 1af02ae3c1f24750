// `substrate effects [name]`: the effect journal, the requests capabilities made (or were served
// from the journal on a re-run), newest first. Operators see all; agents their own capabilities'.

import type { Command } from 'commander';
import type { Ctx } from '../context.ts';
import { relativeTime, table, truncate } from '../format.ts';
import { positiveInt, withExamples } from './shared.ts';

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function addEffectCommands(program: Command, ctx: Ctx): void {
  const effects = program
    .command('effects')
    .description('the effect journal: requests capabilities made, newest first')
    .argument('[name]', 'only the requests of this capability')
    .option('--invocation <id>', 'only the requests of this call tree (its root invocation id)')
    .option('--limit <n>', 'at most this many', positiveInt, 50);
  withExamples(effects, ['substrate effects', 'substrate effects weather.fetch --limit 10', 'substrate effects --invocation 5wXDdhrmlqS4 --json']);
  effects.action(async (name: string | undefined, opts: { invocation?: string; limit: number }) => {
    const client = await ctx.client();
    const res = await client.call('effects/list', { ...(name ? { name } : {}), ...(opts.invocation ? { invocationId: opts.invocation } : {}), limit: opts.limit });
    if (ctx.json) return ctx.printJson(res);
    const s = ctx.style;
    if (res.items.length === 0) return ctx.print(s.dim('no requests recorded'));
    ctx.print(
      table(
        ['AT', 'CAPABILITY', 'METHOD', 'URL', 'STATUS', 'BYTES', 'MS', 'REPLAYED'],
        res.items.map((e) => [
          relativeTime(e.at),
          `${e.name}@${e.version}`,
          e.method,
          truncate(e.finalUrl !== e.url ? `${e.url} -> ${e.finalUrl}` : e.url, 80),
          e.status !== null ? (e.status >= 400 ? s.red(String(e.status)) : String(e.status)) : s.red(truncate(e.error ?? 'failed', 40)),
          bytes(e.responseBytes),
          String(Math.round(e.durationMs)),
          e.replayed ? s.yellow('yes') : '',
        ]),
        { style: s },
      ),
    );
    if (res.nextCursor) ctx.note(s.dim(`more: --limit ${opts.limit * 2}, or effects/list with cursor ${res.nextCursor}`));
  });
}
