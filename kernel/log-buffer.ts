// The kernel's buffer of recent capability log lines (`logs/recent` and the `log` events): entries
// from the workers turned into log events of the generation they were recorded on, kept in memory
// and bounded twice. Nothing here is durable: logs are for watching, records (#14) for evidence.

import type { LogEntry } from '../sandbox/protocol.ts';
import type { KernelEvent, LogsParams, LogsResult } from './api.ts';
import { clampLimit } from '../capabilities/paging.ts';

export type LogEvent = Extract<KernelEvent, { type: 'log' }>;

/** Characters of log messages the kernel keeps in memory (beyond: the oldest entries go first). */
export const LOG_BUFFER_CHARS = 16 * 1024 * 1024;

export class LogBuffer {
  private readonly logs: LogEvent[] = [];
  /** Characters of the messages in `logs`. Invariant: the sum of `message.length` over `logs`. */
  private chars = 0;

  /** `maxEntries`: the entries kept (also the largest `limit` a reader gets). */
  constructor(readonly maxEntries: number) {}

  /** Turns worker entries into events, keeps them and hands each to `emit` in order. */
  record(entries: LogEntry[], generation: number, emit: (ev: LogEvent) => void): void {
    for (const e of entries) {
      const ev: LogEvent = {
        type: 'log',
        generation,
        invocationId: e.invocationId,
        name: e.name,
        version: e.version,
        level: e.level,
        message: e.message,
        at: new Date(e.at).toISOString(),
        origin: e.origin?.kind ?? 'live',
      };
      if (e.origin) ev.gate = { capability: e.origin.capability, version: e.origin.version, test: e.origin.test };
      this.logs.push(ev);
      this.chars += ev.message.length;
      emit(ev);
    }
    // Bounded in entries and in characters: 10,000 messages of 16 KiB would be 160 M characters.
    // The newest entry always stays, whatever its size.
    let drop = Math.max(0, this.logs.length - this.maxEntries);
    for (let i = 0; i < drop; i++) this.chars -= this.logs[i].message.length;
    while (drop < this.logs.length - 1 && this.chars > LOG_BUFFER_CHARS) this.chars -= this.logs[drop++].message.length;
    if (drop > 0) this.logs.splice(0, drop);
  }

  /** The newest lines matching the filter. `visible`: which capabilities' lines the caller may
   *  see (kernel/log-access.ts). */
  recent(params: LogsParams, visible?: (name: string) => boolean): LogsResult {
    const limit = clampLimit(params.limit, 100, this.maxEntries);
    const items = params.name || params.origin || visible ? this.logs.filter((l) => (!params.name || l.name === params.name) && (!params.origin || l.origin === params.origin) && (!visible || visible(l.name))) : this.logs;
    return { items: items.slice(-limit) };
  }
}
