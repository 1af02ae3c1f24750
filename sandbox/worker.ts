// The sandbox worker process: forked by sandbox/pool.ts, it hosts the isolates and runs whole call
// trees. It talks to the kernel only through the IPC channel (sandbox/protocol.ts, batched per tick)
// and reads state through its own read-only SQLite connection. It never writes anything.
//
// Environment: SUBSTRATE_SANDBOX_DB (the SQLite file, empty for none), SUBSTRATE_SANDBOX_MAX_ISOLATES,
// SUBSTRATE_SANDBOX_RSS_HEADROOM_MB (sandbox/memory-watchdog.ts), SUBSTRATE_SANDBOX_NONCE (crash lines).

import { asSubstrateError, exceeded, fail } from '../capabilities/errors.ts';
import { openReadOnlyState } from '../store/state.ts';
import type { ReadOnlyState } from '../store/state.ts';
import { CallTreeRunner } from './call-tree.ts';
import { Outbox, unbatch } from './ipc.ts';
import { IsolateHost } from './isolate-host.ts';
import type { FromWorker, LogEntry, ToWorker } from './protocol.ts';
import type { EgressResult } from '../capabilities/effects.ts';
import type { EgressFn } from './tree-egress.ts';
import { EMPTY_SOURCE } from './transaction.ts';
import { VersionCache } from './version-cache.ts';

if (!process.send) {
  process.stderr.write('sandbox/worker.ts is started by the sandbox pool (child_process.fork), not directly\n');
  process.exit(2);
}
const sendFrame = process.send.bind(process);

const dbPath = process.env.SUBSTRATE_SANDBOX_DB || null;
const maxIsolates = Number(process.env.SUBSTRATE_SANDBOX_MAX_ISOLATES) || 200;

let reader: ReadOnlyState | null = null;
let logMsg: { t: 'log'; entries: LogEntry[] } | null = null;
const out = new Outbox<FromWorker>((batch) => {
  logMsg = null;
  try {
    sendFrame(batch);
  } catch {
    // Serializing threw (call-tree bounds what it sends, so this is a backstop): send the batch one
    // by one and answer a run that cannot go with an error, instead of this worker dying with
    // every other tenant's calls.
    for (const m of Array.isArray(batch) ? batch : [batch]) {
      try {
        sendFrame(m);
      } catch (e) {
        if (m.t === 'done') {
          const error = exceeded('size', `the result could not be sent to the kernel: ${e instanceof Error ? e.message : String(e)}`, { what: 'output' }).toWire();
          sendFrame({ ...m, result: { ok: false, error, durationMs: m.result.durationMs } });
        }
      }
    }
  }
});
const versions = new VersionCache((hash) => out.push({ t: 'need', hash }));
const headroom = process.env.SUBSTRATE_SANDBOX_RSS_HEADROOM_MB;
const isolates = new IsolateHost({ maxIsolates, rssHeadroomMb: headroom ? Number(headroom) : undefined });
const runner = new CallTreeRunner({
  isolates,
  versions,
  liveState: () => {
    if (!dbPath) return EMPTY_SOURCE;
    if (!reader) {
      try {
        reader = openReadOnlyState(dbPath);
      } catch (e) {
        // Not the capability's fault: say it is the sandbox's.
        throw fail('SANDBOX_CRASHED', `the sandbox worker cannot read the state store: ${e instanceof Error ? e.message : String(e)}`, { pid: process.pid });
      }
    }
    return reader;
  },
  log: (entry) => {
    if (!logMsg) {
      logMsg = { t: 'log', entries: [] };
      out.push(logMsg);
    }
    logMsg.entries.push(entry);
  },
});

let inFlight = 0;
let shuttingDown = false;

// Fetches sent to the kernel and not answered yet, by their number; a run that ends drops its own
// (their promises are never settled: nothing waits on them any more).
let fetchSeq = 0;
const fetches = new Map<number, { run: number; resolve: (r: EgressResult) => void }>();
function egressOf(run: number): EgressFn {
  return (caller, request) =>
    new Promise<EgressResult>((resolve) => {
      const req = ++fetchSeq;
      fetches.set(req, { run, resolve });
      out.push({ t: 'fetch', id: run, req, caller, request });
    });
}
function dropFetches(run: number): void {
  for (const [req, f] of fetches) if (f.run === run) fetches.delete(req);
}

// Reading the RSS costs a /proc read: sample it, the pool only compares it with a limit.
let rss = process.memoryUsage.rss();
let rssAt = Date.now();
function currentRss(): number {
  const now = Date.now();
  if (now - rssAt >= 100) {
    rss = process.memoryUsage.rss();
    rssAt = now;
  }
  return rss;
}

function maybeExit(): void {
  if (!shuttingDown || inFlight > 0) return;
  out.flush();
  isolates.close();
  reader?.close();
  // The callback runs once everything queued before it is written to the channel.
  sendFrame([], () => process.exit(0));
}

function handle(m: ToWorker): void {
  switch (m.t) {
    case 'run':
      inFlight++;
      runner.run(m.spec, m.egress ? egressOf(m.id) : undefined).then((result) => {
        inFlight--;
        if (m.egress) dropFetches(m.id);
        out.push({ t: 'done', id: m.id, result, rss: currentRss(), isolates: isolates.stats().isolates });
        maybeExit();
      });
      return;
    case 'inspect':
      inFlight++;
      isolates.inspect(m.code, m.memoryMb).then(
        (inspection) => out.push({ t: 'inspected', id: m.id, ok: true, inspection }),
        (e: unknown) => out.push({ t: 'inspected', id: m.id, ok: false, error: asSubstrateError(e, 'COMPILE_ERROR').toWire() }),
      ).finally(() => {
        inFlight--;
        maybeExit();
      });
      return;
    case 'fetched': {
      const f = fetches.get(m.req);
      if (f && f.run === m.id) {
        fetches.delete(m.req);
        f.resolve(m.result);
      }
      return;
    }
    case 'version':
      versions.provide(m.hash, m.payload);
      return;
    case 'retire':
      isolates.retire(m.hashes);
      versions.forget(m.hashes);
      runner.forget(m.hashes);
      return;
    case 'shutdown':
      shuttingDown = true;
      maybeExit();
      return;
  }
}

process.on('message', (frame: unknown) => {
  for (const m of unbatch<ToWorker>(frame)) handle(m);
});
// The kernel is gone: nothing may outlive it.
process.on('disconnect', () => process.exit(0));
// A terminal's Ctrl+C reaches the whole process group; the kernel decides when workers stop.
process.on('SIGINT', () => {});

out.push({ t: 'ready', pid: process.pid });
