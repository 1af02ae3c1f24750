// The floors the kernel's figures are compared with, measured in the same run on the same machine:
// (a) raw isolated-vm — one warm isolate applying a trivial async function, and the cost of a new
// isolate + context + module; (b) a raw `ws` echo server in another process, driven by a minimal
// JSON-RPC-shaped client in this one. Neither does anything the kernel's path could skip, so
// "kernel / baseline" is the price of everything the kernel adds (IPC hop, validation, JSON-RPC,
// state, bookkeeping).

import ivm from 'isolated-vm';
import WebSocket from 'ws';
import { loop, summarize, type LoopOptions, type LoopResult, type Summary } from './measure.ts';
import { spawnEchoServer } from './kernel-process.ts';

/** How long each figure is measured; BENCH_SECONDS scales every bench. */
export const FIGURE_MS = Math.round(Number(process.env.BENCH_SECONDS ?? '3') * 1000);
export const WARMUP_MS = Math.min(1000, Math.round(FIGURE_MS / 3));
export const STD: LoopOptions = { maxMs: FIGURE_MS, maxCount: 1_000_000, warmupMs: WARMUP_MS };

// ---------------------------------------------------------------- (a) raw isolated-vm

export interface IsolateBaseline {
  sequential: LoopResult;
  pipelined64: LoopResult;
  /** new Isolate + createContext + compileModule + instantiate + evaluate. */
  coldSetup: Summary;
  /** The same plus the first call's result: comparable to the kernel's register → first result. */
  coldFirstResult: Summary;
}

const TRIVIAL_MODULE = 'export default async (input) => input;';

export async function isolateBaseline(opts: { coldRuns?: number } = {}): Promise<IsolateBaseline> {
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  try {
    const context = await isolate.createContext();
    const fn = (await context.eval('(async (input) => input)', { reference: true })) as ivm.Reference<(input: unknown) => Promise<unknown>>;
    const call = () => fn.apply(undefined, [{ n: 1 }], { arguments: { copy: true }, result: { promise: true, copy: true } });
    const sequential = await loop(call, 1, STD);
    const pipelined64 = await loop(call, 64, STD);
    fn.release();
    context.release();
    const { setup, first } = await isolateColdStarts(opts.coldRuns ?? 50);
    return { sequential, pipelined64, coldSetup: summarize(setup), coldFirstResult: summarize(first) };
  } finally {
    isolate.dispose();
  }
}

async function isolateColdStarts(runs: number): Promise<{ setup: number[]; first: number[] }> {
  const setup: number[] = [];
  const first: number[] = [];
  for (let i = -3; i < runs; i++) {
    const t0 = performance.now();
    const iso = new ivm.Isolate({ memoryLimit: 64 });
    try {
      const ctx = await iso.createContext();
      // A distinct source each time, as every fresh capability is: no code cache to lean on.
      const mod = await iso.compileModule(`${TRIVIAL_MODULE}\n// ${i}`);
      await mod.instantiate(ctx, () => {
        throw new Error('no imports');
      });
      await mod.evaluate();
      const t1 = performance.now();
      const def = (await mod.namespace.get('default', { reference: true })) as ivm.Reference<(input: unknown) => Promise<unknown>>;
      await def.apply(undefined, [{ n: 1 }], { arguments: { copy: true }, result: { promise: true, copy: true } });
      const t2 = performance.now();
      if (i >= 0) {
        setup.push(t1 - t0);
        first.push(t2 - t0);
      }
    } finally {
      iso.dispose();
    }
  }
  return { setup, first };
}

// ---------------------------------------------------------------- (b) raw ws echo

/** A minimal pipelining JSON-RPC client: one JSON.stringify per request and one JSON.parse per
 *  response, matched by id, like SubstrateClient does, and nothing else. Its requests are real
 *  JSON-RPC, so it also drives the kernel (to tell the client library's share from the server's). */
export class EchoClient {
  private nextId = 1;
  private readonly pending = new Map<number, (v: unknown) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as { id: number };
      const resolve = this.pending.get(msg.id);
      if (resolve) {
        this.pending.delete(msg.id);
        resolve(msg);
      }
    });
  }

  static connect(url: string, token?: string): Promise<EchoClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, headers: token ? { Authorization: `Bearer ${token}` } : {} });
      ws.once('open', () => resolve(new EchoClient(ws)));
      ws.once('error', reject);
    });
  }

  call(params: unknown, method = 'capabilities/invoke'): Promise<unknown> {
    const id = this.nextId++;
    const text = JSON.stringify({ jsonrpc: '2.0', id, method, params });
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.ws.send(text);
    });
  }

  close(): void {
    this.ws.close();
  }
}

export interface EchoBaseline {
  sequential: LoopResult;
  pipelined64: LoopResult;
  /** 64 in flight spread over 16 connections (4 each) and over 64 connections (1 each). */
  conns16: LoopResult;
  conns64: LoopResult;
}

export const INVOKE_PARAMS = { name: 'bench.echo', input: { n: 1 } };

export interface LoadProbe {
  begin(): void;
  end(load: 'sequential' | 'pipelined64' | 'conns16' | 'conns64'): void;
}

/** Runs the same four loads bench/invoke runs against the kernel's WebSocket; `probe` brackets each
 *  measured window (after its warm-up). */
export async function wsLoads(
  connect: () => Promise<{ call(p: unknown): Promise<unknown>; close(): void }>,
  params: unknown,
  probe?: LoadProbe,
): Promise<EchoBaseline> {
  const one = await connect();
  const clients = [one];
  const measured = async (load: Parameters<LoadProbe['end']>[0], fn: (lane: number) => Promise<unknown>, inFlight: number) => {
    await loop(fn, inFlight, { maxMs: STD.warmupMs ?? 0, maxCount: Number.MAX_SAFE_INTEGER });
    probe?.begin();
    const r = await loop(fn, inFlight, { ...STD, warmupMs: 0 });
    probe?.end(load);
    return r;
  };
  try {
    const sequential = await measured('sequential', () => one.call(params), 1);
    const pipelined64 = await measured('pipelined64', () => one.call(params), 64);
    while (clients.length < 64) clients.push(await connect());
    const c16 = clients.slice(0, 16);
    const conns16 = await measured('conns16', (lane) => c16[lane % 16].call(params), 64);
    const conns64 = await measured('conns64', (lane) => clients[lane].call(params), 64);
    return { sequential, pipelined64, conns16, conns64 };
  } finally {
    for (const c of clients) c.close();
  }
}

export async function echoBaseline(probe?: (serverPid: number) => LoadProbe): Promise<EchoBaseline> {
  const server = await spawnEchoServer();
  try {
    const url = `ws://127.0.0.1:${server.info.port}/`;
    return await wsLoads(() => EchoClient.connect(url), INVOKE_PARAMS, probe?.(server.child.pid!));
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------- (c) one child_process IPC hop

/** Not a target's baseline but the floor of the kernel → sandbox worker hop: a plain child process
 *  that sends every IPC message back, with a message shaped like a `run`. */
export async function ipcBaseline(): Promise<{ sequential: LoopResult; pipelined64: LoopResult }> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['-e', "process.on('message', (m) => process.send(m)); process.on('disconnect', () => process.exit(0));"], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const pending = new Map<number, (v: unknown) => void>();
  child.on('message', (m) => {
    const id = (m as { id: number }).id;
    const resolve = pending.get(id);
    if (resolve) {
      pending.delete(id);
      resolve(m);
    }
  });
  let nextId = 1;
  const links = { 'sha256:0f3c9a1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7': {} };
  const call = () =>
    new Promise<unknown>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({
        t: 'run',
        id,
        spec: { root: Object.keys(links)[0], entry: 'default', input: { n: 1 }, invocationId: 'aaaaaaaaaaaa', generation: 1, links, state: { mode: 'live' } },
      });
    });
  try {
    const sequential = await loop(call, 1, STD);
    const pipelined64 = await loop(call, 64, STD);
    return { sequential, pipelined64 };
  } finally {
    child.disconnect();
    await exited;
  }
}

// ---------------------------------------------------------------- (d) isolate ↔ host hops

/** The floor of a state operation served next to the isolate: one call of a trivial async function
 *  that makes `ops` requests to the host, each answered by a second apply into the isolate (the
 *  bridge's pattern: request with applyIgnored, answer with apply); and the same `ops` as
 *  synchronous host calls (applySync) from an isolate entered with apply (it runs on its own
 *  thread, so each call still hands over to this thread) and entered with applySync (it runs on
 *  this thread: each host call is a plain call). Sequential p50 per call. */
export async function hostHopBaseline(ops = 20): Promise<{ asyncHops: LoopResult; syncHops: LoopResult; syncEntered: LoopResult; none: LoopResult }> {
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  try {
    const context = await isolate.createContext();
    const jail = context.global;
    let dispatch: ivm.Reference<(id: number, v: string) => void> | undefined;
    await jail.set('hostAsync', new ivm.Reference((id: number) => {
      void dispatch!.apply(undefined, [id, '1'], { timeout: 1000 });
    }));
    await jail.set('hostSync', new ivm.Reference(() => '1'));
    await context.eval(`
      const requests = {}; let seq = 0;
      globalThis.reply = (id, v) => { const r = requests[id]; delete requests[id]; r(JSON.parse(v)); };
      const op = () => new Promise((resolve) => { const id = ++seq; requests[id] = resolve; hostAsync.applyIgnored(undefined, [id]); });
      globalThis.runAsync = async (n) => { let s = 0; for (let i = 0; i < n; i++) s += await op(); return s; };
      globalThis.runSync = async (n) => { let s = 0; for (let i = 0; i < n; i++) s += JSON.parse(hostSync.applySync(undefined, [i])); return s; };
      globalThis.runNone = async (n) => n;
    `);
    dispatch = (await jail.get('reply', { reference: true })) as ivm.Reference<(id: number, v: string) => void>;
    const fn = async (name: string) => (await jail.get(name, { reference: true })) as ivm.Reference<(n: number) => Promise<number>>;
    const [a, s, z] = await Promise.all([fn('runAsync'), fn('runSync'), fn('runNone')]);
    const opts = { maxMs: Math.min(FIGURE_MS, 2000), maxCount: 100_000, warmupMs: 300 };
    const call = (r: ivm.Reference<(n: number) => Promise<number>>) => () => r.apply(undefined, [ops], { result: { promise: true, copy: true } });
    const asyncHops = await loop(call(a), 1, opts);
    const syncHops = await loop(call(s), 1, opts);
    // The isolate entered synchronously on this thread (applySync): its host calls are plain calls.
    const syncEntered = await loop(() => s.applySync(undefined, [ops], { result: { promise: true, copy: true } }) as unknown as Promise<number>, 1, opts);
    const none = await loop(call(z), 1, opts);
    return { asyncHops, syncHops, syncEntered, none };
  } finally {
    isolate.dispose();
  }
}
