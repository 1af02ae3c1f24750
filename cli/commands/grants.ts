// `substrate grant add | ls | revoke`: access to shared namespaces beyond a principal's own
// (operators, and agents for the namespaces they own) and to http destinations (operators). What a
// grant means: kernel/grants.ts.

import { Argument, Command, Option } from 'commander';
import type { Ctx } from '../context.ts';
import { relativeTime, table } from '../format.ts';
import { withExamples } from './shared.ts';

export function addGrantCommands(program: Command, ctx: Ctx): void {
  const grant = program.command('grant').description('grant a token, or every token of a role, a shared namespace it does not own or an http destination');
  withExamples(grant, [
    'substrate grant add tok_123 namespace text.stats',
    'substrate grant add role:agent namespace text.stats --mode rw',
    'substrate grant add tok_123 http api.github.com --methods GET,POST',
    'substrate grant ls',
    'substrate grant revoke grt_123',
  ]);

  const add = grant
    .command('add')
    .description("grant access (a namespace: its owner or an operator; http: operators); the next call of the grantee's capabilities may use it")
    .argument('<principal>', "a token id (see 'substrate token ls'), or role:agent / role:client / role:operator")
    .addArgument(new Argument('<kind>', 'what is granted').choices(['namespace', 'http']))
    .argument('<target>', 'the shared namespace name (like text.stats), or a destination pattern (host, host:port, *.host, an IP)')
    .addOption(new Option('--mode <mode>', 'namespace grants: read-only or read-write').choices(['r', 'rw']).default('r'))
    .option('--methods <list>', 'http grants: comma-separated methods (default all)');
  withExamples(add, [
    'substrate grant add tok_123 namespace text.stats',
    'substrate grant add role:agent namespace text.stats --mode rw',
    'substrate grant add tok_123 http api.github.com --methods GET,POST',
    'substrate grant add role:agent http "*.example.com"',
  ]);
  add.action(async (principal: string, kind: 'namespace' | 'http', target: string, opts: { mode: 'r' | 'rw'; methods?: string }) => {
    const client = await ctx.client();
    const methods = opts.methods?.split(',').map((m) => m.trim().toUpperCase()).filter(Boolean);
    const res = await client.call('grants/add', {
      principal,
      kind,
      target,
      ...(kind === 'namespace' ? { mode: opts.mode } : {}),
      ...(methods ? { methods } : {}),
    });
    if (ctx.json) return ctx.printJson(res);
    const s = ctx.style;
    if (res.kind === 'http') {
      ctx.print(`${s.green('granted')} ${s.bold(res.id)}: ${res.principalName} may send ${res.methods ? res.methods.join(', ') : 'any method'} to http ${s.bold(res.target)}`);
    } else ctx.print(`${s.green('granted')} ${s.bold(res.id)}: ${res.principalName} may ${res.mode === 'rw' ? 'read and write' : 'read'} ${res.kind} ${s.bold(res.target)}`);
  });

  const ls = grant
    .command('ls')
    .description('list active grants (agents: those on the namespaces they own, and their own), and who owns which namespace')
    .argument('[principal]', 'only the grants of this token id or role:<role>');
  withExamples(ls, ['substrate grant ls', 'substrate grant ls role:agent', 'substrate grant ls --json']);
  ls.action(async (principal: string | undefined) => {
    const client = await ctx.client();
    const res = await client.call('grants/list', principal ? { principal } : {});
    if (ctx.json) return ctx.printJson(res);
    const s = ctx.style;
    if (res.items.length === 0) ctx.print(s.dim('no grants'));
    else
      ctx.print(
        table(
          ['ID', 'PRINCIPAL', 'KIND', 'TARGET', 'MODE', 'BY', 'CREATED'],
          res.items.map((g) => [g.id, g.principalName === g.principal ? g.principal : `${g.principalName} (${g.principal})`, g.kind, g.target, g.mode ?? (g.methods ?? ['*']).join(','), g.grantedBy, relativeTime(g.createdAt)]),
          { style: s },
        ),
      );
    if (res.owners.length > 0) {
      ctx.print('');
      ctx.print(table(['NAMESPACE', 'OWNER', 'FIRST DECLARED BY', 'SINCE'], res.owners.map((o) => [o.namespace, o.ownerName, o.capability, relativeTime(o.since)]), { style: s }));
    }
  });

  const revoke = grant
    .command('revoke')
    .description('revoke a grant; the next call that needs it fails with STATE_FORBIDDEN (namespace) or EFFECT_FORBIDDEN (http)')
    .argument('<id>', "the grant's id (see 'substrate grant ls')");
  withExamples(revoke, ['substrate grant revoke grt_123']);
  revoke.action(async (id: string) => {
    const client = await ctx.client();
    const res = await client.call('grants/revoke', { id });
    if (ctx.json) return ctx.printJson(res);
    ctx.print(`${ctx.style.green('revoked')} ${res.id}`);
  });
}
