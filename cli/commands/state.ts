// `substrate state ls` and `substrate state get`: read capability state (operators only).
// A capability's own namespace is addressed by its name, a shared one as `shared:NAME`.

import { Command } from 'commander';
import type { StateListResult } from '../../kernel/api.ts';
import type { Ctx } from '../context.ts';
import { compactJson, formatJson, table } from '../format.ts';
import { positiveInt, withExamples } from './shared.ts';

export function addStateCommands(program: Command, ctx: Ctx): void {
  const state = program
    .command('state')
    .description("read capability state: a capability's own namespace (NAME) or a shared one (shared:NAME)");
  withExamples(state, ['substrate state ls todo.add', 'substrate state ls shared:text.stats last', 'substrate state get todo.add items']);

  const ls = state
    .command('ls')
    .description('list keys and values of a namespace')
    .argument('<namespace>', 'NAME (a capability\'s own) or shared:NAME')
    .argument('[prefix]', 'only keys starting with this')
    .option('-n, --limit <n>', 'at most this many keys (default: all)', positiveInt);
  withExamples(ls, ['substrate state ls todo.add', 'substrate state ls shared:text.stats', 'substrate state ls todo.add item: --json']);
  ls.action(async (namespace: string, prefix: string | undefined, opts: { limit?: number }) => {
    const client = await ctx.client();
    const items: StateListResult['items'] = [];
    let cursor: string | undefined;
    do {
      const want = opts.limit !== undefined ? Math.min(500, opts.limit - items.length) : 500;
      if (want <= 0) break;
      const page = await client.call('state/list', {
        namespace,
        ...(prefix ? { prefix } : {}),
        ...(cursor ? { cursor } : {}),
        limit: want,
      });
      items.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    if (ctx.json) return ctx.printJson({ items, nextCursor: cursor ?? null });
    if (items.length === 0) {
      ctx.print(ctx.style.dim(`no keys in ${namespace}${prefix ? ` starting with '${prefix}'` : ''}`));
      return;
    }
    ctx.print(
      table(
        ['KEY', 'VERSION', 'VALUE'],
        items.map((i) => [i.key, String(i.version), compactJson(i.value)]),
        { style: ctx.style, alignRight: [1], maxWidth: ctx.columns ?? 160 },
      ),
    );
  });

  const get = state
    .command('get')
    .description('print one value as JSON')
    .argument('<namespace>', 'NAME (a capability\'s own) or shared:NAME')
    .argument('<key>', 'the key');
  withExamples(get, ['substrate state get todo.add items', 'substrate state get shared:text.stats last --json']);
  get.action(async (namespace: string, key: string) => {
    const client = await ctx.client();
    const res = await client.call('state/get', { namespace, key });
    if (ctx.json) return ctx.printJson(res);
    ctx.print(formatJson(res.value, ctx.isTTY));
  });
}
