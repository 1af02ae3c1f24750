// The last line of defence of a serving kernel process: an exception or rejection that nothing
// handled is logged and the kernel keeps serving, instead of Node's default of ending the process
// (and every connection, call and job with it). Every known cause is handled where it arises
// (a failed request fails that request, a failed connection closes that connection); this is for
// the ones not yet known. Installed by the entry points that run a kernel as their process's job
// (`substrate start`, tests/fixtures/run-kernel.ts), not by startKernel, which also runs inside
// other programs that own their process.

let installed = false;

/** Replaces the process's 'uncaughtException' and 'unhandledRejection' listeners with ones that
 *  log to stderr and keep the process alive. Idempotent. */
export function guardProcess(log: (line: string) => void = (line) => process.stderr.write(line + '\n')): void {
  if (installed) return;
  installed = true;
  const report = (kind: string) => (e: unknown) => {
    const text = e instanceof Error ? (e.stack ?? e.message) : String(e);
    try {
      log(`substrate: ${kind} (the kernel keeps serving; please report this): ${text}`);
    } catch {
      // Logging must not become the next failure.
    }
  };
  process.removeAllListeners('uncaughtException');
  process.removeAllListeners('unhandledRejection');
  process.on('uncaughtException', report('uncaught exception'));
  process.on('unhandledRejection', report('unhandled rejection'));
}
