// `substrate logs [name] [--follow]`: the recent log lines of capabilities (ctx.log and console.*),
// then, with --follow, the live stream of `log` events until interrupted.

import { Command, Option } from 'commander';
import { LOG_ORIGINS } from '../../kernel/api.ts';
import type { KernelEvent, LogOrigin } from '../../kernel/api.ts';
import type { Ctx } from '../context.ts';
import { absoluteTime, toMillis, type Style } from '../format.ts';
import { ConnectionError } from '../../kernel/client.ts';
import { nonNegativeInt, withExamples } from './shared.ts';

type LogEvent = Extract<KernelEvent, { type: 'log' }>;

/** `[gate two words]`, `[dry run two words]` (with the tested capability when a dependency wrote
 *  the line), or '' for live traffic: test runs are never read as live ones. */
export function originMarker(e: LogEvent): string {
  if (e.origin === undefined || e.origin === 'live') return '';
  const what = e.origin === 'dryRun' ? 'dry run' : 'gate';
  const test = e.gate ? (e.gate.capability === e.name ? e.gate.test : `${e.gate.capability}: ${e.gate.test}`) : '';
  return test ? `[${what} ${test}]` : `[${what}]`;
}

export function formatLogLine(e: LogEvent, style: Style): string {
  const level = e.level.padEnd(5);
  const lvl = e.level === 'error' ? style.red(level) : e.level === 'warn' ? style.yellow(level) : e.level === 'debug' ? style.dim(level) : level;
  const marker = originMarker(e);
  return `${style.dim(absoluteTime(e.at))} ${lvl} ${style.cyan(`${e.name}@${e.version}`)} ${marker ? `${style.yellow(marker)} ` : ''}${e.message} ${style.dim(e.invocationId)}`;
}

function logKey(e: LogEvent): string {
  return `${e.invocationId}\u0000${e.at}\u0000${e.level}\u0000${e.message}`;
}

export function addLogCommands(program: Command, ctx: Ctx): void {
  const logs = program
    .command('logs')
    .description('recent log lines of capabilities; --follow keeps streaming new ones until Ctrl+C')
    .argument('[name]', 'only this capability')
    .option('-f, --follow', 'stream new log lines until interrupted')
    .option('-n, --limit <n>', 'how many recent lines to show first (0: none)', nonNegativeInt, 100)
    .addOption(new Option('--origin <origin>', 'only live traffic, or only the lines of gate tests or dry runs').choices([...LOG_ORIGINS]));
  withExamples(logs, [
    'substrate logs',
    'substrate logs text.wordcount -n 20',
    'substrate logs text.wordcount --follow',
    'substrate logs --origin live   # leave out the lines of gate tests and dry runs',
    'substrate logs --follow --json   # one JSON object per line (NDJSON)',
  ]);
  logs.action(async (name: string | undefined, opts: { follow?: boolean; limit: number; origin?: LogOrigin }) => {
    const client = await ctx.client(opts.follow ? { reconnect: { minMs: 200, maxMs: 2000 } } : {});
    const emit = (e: LogEvent): void => {
      if (opts.origin && (e.origin ?? 'live') !== opts.origin) return;
      if (ctx.json) ctx.stdout.write(`${JSON.stringify(e)}\n`);
      else ctx.print(formatLogLine(e, ctx.style));
    };

    // Subscribe before reading the recent lines so nothing falls between the two; lines that
    // arrive meanwhile are held back and de-duplicated against the recent ones.
    let live = false;
    const held: LogEvent[] = [];
    if (opts.follow) {
      await client.subscribe({ types: ['log'], ...(name ? { name } : {}) }, (e) => {
        if (e.type !== 'log') return;
        if (live) emit(e);
        else held.push(e);
      });
    }
    const recent = opts.limit > 0 ? await client.call('logs/recent', { ...(name ? { name } : {}), ...(opts.origin ? { origin: opts.origin } : {}), limit: opts.limit }) : { items: [] };
    const items = [...recent.items].sort((a, b) => toMillis(a.at) - toMillis(b.at));
    if (!opts.follow) {
      if (ctx.json) return ctx.printJson({ items });
      const which = opts.origin ? `${opts.origin} log lines` : 'log lines';
      if (items.length === 0) ctx.print(ctx.style.dim(name ? `no ${which} from ${name}` : `no ${which} yet`));
      for (const e of items) emit(e);
      return;
    }
    for (const e of items) emit(e);
    const seen = new Set(items.map(logKey));
    for (const e of held) if (!seen.has(logKey(e))) emit(e);
    live = true;
    // On stderr, so scripts reading stdout see only log lines, and can wait for this one.
    ctx.note(ctx.errStyle.dim(`following ${name ?? 'all capabilities'}… (Ctrl+C to stop)`));

    await new Promise<void>((resolve, reject) => {
      const stop = (): void => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      client.on('disconnect', () => {
        if (!ctx.json && process.stderr.isTTY) ctx.note(ctx.errStyle.yellow('connection lost, reconnecting…'));
      });
      client.on('close', (info) => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        reject(new ConnectionError(client.url, 'ECLOSED', `the connection to ${client.url} closed (${info.code}${info.reason ? ` ${info.reason}` : ''}) and could not be restored`));
      });
    });
  });
}
