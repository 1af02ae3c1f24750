// Spawns bench/kernel-main.ts (a real kernel with its sandbox workers) in a child process and ends
// it again; also spawns the raw ws echo server. Every process started here is ended by its stop().

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface Child<T> {
  info: T;
  child: ChildProcess;
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

async function startChild<T>(args: string[], what: string): Promise<Child<T>> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`${what} did not start in 60 s: ${stderr}`)), 60_000);
    rl.once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}: ${stderr}`));
    });
  });
  child.stdout!.resume();
  return {
    info: JSON.parse(line) as T,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export function spawnKernel(dataDir: string, workers?: number): Promise<Child<{ url: string; token: string; pid: number }>> {
  const args = ['--no-node-snapshot', '--import', 'tsx', fileURLToPath(new URL('./kernel-main.ts', import.meta.url)), dataDir];
  if (workers !== undefined) args.push(String(workers));
  return startChild(args, 'kernel');
}

export function spawnEchoServer(): Promise<Child<{ port: number }>> {
  return startChild([fileURLToPath(new URL('./echo-server.mjs', import.meta.url))], 'echo server');
}
