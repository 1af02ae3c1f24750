// bench/effects (issue 13): invocations per second of a capability doing one fetch to a local HTTP
// server, beside the same request made directly by Node's fetch from this process in the same run,
// 64 in flight (target ≥ 0.5× of the direct rate); and the latency the kernel adds to one request
// (sequential p50/p99 of invoke-with-fetch beside direct fetch, and of a plain invoke). The path
// measured: isolate → worker → IPC → kernel (grant and address checks, journal) → the network →
// back; the server answers a 64-byte body on keep-alive connections.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startKernel } from '../kernel/index.ts';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import { STD } from './baselines.ts';
import { log, loop, Report } from './measure.ts';

const BODY = JSON.stringify({ ok: true, pad: 'x'.repeat(48) });

async function main(): Promise<void> {
  const report = new Report('effects');
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) });
    res.end(BODY);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/item`;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'substrate-bench-effects-'));
  const running = await startKernel({ dataDir: path.join(tmp, 'kernel'), port: 0, mcp: false });
  try {
    const kernel = running.kernel;
    // Registered by the operator, whose grants are implicit; the manifest names the loopback
    // address literally, which is what lets a request reach it (docs/effects.md).
    await kernel.register(LOCAL_OPERATOR, {
      source: `export const manifest = { name: 'bench.fetch', version: '1.0.0', effects: { http: ['127.0.0.1:${port}'] } };
export default async (input) => { const r = await fetch(${JSON.stringify(url)} + '?n=' + input.n); const j = await r.json(); return { status: r.status, ok: j.ok }; };`,
    });
    await kernel.register(LOCAL_OPERATOR, { source: `export const manifest = { name: 'bench.plain', version: '1.0.0' };\nexport default async (input) => ({ n: input.n });` });
    const viaKernel = (_l: number, n: number) => kernel.invoke({ name: 'bench.fetch', input: { n } });
    const direct = async (_l: number, n: number) => {
      const r = await fetch(`${url}?n=${n}`);
      await r.json();
    };
    const plain = (_l: number, n: number) => kernel.invoke({ name: 'bench.plain', input: { n } });

    log('direct Node fetch, 64 in flight …');
    const d64 = await loop(direct, 64, STD);
    log('invoke of a capability doing one fetch, 64 in flight …');
    const k64 = await loop(viaKernel, 64, STD);
    if (k64.errors) report.note(`invoke errors at 64 in flight: ${k64.errors} (first: ${k64.firstError})`);
    report.add('invoke with one fetch, 64 in flight', k64.perSec, 'calls/s', {
      baseline: { label: 'direct Node fetch, 64 in flight', value: d64.perSec },
      target: { text: '≥ 0.5× direct', met: (_v, r) => r !== undefined && r >= 0.5 },
    });

    log('sequential: direct fetch, invoke with fetch, plain invoke …');
    const d1 = await loop(direct, 1, STD);
    const k1 = await loop(viaKernel, 1, STD);
    const p1 = await loop(plain, 1, STD);
    report.add('invoke with one fetch, sequential p50', k1.lat.p50, 'ms', { baseline: { label: 'direct fetch p50', value: d1.lat.p50 } });
    report.add('invoke with one fetch, sequential p99', k1.lat.p99, 'ms', { baseline: { label: 'direct fetch p99', value: d1.lat.p99 } });
    report.note(
      `added by the kernel per request: p50 ${(k1.lat.p50 - d1.lat.p50 - p1.lat.p50).toFixed(3)} ms, p99 ${(k1.lat.p99 - d1.lat.p99 - p1.lat.p99).toFixed(3)} ms ` +
        `(invoke-with-fetch minus direct fetch minus a plain invoke: p50 ${p1.lat.p50.toFixed(3)} ms, p99 ${p1.lat.p99.toFixed(3)} ms)`,
    );
    report.note(`effect journal entries written: ${kernel.effects.list(LOCAL_OPERATOR, { limit: 1 }).items.length ? 'yes' : 'none'}`);
    report.finish();
  } finally {
    await running.close();
    server.closeAllConnections();
    server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
