// Runs the real `substrate` binary the way an operator would: a clean environment (no SUBSTRATE_*
// variables, no forced colour), the given arguments, and its exit code and output back.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = path.join(fileURLToPath(new URL('..', import.meta.url)), 'cli', 'substrate.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `input`: written to the command's stdin, then closed (else stdin is empty). */
export function runCli(args: string[], opts: { input?: string } = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const v of ['SUBSTRATE_URL', 'SUBSTRATE_TOKEN', 'SUBSTRATE_DATA', 'FORCE_COLOR']) delete env[v];
  const child = spawn(process.execPath, ['--no-node-snapshot', BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end(opts.input ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}
