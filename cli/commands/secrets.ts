// `substrate secrets set | list | remove` (also `substrate secret`, the contract's spelling):
// secrets the kernel adds to requests (operators only; docs/effects.md). The value is read from
// stdin, never from the command line (it would be in the shell's history and the process list):
// piped, the whole input less one trailing newline; on a terminal, typed without echo.

import { Command } from 'commander';
import type { Ctx } from '../context.ts';
import { relativeTime, table } from '../format.ts';
import { UsageError } from '../errors.ts';
import { withExamples } from './shared.ts';

export function addSecretCommands(program: Command, ctx: Ctx): void {
  const secrets = program
    .command('secrets')
    .alias('secret')
    .description('secrets the kernel adds to requests of the capabilities whose manifest names them (operators only)');
  withExamples(secrets, [
    'substrate secrets set github --hosts api.github.com < token.txt',
    'substrate secrets set acme --hosts "*.acme.test" --header X-Api-Key --format "{}"',
    'substrate secrets list',
    'substrate secrets remove github',
  ]);

  const set = secrets
    .command('set')
    .description('store a secret (encrypted); the value is read from stdin, typed without echo on a terminal')
    .argument('<name>', 'the secret name (like github), as manifests name it in effects.http[].secrets')
    .requiredOption('--hosts <patterns>', 'comma-separated destination patterns it may be sent to (host, host:port, *.host)')
    .option('--header <name>', 'the request header it goes in (default Authorization)')
    .option('--format <format>', 'the header value, {} standing for the secret (default "Bearer {}")');
  withExamples(set, ['printf %s "$TOKEN" | substrate secrets set github --hosts api.github.com', 'substrate secrets set acme --hosts api.acme.test:8443 --header X-Api-Key --format "{}"']);
  set.action(async (name: string, opts: { hosts: string; header?: string; format?: string }) => {
    const hosts = opts.hosts.split(',').map((h) => h.trim()).filter(Boolean);
    if (hosts.length === 0) throw new UsageError('--hosts names no pattern', 'substrate secrets set');
    const value = await readSecretValue(name, ctx);
    if (value === '') throw new UsageError('the secret value is empty (it is read from stdin)', 'substrate secrets set');
    const client = await ctx.client();
    const res = await client.call('secrets/set', { name, value, hosts, ...(opts.header ? { header: opts.header } : {}), ...(opts.format ? { format: opts.format } : {}) });
    if (ctx.json) return ctx.printJson(res);
    const s = ctx.style;
    ctx.print(`${s.green(res.replaced ? 'replaced' : 'stored')} secret ${s.bold(res.name)}: ${res.header}: ${res.format} to ${res.hosts.join(', ')}`);
  });

  const list = secrets.command('list').alias('ls').description('the secrets: names, hosts, header and format (never values)');
  withExamples(list, ['substrate secrets list', 'substrate secrets list --json']);
  list.action(async () => {
    const client = await ctx.client();
    const res = await client.call('secrets/list', {});
    if (ctx.json) return ctx.printJson(res);
    if (res.items.length === 0) return ctx.print(ctx.style.dim('no secrets'));
    ctx.print(table(['NAME', 'HOSTS', 'HEADER', 'FORMAT', 'CREATED'], res.items.map((x) => [x.name, x.hosts.join(','), x.header, x.format, relativeTime(x.createdAt)]), { style: ctx.style }));
  });

  const remove = secrets.command('remove').alias('rm').description('remove a secret; requests naming it go out without it').argument('<name>', 'the secret name');
  withExamples(remove, ['substrate secrets remove github']);
  remove.action(async (name: string) => {
    const client = await ctx.client();
    const res = await client.call('secrets/remove', { name });
    if (ctx.json) return ctx.printJson(res);
    ctx.print(`${ctx.style.green('removed')} secret ${res.name}`);
  });
}

/** The value from stdin: on a terminal typed without echo (one line), else all of it less one
 *  trailing newline (what `echo` and most files end with). */
async function readSecretValue(name: string, ctx: Ctx): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) return readHidden(`value of secret ${name} (not shown): `, ctx);
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function readHidden(prompt: string, ctx: Ctx): Promise<string> {
  const stdin = process.stdin;
  ctx.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (err?: Error): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      ctx.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (buf: Buffer): void => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new UsageError('cancelled', 'substrate secrets set'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
