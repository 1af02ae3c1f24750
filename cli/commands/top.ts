// `substrate top`: per capability version, calls per second, errors and duration percentiles over
// the last seconds (metrics/get with windowS). On a terminal the table is redrawn every second
// until Ctrl-C; piped, or with --json, it prints one snapshot and ends.

import type { Command } from 'commander';
import type { ResultOf } from '../../capabilities/protocol/methods.ts';
import type { Ctx } from '../context.ts';
import { table, type Style } from '../format.ts';
import { positiveInt, withExamples } from './shared.ts';

type MetricsResult = ResultOf<'metrics/get'>;

const REFRESH_MS = 1000;

function ms(x: number): string {
  return x === 0 ? '-' : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : String(Math.round(x));
}

/** The table of a metrics/get result (busiest first). */
export function renderTop(res: MetricsResult, style: Style): string {
  const items = [...res.items].sort((a, b) => b.calls - a.calls || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rows = items.map((m) => {
    const types = Object.entries(m.errorsByType).map(([t, n]) => `${t} ${n}`).join(', ');
    return [
      m.name,
      m.current ? m.version : style.dim(m.version),
      m.callsPerS.toFixed(m.callsPerS < 10 ? 2 : 1),
      String(m.calls),
      m.errors > 0 ? style.red(`${m.errors}${types ? ` (${types})` : ''}`) : '0',
      ms(m.p50),
      ms(m.p99),
      m.reruns > 0 ? style.yellow(String(m.reruns)) : '0',
      String(m.egress),
      String(m.jobs),
    ];
  });
  const head = style.dim(`last ${res.windowS}s, since ${res.since}`);
  if (rows.length === 0) return `${head}\n${style.dim('no capabilities')}`;
  return `${head}\n${table(['NAME', 'VERSION', 'CALLS/S', 'CALLS', 'ERRORS', 'P50 MS', 'P99 MS', 'RERUNS', 'EGRESS', 'JOBS'], rows, { style })}`;
}

export function addTopCommand(program: Command, ctx: Ctx): void {
  const top = program
    .command('top')
    .description('calls/s, errors and p50/p99 per capability version, live on a terminal')
    .argument('[name]', 'only the versions of this capability')
    .option('--window <s>', 'seconds counted (1 to 3600)', positiveInt, 10);
  withExamples(top, ['substrate top', 'substrate top text.wordcount --window 60', 'substrate top --json']);
  top.action(async (name: string | undefined, opts: { window: number }) => {
    const client = await ctx.client();
    const get = () => client.call('metrics/get', { ...(name ? { name } : {}), windowS: opts.window });
    if (ctx.json) return ctx.printJson(await get());
    if (!ctx.isTTY) return ctx.print(renderTop(await get(), ctx.style));
    // Live: home the cursor and clear below, every second, until Ctrl-C ends the process.
    let stop = false;
    process.once('SIGINT', () => {
      stop = true;
    });
    while (!stop) {
      const text = renderTop(await get(), ctx.style);
      ctx.stdout.write(`\x1b[H\x1b[J${text}\n${ctx.style.dim('refreshed every second; Ctrl-C to stop')}\n`);
      await new Promise((r) => setTimeout(r, REFRESH_MS));
    }
  });
}
