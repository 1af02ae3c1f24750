// Entry of the `substrate` CLI (cli/substrate.js loads this through tsx): runs the command line
// and exits with its code.

import { Ctx } from './context.ts';
import { runProgram } from './program.ts';

// `substrate … | head` closes the pipe early: that is the reader's choice, not a failure.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

// A failure outside any command's await (in a kernel run by `start`, say) still gets the CLI's
// error format and exit code 1 rather than a bare stack.
process.on('unhandledRejection', (e) => {
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(`error: unexpected failure: ${err.message}\n${err.stack ?? ''}\n`);
  process.exit(1);
});

const ctx = new Ctx();
const code = await runProgram(process.argv.slice(2), ctx);
process.exitCode = code;
// Nothing should keep the process alive after a command; if something does (a socket closing
// slowly), do not hang the caller's script. `mcp` serves stdio until its host closes it.
if (!ctx.lingering) setTimeout(() => process.exit(code), 1000).unref();
