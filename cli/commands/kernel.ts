// The commands about the kernel itself: start (run one in this process), info, backup, and mcp
// (an MCP server on stdio that forwards to a kernel).

import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { Ctx } from '../context.ts';
import { keyValues } from '../format.ts';
import { resolveDataDir } from '../target.ts';
import { UsageError } from '../errors.ts';
import { positiveInt, withExamples } from './shared.ts';
import { DEFAULT_HOST, DEFAULT_PORT } from '../../kernel/api.ts';
import { normalizeOrigin, parseOriginList } from '../../kernel/http-origin.ts';

/** One `--allow-origin`, added to the ones before it. */
function originArg(value: string, previous: string[]): string[] {
  try {
    return [...previous, normalizeOrigin(value)];
  } catch (e) {
    throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
  }
}

function portArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('expected a port number (0-65535).');
  return n;
}

function formatUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

export function addKernelCommands(program: Command, ctx: Ctx): void {
  // start ---------------------------------------------------------------------------------------
  const start = program
    .command('start')
    .description('run a kernel in this process until Ctrl+C / SIGTERM (the data directory is --data)')
    .option('-p, --port <port>', 'port to listen on (0: any free port)', portArg, DEFAULT_PORT)
    .option('--host <host>', 'address to bind (beyond loopback, tokens still protect every call)', DEFAULT_HOST)
    .option('-w, --workers <n>', 'sandbox worker processes (default: one per CPU)', positiveInt)
    .option('--example', 'register the example graph when the store is empty')
    .option('--no-console', 'do not serve the web console on http://HOST:PORT/ (docs/console.md)')
    .option('--secrets-key-file <file>', 'the key secrets are encrypted with (env SUBSTRATE_SECRETS_KEY_FILE; default <data>/secrets.key, created with the first secret)')
    .option(
      '--allow-origin <origin>',
      'a browser origin (scheme://host[:port]) allowed to call the kernel besides its own; repeatable (env SUBSTRATE_ALLOWED_ORIGINS, comma-separated)',
      originArg,
      [],
    );
  withExamples(start, [
    'substrate start',
    'substrate start --example',
    'substrate start --port 8080 --data /var/lib/substrate',
    'substrate start --host 0.0.0.0 --workers 4',
    'substrate start --allow-origin http://localhost:5173',
  ]);
  start.action(async (opts: { port: number; host: string; workers?: number; example?: boolean; allowOrigin: string[]; secretsKeyFile?: string; console: boolean }) => {
    let envOrigins: string[];
    try {
      envOrigins = parseOriginList(ctx.env.SUBSTRATE_ALLOWED_ORIGINS);
    } catch (e) {
      throw new UsageError(`SUBSTRATE_ALLOWED_ORIGINS: ${e instanceof Error ? e.message : String(e)}`, 'substrate start');
    }
    const allowedOrigins = [...new Set([...opts.allowOrigin, ...envOrigins])];
    const dataDir = resolveDataDir(ctx.options, ctx.env, process.cwd());
    const keyFile = opts.secretsKeyFile ?? ctx.env.SUBSTRATE_SECRETS_KEY_FILE;
    const { startKernel } = await import('../../kernel/index.ts');
    const { guardProcess } = await import('../../kernel/process-guard.ts');
    const running = await startKernel({
      dataDir,
      port: opts.port,
      host: opts.host,
      ...(opts.workers ? { workers: opts.workers } : {}),
      ...(opts.example ? { example: true } : {}),
      ...(opts.console === false ? { console: false } : {}),
      ...(allowedOrigins.length ? { allowedOrigins } : {}),
      ...(keyFile ? { secretsKeyFile: path.resolve(keyFile) } : {}),
    });
    // From here on serving is this process's job: a failure nothing handled is logged, not fatal.
    guardProcess();
    if (ctx.json) {
      ctx.printJson({ url: running.url, port: running.port, dataDir, tokenFile: running.tokenFile, pid: process.pid });
    } else {
      const s = ctx.style;
      ctx.print(`${s.green('Substrate kernel')} listening on ${s.bold(running.url)}`);
      ctx.print(
        keyValues(
          [
            ['data', dataDir],
            ...(opts.console === false ? [] : ([['console', running.url.replace(/^ws/, 'http')]] as [string, string][])),
            ['operator token', `${running.tokenFile} ${s.dim('(mode 0600; the CLI finds it through --data)')}`],
          ],
          { style: s },
        ),
      );
      ctx.print(s.dim('Press Ctrl+C to stop.'));
    }
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    // A second signal while draining stops at once.
    const force = (): void => process.exit(1);
    process.once('SIGINT', force);
    process.once('SIGTERM', force);
    if (!ctx.json) ctx.note('stopping: letting calls in flight finish…');
    await running.close();
    if (!ctx.json) ctx.note('stopped.');
    process.exit(0);
  });

  // info ----------------------------------------------------------------------------------------
  const info = program.command('info').description('the kernel: version, generation, uptime, number of capabilities');
  withExamples(info, ['substrate info', 'substrate info --url ws://10.0.0.5:7070/ --json']);
  info.action(async () => {
    const client = await ctx.client();
    const res = await client.call('kernel/info');
    if (ctx.json) return ctx.printJson(res);
    ctx.print(
      keyValues(
        [
          ['url', client.url],
          ['version', res.version],
          ['generation', String(res.generation)],
          ['uptime', formatUptime(res.uptimeMs)],
          ['capabilities', String(res.capabilities)],
        ],
        { style: ctx.style, indent: '' },
      ),
    );
  });

  // backup --------------------------------------------------------------------------------------
  const backup = program
    .command('backup')
    .description("write a consistent copy of the kernel's store to a file (on the kernel's machine)")
    .argument('<file>', 'destination; a relative path is made absolute from this directory');
  withExamples(backup, ['substrate backup ./substrate-backup.db', 'substrate backup /backups/substrate-$(date +%F).db']);
  backup.action(async (file: string) => {
    const client = await ctx.client();
    const res = await client.call('kernel/backup', { file: path.resolve(file) });
    if (ctx.json) return ctx.printJson(res);
    ctx.print(`${ctx.style.green('backup written')} to ${res.file} ${ctx.style.dim(`(${res.bytes} bytes)`)}`);
  });

  // mcp -----------------------------------------------------------------------------------------
  const mcp = program
    .command('mcp')
    .description('serve the Model Context Protocol on stdio, forwarding to the kernel (for agent hosts)');
  withExamples(mcp, [
    'substrate mcp',
    'substrate mcp --url ws://127.0.0.1:7070/ --token "$SUBSTRATE_TOKEN"',
  ]);
  mcp.action(async () => {
    const t = ctx.target();
    // Loaded only when used; the module is optional in a build without MCP.
    const spec = new URL('../mcp-stdio.ts', import.meta.url).href;
    let mod: { runMcpStdio(opts: { url: string; token: string }): Promise<void> };
    try {
      mod = (await import(spec)) as typeof mod;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') throw new Error('substrate mcp is not available in this build (cli/mcp-stdio.ts is missing)', { cause: e });
      throw e;
    }
    ctx.lingering = true;
    await mod.runMcpStdio({ url: t.url, token: t.token ?? '' });
  });
}
