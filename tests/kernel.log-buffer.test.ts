import { describe, expect, it } from 'vitest';
import { LOG_BUFFER_CHARS, LogBuffer, type LogEvent } from '../kernel/log-buffer.ts';
import type { LogEntry } from '../sandbox/protocol.ts';

function entry(name: string, message: string): LogEntry {
  return { invocationId: 'i1', name, version: '1.0.0', level: 'info', message, at: Date.now() } as LogEntry;
}

describe('LogBuffer', () => {
  it('keeps the newest entries up to its bound and emits every entry in order', () => {
    const b = new LogBuffer(3);
    const seen: LogEvent[] = [];
    b.record(['a', 'b', 'c', 'd', 'e'].map((m) => entry('x.y', m)), 7, (ev) => seen.push(ev));
    expect(seen.map((e) => e.message)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(seen[0]).toMatchObject({ type: 'log', generation: 7, origin: 'live' });
    expect(b.recent({}).items.map((e) => e.message)).toEqual(['c', 'd', 'e']);
    expect(b.recent({ limit: 1 }).items.map((e) => e.message)).toEqual(['e']);
    expect(b.recent({ limit: 100 }).items).toHaveLength(3);
  });

  it('is bounded in characters too, but always keeps the newest entry', () => {
    const b = new LogBuffer(10_000);
    const big = 'x'.repeat(LOG_BUFFER_CHARS / 4 + 1);
    b.record([entry('x.y', big), entry('x.y', big), entry('x.y', big), entry('x.y', big)], 1, () => {});
    expect(b.recent({}).items.length).toBe(3);
    const huge = 'y'.repeat(LOG_BUFFER_CHARS + 10);
    b.record([entry('x.y', huge)], 1, () => {});
    expect(b.recent({}).items.map((e) => e.message.length)).toEqual([huge.length]);
  });

  it('filters by name, origin and visibility', () => {
    const b = new LogBuffer(100);
    b.record([entry('a.one', '1'), entry('b.two', '2'), entry('a.one', '3')], 1, () => {});
    expect(b.recent({ name: 'a.one' }).items.map((e) => e.message)).toEqual(['1', '3']);
    expect(b.recent({}, (n) => n === 'b.two').items.map((e) => e.message)).toEqual(['2']);
    expect(b.recent({ origin: 'gate' }).items).toEqual([]);
  });
});
