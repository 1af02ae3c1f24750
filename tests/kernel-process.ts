// Spawns tests/fixtures/run-kernel.ts as a real, separate kernel process that a test may kill -9.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface KernelProcess {
  url: string;
  token: string;
  pid: number;
  child: ChildProcess;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

const FIXTURE = fileURLToPath(new URL('./fixtures/run-kernel.ts', import.meta.url));

export async function spawnKernel(dataDir: string, workers = 1): Promise<KernelProcess> {
  // detached: the kernel and its sandbox workers form a process group, so kill9 can end them all
  // at once, as a crash of the machine's kernel process would.
  const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', FIXTURE, dataDir, String(workers)], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`kernel did not start in 60 s: ${stderr}`)), 60_000);
    rl.once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kernel exited with ${code}: ${stderr}`));
    });
  });
  const info = JSON.parse(line) as { url: string; token: string; pid: number };
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    ...info,
    child,
    async kill9() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}
