// The commands that change or read capabilities: register, apply, invoke, ls, show, history,
// rollback, rm.

import fs from 'node:fs';
import { Command } from 'commander';
import type { Json } from '../../capabilities/types.ts';
import type { ChangeParams, DescribeResult, ListItem, RegisterResult } from '../../kernel/api.ts';
import type { Ctx } from '../context.ts';
import { absoluteTime, compactJson, formatJson, keyValues, plural, relativeTime, table, truncate } from '../format.ts';
import { UsageError } from '../errors.ts';
import { replayLines } from './replay-output.ts';
import {
  destinationsText,
  commandPath,
  describeChange,
  gatesSummary,
  nonNegativeInt,
  parseJsonArg,
  parseNameVersion,
  positiveInt,
  readSource,
  withExamples,
  withProgress,
} from './shared.ts';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function addCapabilityCommands(program: Command, ctx: Ctx): void {
  // register ------------------------------------------------------------------------------------
  const register = program
    .command('register')
    .description('register capability versions (one per file, each committed on its own), making them current')
    .argument('<file...>', '.js/.ts module(s) with an exported manifest')
    .option('--no-activate', 'register without making the new version current');
  withExamples(register, [
    'substrate register docs/examples/tokenize.js',
    'substrate register docs/examples/tokenize-1.1.js --no-activate',
    'substrate register docs/examples/wordcount.js --json | jq .version',
  ]);
  register.action(async (files: string[], opts: { activate: boolean }, cmd: Command) => {
    const client = await ctx.client();
    const done: RegisterResult[] = [];
    for (const file of files) {
      const { source, language } = readSource(file, commandPath(cmd));
      const res = await withProgress((onProgress) =>
        client.call('capabilities/register', { source, ...(language ? { language } : {}), activate: opts.activate }, { onProgress }),
      );
      done.push(res);
      if (!ctx.json) {
        const s = ctx.style;
        const state = res.activated ? `now current, generation ${res.generation}` : 'not activated';
        ctx.print(`${s.green('registered')} ${s.bold(`${res.name}@${res.version}`)} ${s.dim(`(${state})`)}`);
        ctx.print(`  ${s.dim(res.hash)}`);
        ctx.print(`  ${gatesSummary(res.gates ?? [], s)}`);
      }
    }
    if (ctx.json) ctx.printJson(done.length === 1 ? done[0] : done);
  });

  // apply ---------------------------------------------------------------------------------------
  const apply = program
    .command('apply')
    .description('register all files as one changeset: everything commits together, or nothing does')
    .argument('[file...]', '.js/.ts module(s) with an exported manifest')
    .option('--activate <name@version>', 'also make an already registered version current (repeatable)', collect)
    .option('--remove <name>', 'also remove a capability in the same changeset (repeatable)', collect)
    .option('--dry-run', 'validate and run the gates, commit nothing')
    .option('--replay', 'replay each changed capability on recorded calls of the version it replaces, before committing')
    .option('--samples <n>', 'with --replay: recorded calls replayed per capability (default 100, at most 1000)', nonNegativeInt)
    .option('--max-changed <n>', 'with --replay: refuse the changeset (REPLAY_FAILED) when a capability changes more answers than this', nonNegativeInt);
  withExamples(apply, [
    'substrate apply docs/examples/tokenize.js docs/examples/wordcount.js',
    'substrate apply docs/examples/tokenize-1.1.js --remove text.report',
    'substrate apply --activate text.tokenize@1.0.0 --dry-run',
    'substrate apply docs/examples/tokenize-1.1.js --replay --max-changed 0',
  ]);
  apply.action(async (files: string[], opts: { activate?: string[]; remove?: string[]; dryRun?: boolean; replay?: boolean; samples?: number; maxChanged?: number }, cmd: Command) => {
    const path = commandPath(cmd);
    const changes: ChangeParams[] = [];
    for (const file of files) changes.push({ op: 'register', ...readSource(file, path) });
    for (const a of opts.activate ?? []) {
      const { name, version } = parseNameVersion(a, path);
      if (!version) throw new UsageError(`--activate needs <name@version>, got '${a}'`, path);
      changes.push({ op: 'activate', name, version });
    }
    for (const name of opts.remove ?? []) changes.push({ op: 'remove', name });
    if (changes.length === 0) throw new UsageError('nothing to apply: give files, --activate or --remove', path);
    if (!opts.replay && (opts.samples !== undefined || opts.maxChanged !== undefined)) throw new UsageError('--samples and --max-changed go with --replay', path);
    const replay = opts.replay ? { ...(opts.samples !== undefined ? { samples: opts.samples } : {}), ...(opts.maxChanged !== undefined ? { maxChanged: opts.maxChanged } : {}) } : undefined;
    const client = await ctx.client();
    const res = await withProgress((onProgress) =>
      client.call('capabilities/apply', { changes, ...(opts.dryRun ? { dryRun: true } : {}), ...(replay ? { replay } : {}) }, { onProgress }),
    );
    if (ctx.json) return ctx.printJson(res);
    const s = ctx.style;
    ctx.print(res.dryRun ? `${s.yellow('dry run')}: nothing committed` : `${s.green('applied')} generation ${res.generation}`);
    for (const c of res.changes) ctx.print(`  ${describeChange(c)}`);
    if (res.touched?.length) ctx.print(`  ${s.dim('dependents tested:')} ${res.touched.join(', ')}`);
    ctx.print(`  ${gatesSummary(res.gates ?? [], s)}`);
    if (res.replay) for (const l of replayLines(res.replay, s)) ctx.print(l);
  });

  // invoke --------------------------------------------------------------------------------------
  const invoke = program
    .command('invoke')
    .description("call a capability and print its output (the current version, or the one given)")
    .argument('<name>', 'capability name, optionally with @version (text.count@1.0.0)')
    .argument('[json]', 'the input as JSON (default {})')
    .option('-i, --input <file>', "read the input JSON from a file ('-' for stdin)");
  withExamples(invoke, [
    `substrate invoke text.wordcount '{"text":"a b c"}'`,
    'substrate invoke text.wordcount@1.0.0 --input docs/examples/wordcount-input.json',
    `echo '{"text":"x"}' | substrate invoke text.wordcount --input -`,
    `substrate invoke text.wordcount '{"text":"a"}' --json   # the whole result: output, version, generation, …`,
  ]);
  invoke.action(async (target: string, json: string | undefined, opts: { input?: string }, cmd: Command) => {
    const path = commandPath(cmd);
    const { name, version } = parseNameVersion(target, path);
    if (json !== undefined && opts.input) throw new UsageError('give the input either as an argument or with --input, not both', path);
    let input: Json = {};
    if (json !== undefined) input = parseJsonArg(json, 'the input', path);
    else if (opts.input) {
      let text: string;
      try {
        text = fs.readFileSync(opts.input === '-' ? 0 : opts.input, 'utf8');
      } catch (e) {
        throw new UsageError(`cannot read ${opts.input}: ${(e as Error).message}`, path);
      }
      input = parseJsonArg(text, opts.input === '-' ? 'stdin' : opts.input, path);
    }
    const client = await ctx.client();
    const res = await client.call('capabilities/invoke', { name, input, ...(version ? { version } : {}) });
    if (ctx.json) return ctx.printJson(res);
    ctx.print(formatJson(res.output, ctx.isTTY));
    if (process.stderr.isTTY) {
      ctx.note(ctx.errStyle.dim(`${res.name}@${res.version} · generation ${res.generation} · ${res.durationMs} ms · ${res.invocationId}`));
    }
  });

  // ls ------------------------------------------------------------------------------------------
  const ls = program
    .command('ls')
    .description('list capabilities: current version, number of versions, description')
    .argument('[prefix]', 'only names starting with this');
  withExamples(ls, ['substrate ls', 'substrate ls text.', 'substrate ls --json | jq -r ".items[].name"']);
  ls.action(async (prefix: string | undefined) => {
    const client = await ctx.client();
    const items: ListItem[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.call('capabilities/list', { ...(prefix ? { prefix } : {}), ...(cursor ? { cursor } : {}), limit: 500 });
      items.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    if (ctx.json) return ctx.printJson({ items, nextCursor: null });
    if (items.length === 0) {
      ctx.print(ctx.style.dim(prefix ? `no capabilities starting with '${prefix}'` : "no capabilities yet: 'substrate register <file>' adds one"));
      return;
    }
    const s = ctx.style;
    ctx.print(
      table(
        ['NAME', 'CURRENT', 'VERSIONS', 'DESCRIPTION'],
        items.map((i) => [i.name, i.current ?? s.dim('none'), String(i.versions.length), i.description ?? '']),
        { style: s, alignRight: [2], maxWidth: ctx.columns },
      ),
    );
  });

  // show ----------------------------------------------------------------------------------------
  const showCmd = program
    .command('show')
    .description('describe a capability version: manifest, dependencies (resolved), dependents, owner')
    .argument('<name>', 'capability name, optionally with @version (default: the current one)')
    .option('--source', 'also print the source');
  withExamples(showCmd, ['substrate show text.wordcount', 'substrate show text.wordcount@1.0.0 --source', 'substrate show text.wordcount --json']);
  showCmd.action(async (target: string, opts: { source?: boolean }, cmd: Command) => {
    const { name, version } = parseNameVersion(target, commandPath(cmd));
    const client = await ctx.client();
    const d = await client.call('capabilities/describe', { name, ...(version ? { version } : {}) });
    if (ctx.json) return ctx.printJson(d);
    printDescribe(ctx, d, !!opts.source);
  });

  // history -------------------------------------------------------------------------------------
  const history = program
    .command('history')
    .description('the journal of committed changesets, newest first')
    .argument('[name]', 'only changesets touching this capability')
    .option('-n, --limit <n>', 'how many entries', positiveInt, 20);
  withExamples(history, ['substrate history', 'substrate history text.wordcount -n 5', 'substrate history --json']);
  history.action(async (name: string | undefined, opts: { limit: number }) => {
    const client = await ctx.client();
    const res = await client.call('capabilities/history', { ...(name ? { name } : {}), limit: opts.limit });
    if (ctx.json) return ctx.printJson(res);
    if (res.items.length === 0) {
      ctx.print(ctx.style.dim(name ? `no history for ${name}` : 'no changes yet'));
      return;
    }
    const rows: string[][] = [];
    for (const h of res.items) {
      const changes = h.changes.length ? h.changes.map(describeChange) : [''];
      changes.forEach((c, i) =>
        rows.push(i === 0 ? [String(h.generation), relativeTime(h.at), h.principal, c] : ['', '', '', c]),
      );
    }
    ctx.print(table(['GEN', 'WHEN', 'BY', 'CHANGES'], rows, { style: ctx.style, alignRight: [0], maxWidth: ctx.columns }));
    if (res.nextCursor) ctx.print(ctx.style.dim(`(older entries exist: raise --limit)`));
  });

  // rollback ------------------------------------------------------------------------------------
  const rollback = program
    .command('rollback')
    .description('make an earlier version current again (a new changeset with a new generation)')
    .argument('<name>', 'capability name')
    .option('--to <version>', 'the version to return to (default: the one current before)');
  withExamples(rollback, ['substrate rollback text.wordcount', 'substrate rollback text.wordcount --to 1.0.0']);
  rollback.action(async (name: string, opts: { to?: string }) => {
    const client = await ctx.client();
    const res = await withProgress((onProgress) =>
      client.call('capabilities/rollback', { name, ...(opts.to ? { to: opts.to } : {}) }, { onProgress }),
    );
    if (ctx.json) return ctx.printJson(res);
    ctx.print(`${ctx.style.green('rolled back')} ${ctx.style.bold(res.name)} to ${res.version} ${ctx.style.dim(`(generation ${res.generation})`)}`);
  });

  // rm ------------------------------------------------------------------------------------------
  const rm = program
    .command('rm')
    .description('remove a capability (refused while something current depends on it)')
    .argument('<name>', 'capability name');
  withExamples(rm, ['substrate rm text.legacy', "substrate impact text.legacy   # what depends on it"]);
  rm.action(async (name: string) => {
    const client = await ctx.client();
    const res = await client.call('capabilities/remove', { name });
    if (ctx.json) return ctx.printJson(res);
    ctx.print(`${ctx.style.green('removed')} ${ctx.style.bold(res.name)} ${ctx.style.dim(`(generation ${res.generation})`)}`);
  });
}

function printDescribe(ctx: Ctx, d: DescribeResult, withSource: boolean): void {
  const s = ctx.style;
  const m = d.manifest;
  ctx.print(`${s.bold(`${d.name}@${d.version}`)}${d.current ? ` ${s.green('(current)')}` : ` ${s.yellow('(not current)')}`}`);
  const pairs: Array<[string, string]> = [];
  if (m.description) pairs.push(['description', m.description]);
  pairs.push(['hash', d.hash]);
  pairs.push(['owner', d.owner]);
  pairs.push(['created', `${relativeTime(d.createdAt)} ${s.dim(`(${absoluteTime(d.createdAt)})`)}`]);
  pairs.push(['language', d.language]);
  pairs.push(['limits', `timeout ${m.limits.timeoutMs} ms, memory ${m.limits.memoryMb} MB`]);
  const shared = Object.entries(m.state?.shared ?? {});
  pairs.push(['state', shared.length ? shared.map(([ns, a]) => `shared:${ns} (${a})`).join(', ') : s.dim('own namespace only')]);
  pairs.push(['http', d.destinations?.length ? destinationsText(d.destinations) : s.dim('none')]);
  if (m.inputSchema) pairs.push(['input', truncate(compactJson(m.inputSchema), 100)]);
  if (m.outputSchema) pairs.push(['output', truncate(compactJson(m.outputSchema), 100)]);
  pairs.push(['tests', m.tests.length ? m.tests.map((t) => t.name).join(', ') : s.dim('none')]);
  ctx.print(keyValues(pairs, { style: s }));
  ctx.print();
  ctx.print(s.bold(`dependencies (${d.dependencies.length})`));
  if (d.dependencies.length) {
    ctx.print(
      table(
        ['  NAME', 'RANGE', 'RESOLVED'],
        d.dependencies.map((dep) => [`  ${dep.name}`, dep.range, dep.resolved ?? s.red('unresolved')]),
        { style: s },
      ),
    );
  } else ctx.print(s.dim('  none'));
  ctx.print(s.bold(`dependents (${d.dependents.length})`));
  ctx.print(d.dependents.length ? d.dependents.map((x) => `  ${x}`).join('\n') : s.dim('  none'));
  if (withSource) {
    ctx.print();
    ctx.print(s.bold(`source (${d.language}, ${plural(d.source.split('\n').length, 'line')})`));
    ctx.print(d.source.replace(/\n$/, ''));
  }
}
