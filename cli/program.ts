// The `substrate` command tree (commander) and the one place that turns outcomes into exit codes:
// 0 success, 1 an error the kernel reported (or an unreachable kernel), 2 bad usage with a
// one-line hint naming the command's --help.

import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { Ctx, type GlobalOptions } from './context.ts';
import { commanderMessage, describeError, usageLine, UsageError } from './errors.ts';
import { commandPath, withExamples } from './commands/shared.ts';
import { addCapabilityCommands } from './commands/capabilities.ts';
import { addGraphCommands } from './commands/graph.ts';
import { addStateCommands } from './commands/state.ts';
import { addLogCommands } from './commands/logs.ts';
import { addTokenCommands } from './commands/tokens.ts';
import { addGrantCommands } from './commands/grants.ts';
import { addKernelCommands } from './commands/kernel.ts';
import { addJobCommands } from './commands/jobs.ts';
import { addSecretCommands } from './commands/secrets.ts';
import { addEffectCommands } from './commands/effects.ts';
import { addTopCommand } from './commands/top.ts';
import { addRecordCommands } from './commands/records.ts';
import { addRolloutCommands } from './commands/rollouts.ts';

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Raised from commander's exit hook so the failing command's path is known for the hint. */
class CommanderExit extends Error {
  constructor(
    readonly inner: CommanderError,
    readonly command: string,
  ) {
    super(inner.message);
  }
}

export function buildProgram(ctx: Ctx): Command {
  const program = new Command('substrate');
  program
    .description('Operate a Substrate kernel: register, upgrade, inspect and invoke sandboxed capabilities.')
    .version(packageVersion(), '-V, --version')
    .option('--url <url>', 'kernel WebSocket URL (env SUBSTRATE_URL; default: <data>/kernel.json, else ws://127.0.0.1:7070/)')
    .option('--token <token>', 'bearer token (env SUBSTRATE_TOKEN; default: <data>/operator.token)')
    .option('--data <dir>', 'data directory of a local kernel (env SUBSTRATE_DATA; default ./.substrate)')
    .option('--json', 'print one machine-readable JSON document to stdout')
    .showSuggestionAfterError(true);
  withExamples(program, [
    'substrate start --example            # in one terminal',
    'substrate ls                         # in another: finds the local kernel and its token',
    `substrate invoke text.wordcount '{"text":"a b c"}'`,
    'substrate graph --format dot | dot -Tsvg > graph.svg',
  ]);
  program.addHelpText(
    'after',
    'Exit codes: 0 success, 1 an error the kernel reported (or no kernel reachable), 2 bad usage.\n' +
      'Colour is used on a terminal only, never with NO_COLOR set.\n',
  );

  addKernelCommands(program, ctx);
  addCapabilityCommands(program, ctx);
  addGraphCommands(program, ctx);
  addStateCommands(program, ctx);
  addLogCommands(program, ctx);
  addTokenCommands(program, ctx);
  addGrantCommands(program, ctx);
  addJobCommands(program, ctx);
  addSecretCommands(program, ctx);
  addEffectCommands(program, ctx);
  addTopCommand(program, ctx);
  addRecordCommands(program, ctx);
  addRolloutCommands(program, ctx);

  const wire = (c: Command): void => {
    c.exitOverride((err) => {
      throw new CommanderExit(err, commandPath(c));
    });
    // Commander's own error text is replaced by the one-line hint written by runProgram.
    c.configureOutput({ outputError: () => {} });
    for (const sub of c.commands) wire(sub);
  };
  wire(program);
  return program;
}

/** Runs one command line; returns the exit code (the caller exits with it). */
export async function runProgram(argv: string[], ctx: Ctx): Promise<number> {
  const program = buildProgram(ctx);
  ctx.bindOptions(() => program.opts<GlobalOptions>());
  const wantsJson = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderExit) {
      const code = e.inner.code;
      if (code === 'commander.helpDisplayed' || code === 'commander.version') return 0;
      // `substrate help x` exits 0; a missing (sub)command prints the help to stderr and is bad usage.
      if (code === 'commander.help') return e.inner.exitCode === 0 ? 0 : 2;
      const line = usageLine(commanderMessage(e.inner.message), e.command);
      if (wantsJson) ctx.printJson({ error: { type: 'USAGE', message: commanderMessage(e.inner.message) } });
      ctx.stderr.write(`${line}\n`);
      return 2;
    }
    const report = describeError(e, ctx.resolvedTarget, ctx.errStyle);
    if (wantsJson) ctx.printJson(report.json);
    ctx.stderr.write(`${report.lines.join('\n')}\n`);
    return report.exitCode;
  } finally {
    await ctx.close();
  }
}

export { UsageError };
