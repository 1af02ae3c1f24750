// Shared test fixtures: temp data directories, real kernels on port 0, capability sources.

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startKernel, type RunningKernel, type StartOptions } from '../kernel/index.ts';
import { SubstrateClient } from '../kernel/client.ts';

export function tmpDir(prefix = 'substrate-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface TestKernel extends RunningKernel {
  stop(): Promise<void>;
  client(token?: string): Promise<SubstrateClient>;
}

/** A real kernel with real sandbox workers on a temp data dir. `stop` closes it, its clients and
 *  removes the directory. */
export async function startTestKernel(opts: Partial<StartOptions> = {}): Promise<TestKernel> {
  const dataDir = opts.dataDir ?? tmpDir();
  const running = await startKernel({ workers: 1, port: 0, ...opts, dataDir });
  const clients: SubstrateClient[] = [];
  return {
    ...running,
    async client(token = running.operatorToken) {
      const c = await SubstrateClient.connect(running.url, { token });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.close();
      await running.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface CapSpec {
  name: string;
  version?: string;
  body?: string;
  deps?: Record<string, string>;
  inputSchema?: object;
  outputSchema?: object;
  shared?: Record<string, 'r' | 'rw'>;
  tests?: object[];
  limits?: { timeoutMs?: number; memoryMb?: number };
  migrate?: string;
  extra?: string;
  effects?: object;
}

/** The source of a capability module with its manifest in it. `body` is the default export's body,
 *  with `input` and `ctx` in scope. */
export function cap(spec: CapSpec): string {
  const manifest = {
    name: spec.name,
    version: spec.version ?? '1.0.0',
    description: `test capability ${spec.name}`,
    ...(spec.inputSchema ? { inputSchema: spec.inputSchema } : {}),
    ...(spec.outputSchema ? { outputSchema: spec.outputSchema } : {}),
    ...(spec.deps ? { dependencies: spec.deps } : {}),
    ...(spec.shared ? { state: { shared: spec.shared } } : {}),
    ...(spec.limits ? { limits: spec.limits } : {}),
    ...(spec.tests ? { tests: spec.tests } : {}),
    ...(spec.effects ? { effects: spec.effects } : {}),
  };
  return [
    `export const manifest = ${JSON.stringify(manifest)};`,
    `export default async function (input, ctx) {\n${spec.body ?? 'return input;'}\n}`,
    spec.migrate ? `export async function migrate(ctx, from) {\n${spec.migrate}\n}` : '',
    spec.extra ?? '',
  ].join('\n');
}

export async function eventually<T>(fn: () => T | Promise<T>, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let last: unknown;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      last = e;
      if (Date.now() > deadline) throw last;
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
    }
  }
}

/** Runs `fn` expecting a SubstrateError or RpcError of `type`; returns it for more assertions. */
export async function expectType<E = { type: string; message: string; data: Record<string, unknown> }>(p: Promise<unknown>, type: string): Promise<E> {
  try {
    await p;
  } catch (e) {
    const t = (e as { type?: string }).type;
    if (t !== type) throw new Error(`expected ${type}, got ${t ?? 'untyped'}: ${(e as Error).message}`, { cause: e });
    return e as E;
  }
  throw new Error(`expected ${type}, but it succeeded`);
}
