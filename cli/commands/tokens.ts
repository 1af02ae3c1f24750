// `substrate token create | ls | revoke`: the kernel's bearer tokens (operators only).

import { Command, Option } from 'commander';
import type { Ctx } from '../context.ts';
import { relativeTime, table } from '../format.ts';
import { withExamples } from './shared.ts';

export function addTokenCommands(program: Command, ctx: Ctx): void {
  const token = program.command('token').description('create, list and revoke access tokens (operators only)');
  withExamples(token, ['substrate token create --role agent --name ci-bot', 'substrate token ls', 'substrate token revoke tok_123']);

  const create = token
    .command('create')
    .description('create a token; its secret is shown this once')
    .addOption(new Option('--role <role>', 'what the token may do').choices(['operator', 'agent', 'client']).makeOptionMandatory())
    .requiredOption('--name <name>', 'a name to recognise it by');
  withExamples(create, [
    'substrate token create --role agent --name ci-bot',
    'substrate token create --role client --name dashboard --json | jq -r .token',
  ]);
  create.action(async (opts: { role: 'operator' | 'agent' | 'client'; name: string }) => {
    const client = await ctx.client();
    const res = await client.call('tokens/create', { role: opts.role, name: opts.name });
    if (ctx.json) return ctx.printJson(res);
    const s = ctx.style;
    ctx.print(`${s.green('created')} token ${s.bold(res.id)} ${s.dim(`(${res.role}, "${res.name}")`)}`);
    ctx.print(res.token);
    ctx.note(
      ctx.errStyle.yellow(
        'warning: this secret is shown only this once and is stored hashed; keep it somewhere safe now. ' +
          `Use it with --token or SUBSTRATE_TOKEN; 'substrate token revoke ${res.id}' disables it.`,
      ),
    );
  });

  const ls = token.command('ls').description('list tokens (never their secrets)');
  withExamples(ls, ['substrate token ls', 'substrate token ls --json']);
  ls.action(async () => {
    const client = await ctx.client();
    const res = await client.call('tokens/list');
    if (ctx.json) return ctx.printJson(res);
    if (res.items.length === 0) return ctx.print(ctx.style.dim('no tokens'));
    const s = ctx.style;
    ctx.print(
      table(
        ['ID', 'NAME', 'ROLE', 'CREATED', 'STATUS'],
        res.items.map((t) => [t.id, t.name, t.role, relativeTime(t.createdAt), t.revoked ? s.red('revoked') : s.green('active')]),
        { style: s },
      ),
    );
  });

  const revoke = token
    .command('revoke')
    .description('revoke a token at once, also on connections already open')
    .argument('<id>', "the token's id (see 'substrate token ls')");
  withExamples(revoke, ['substrate token revoke tok_123']);
  revoke.action(async (id: string) => {
    const client = await ctx.client();
    const res = await client.call('tokens/revoke', { id });
    if (ctx.json) return ctx.printJson(res);
    // An unknown id is a NOT_FOUND error (exit 1); revoking a revoked token again answers revoked.
    ctx.print(`${ctx.style.green('revoked')} ${res.id}`);
  });
}
