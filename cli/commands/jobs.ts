// `substrate jobs [ls] | show | retry | cancel` and `substrate schedules [ls] | pause | resume`:
// durable work (docs/jobs.md). Reading is for every role; the rest for operators and owners.

import { Command, Option } from 'commander';
import type { Ctx } from '../context.ts';
import { compactJson, keyValues, relativeTime, table, truncate } from '../format.ts';
import type { Style } from '../format.ts';
import { withExamples } from './shared.ts';

const STATUSES = ['pending', 'running', 'succeeded', 'failed', 'dead', 'cancelled'];

function statusText(s: Style, status: string): string {
  if (status === 'succeeded') return s.green(status);
  if (status === 'dead' || status === 'failed') return s.red(status);
  if (status === 'running') return s.yellow(status);
  return status;
}

export function addJobCommands(program: Command, ctx: Ctx): void {
  const jobs = program.command('jobs').description('list and manage jobs (ctx.enqueue and schedules)');
  withExamples(jobs, ['substrate jobs', 'substrate jobs ls --status dead', 'substrate jobs show job_123', 'substrate jobs retry job_123']);

  const ls = jobs
    .command('ls', { isDefault: true })
    .description('jobs, newest first')
    .option('--name <capability>', 'only the jobs of this capability')
    .addOption(new Option('--status <status>', 'only jobs in this status').choices(STATUSES))
    .option('--limit <n>', 'at most this many', (v) => Number(v), 50);
  withExamples(ls, ['substrate jobs ls --name digest.send', 'substrate jobs ls --status failed --json']);
  ls.action(async (opts: { name?: string; status?: (typeof STATUSES)[number]; limit: number }) => {
    const client = await ctx.client();
    const res = await client.call('jobs/list', { name: opts.name, status: opts.status as never, limit: opts.limit });
    if (ctx.json) return ctx.printJson(res);
    if (res.items.length === 0) return ctx.print(ctx.style.dim('no jobs'));
    const s = ctx.style;
    ctx.print(
      table(
        ['ID', 'CAPABILITY', 'STATUS', 'ATTEMPT', 'DUE', 'FROM', 'LAST ERROR'],
        res.items.map((j) => [
          j.id,
          j.name,
          statusText(s, j.status),
          String(j.attempt),
          j.status === 'pending' || j.status === 'failed' ? relativeTime(j.runAt) : '',
          j.origin.kind === 'schedule' ? 'schedule' : j.origin.by,
          j.error ? truncate(`${j.error.type}: ${j.error.message}`, 60) : '',
        ]),
        { style: s },
      ),
    );
  });

  const show = jobs.command('show').description('one job in full').argument('<id>', 'the job id');
  withExamples(show, ['substrate jobs show job_123']);
  show.action(async (id: string) => {
    const client = await ctx.client();
    const j = await client.call('jobs/get', { id });
    if (ctx.json) return ctx.printJson(j);
    const s = ctx.style;
    ctx.print(
      keyValues(
        [
          ['id', j.id],
          ['capability', j.name],
          ['status', statusText(s, j.status)],
          ['attempt', String(j.attempt)],
          ['input', compactJson(j.input)],
          ['key', j.key ?? '-'],
          ['from', j.origin.kind === 'schedule' ? `schedule #${j.origin.index}` : `${j.origin.by}@${j.origin.version} (${j.origin.invocationId})`],
          ['scheduled', j.scheduledAt],
          ['due', j.runAt],
          ['finished', j.finishedAt ?? '-'],
          ['version', j.version ?? '-'],
          ['output', j.output === null ? '-' : compactJson(j.output)],
          ['error', j.error ? `${j.error.type}: ${j.error.message}` : '-'],
        ],
        { style: s },
      ),
    );
  });

  for (const [verb, method, what] of [
    ['retry', 'jobs/retry', 'run a dead, cancelled or failed job again, with fresh attempts'],
    ['cancel', 'jobs/cancel', 'cancel a pending or failed job'],
  ] as const) {
    const c = jobs.command(verb).description(what).argument('<id>', 'the job id');
    withExamples(c, [`substrate jobs ${verb} job_123`]);
    c.action(async (id: string) => {
      const client = await ctx.client();
      const j = await client.call(method, { id });
      if (ctx.json) return ctx.printJson(j);
      ctx.print(`${ctx.style.green(verb === 'retry' ? 'retrying' : 'cancelled')} ${j.id} ${ctx.style.dim(`(${j.name}, now ${j.status})`)}`);
    });
  }

  const schedules = program.command('schedules').description("the schedules of the current capabilities' manifests");
  withExamples(schedules, ['substrate schedules', 'substrate schedules pause digest.send', 'substrate schedules resume digest.send']);
  const sls = schedules.command('ls', { isDefault: true }).description('schedules with their next run times').option('--name <capability>', 'only this capability');
  withExamples(sls, ['substrate schedules ls', 'substrate schedules ls --json']);
  sls.action(async (opts: { name?: string }) => {
    const client = await ctx.client();
    const res = await client.call('schedules/list', { name: opts.name });
    if (ctx.json) return ctx.printJson(res);
    if (res.items.length === 0) return ctx.print(ctx.style.dim('no schedules'));
    const s = ctx.style;
    ctx.print(
      table(
        ['CAPABILITY', 'VERSION', '#', 'CRON', 'TIMEZONE', 'CATCH UP', 'NEXT RUN', 'STATE'],
        res.items.map((x) => [x.name, x.version, String(x.index), x.cron, x.timezone, x.catchUp, x.nextRun ?? '-', x.paused ? s.yellow('paused') : s.green('active')]),
        { style: s },
      ),
    );
  });
  for (const verb of ['pause', 'resume'] as const) {
    const c = schedules.command(verb).description(verb === 'pause' ? "pause a capability's schedules (occurrences are passed over)" : "resume a capability's schedules from now").argument('<capability>', 'the capability name');
    withExamples(c, [`substrate schedules ${verb} digest.send`]);
    c.action(async (name: string) => {
      const client = await ctx.client();
      const res = await client.call(verb === 'pause' ? 'schedules/pause' : 'schedules/resume', { name });
      if (ctx.json) return ctx.printJson(res);
      ctx.print(`${ctx.style.green(res.paused ? 'paused' : 'resumed')} the schedules of ${res.name}`);
    });
  }
}
