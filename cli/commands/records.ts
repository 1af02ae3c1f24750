// `substrate records <name>[@version]`: the recorded root invocations of a capability (records/list),
// newest first: when, which version, the input, what it answered, how long, what it read and
// fetched, and whether a replay can use it. --json prints the records whole (reads and egress
// exchanges included). Operators see every capability's, agents their own.

import type { Command } from 'commander';
import type { Ctx } from '../context.ts';
import { compactJson, relativeTime, table, truncate } from '../format.ts';
import { parseNameVersion, positiveInt, withExamples } from './shared.ts';

export function addRecordCommands(program: Command, ctx: Ctx): void {
  const records = program
    .command('records')
    .description('recorded calls of a capability (input, output or error, reads, requests), newest first')
    // name@version, as describe and invoke take it (a --version flag would be the program's own).
    .argument('<name>', 'the capability, or name@version for one version')
    .option('--limit <n>', 'at most this many', positiveInt, 20);
  withExamples(records, ['substrate records text.wordcount', 'substrate records text.wordcount@1.0.0 --limit 5', 'substrate records text.wordcount --json']);
  records.action(async (arg: string, opts: { limit: number }) => {
    const ref = parseNameVersion(arg, 'substrate records');
    const version = ref.version;
    const client = await ctx.client();
    const res = await client.call('records/list', { name: ref.name, ...(version ? { version } : {}), limit: opts.limit });
    if (ctx.json) return ctx.printJson(res);
    const s = ctx.style;
    if (res.items.length === 0) return ctx.print(s.dim(`no recorded calls of ${ref.name}${version ? `@${version}` : ''}`));
    ctx.print(
      table(
        ['AT', 'VERSION', 'INPUT', 'RESULT', 'MS', 'READS', 'EGRESS', 'REPLAYABLE'],
        res.items.map((r) => [
          relativeTime(r.at),
          r.version,
          truncate(compactJson(r.input), 40),
          r.error ? s.red(truncate(`${r.error.type}: ${r.error.message}`, 50)) : truncate(compactJson(r.output ?? null), 50),
          String(Math.round(r.durationMs * 10) / 10),
          String(r.reads.length),
          String(r.egress.length),
          r.replayable ? 'yes' : s.yellow('no'),
        ]),
        { style: s },
      ),
    );
    if (res.nextCursor) ctx.note(s.dim(`more: --limit ${opts.limit * 2}, or records/list with cursor ${res.nextCursor}`));
  });
}
