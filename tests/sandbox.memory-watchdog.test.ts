// The memory watchdog (sandbox/memory-watchdog.ts), the last line behind memoryMb, on isolates and
// an RSS reading supplied by the test: no known capability escapes the other defences any more, so
// its decisions are tried here directly (the attacks against real workers are in
// tests/sandbox.memory-attacks.test.ts), and its wiring in a real worker whose allowance is made
// negative (workerRssHeadroomMb), so that any busy isolate is over it.

import { describe, expect, it } from 'vitest';
import { ISOLATE_RSS_FACTOR, MemoryWatchdog, WORKER_RSS_HEADROOM_MB, type WatchedIsolate } from '../sandbox/memory-watchdog.ts';
import { ECHO, makePool, spec, Versions } from './sandbox.fixtures.ts';

const MB = 1024 * 1024;

class Isolate implements WatchedIsolate {
  inFlight = 0;
  cpu = 0n;
  killed = false;
  constructor(
    readonly memoryMb: number,
    public idleBytes: number,
  ) {}
  cpuNs(): bigint {
    return this.cpu;
  }
  killForMemory(): void {
    this.killed = true;
    this.inFlight = 0;
  }
}

function setup() {
  let rss = 100 * MB;
  const isolates: Isolate[] = [];
  const dog = new MemoryWatchdog(() => isolates, () => rss);
  return { dog, isolates, setRss: (v: number) => (rss = v) };
}

describe('the memory watchdog', () => {
  it('allows the RSS at start, the headroom, busy isolates 3 x memoryMb and memoryMb per call, idle ones their size', () => {
    const { dog, isolates } = setup();
    const busy = new Isolate(64, 10 * MB);
    busy.inFlight = 2;
    isolates.push(busy, new Isolate(128, 20 * MB));
    expect(dog.allowance()).toBe(100 * MB + WORKER_RSS_HEADROOM_MB * MB + (ISOLATE_RSS_FACTOR + 2) * 64 * MB + 20 * MB);
  });

  it('does nothing within the allowance', () => {
    const { dog, isolates, setRss } = setup();
    const a = new Isolate(64, 0);
    a.inFlight = 1;
    isolates.push(a);
    setRss(dog.allowance() - MB);
    a.cpu = 10n ** 9n;
    dog.tick();
    expect(a.killed).toBe(false);
    expect(dog.kills).toBe(0);
  });

  it('over it, disposes the busy isolate that ran most since the last sample, one per sample', () => {
    const { dog, isolates, setRss } = setup();
    const quiet = new Isolate(64, 0);
    const hog = new Isolate(64, 0);
    const idle = new Isolate(64, 0);
    quiet.inFlight = 1;
    hog.inFlight = 1;
    isolates.push(quiet, hog, idle);
    dog.tick(); // first sample: CPU baselines
    quiet.cpu += 1_000_000n;
    hog.cpu += 90_000_000n;
    idle.cpu += 500_000_000n; // not busy: never the culprit
    setRss(10_000 * MB);
    dog.tick();
    expect(hog.killed).toBe(true);
    expect(quiet.killed).toBe(false);
    expect(idle.killed).toBe(false);
    expect(dog.kills).toBe(1);
  });

  it('after a kill, memory the allocator keeps becomes the floor instead of killing the innocent', () => {
    const { dog, isolates, setRss } = setup();
    const hog = new Isolate(64, 0);
    const innocent = new Isolate(64, 0);
    hog.inFlight = 1;
    isolates.push(hog, innocent);
    dog.tick();
    hog.cpu += 10n ** 8n;
    setRss(2000 * MB);
    dog.tick();
    expect(hog.killed).toBe(true);
    // The RSS stays high (freed, not returned); an innocent call starts and runs.
    innocent.inFlight = 1;
    for (let i = 0; i < 5; i++) {
      innocent.cpu += 10n ** 7n;
      dog.tick();
    }
    expect(innocent.killed).toBe(false);
    // It is the new floor: growth beyond it is caught again.
    setRss(2000 * MB + (WORKER_RSS_HEADROOM_MB + (ISOLATE_RSS_FACTOR + 1) * 64 + 1) * MB);
    innocent.cpu += 10n ** 7n;
    dog.tick();
    expect(innocent.killed).toBe(true);
  });

  it('with no busy isolate it kills nothing', () => {
    const { dog, isolates, setRss } = setup();
    const a = new Isolate(64, 0);
    isolates.push(a);
    setRss(10_000 * MB);
    dog.tick();
    dog.tick();
    expect(a.killed).toBe(false);
  });
});

describe('the memory watchdog in a real worker', () => {
  it('disposes a busy isolate over the allowance with MEMORY_LIMIT; the worker and the next call live on', async () => {
    const versions = new Versions();
    const { pool, crashes } = makePool(versions, { size: 1, workerRssHeadroomMb: -1_000_000 });
    try {
      await pool.start();
      const pid = pool.stats().workers[0].pid;
      const busy = versions.add('dog.busy', 'export default async () => { await new Promise((r) => setTimeout(r, 1500)); return "finished"; }', { timeoutMs: 5000 });
      const r = await pool.run(spec(busy, null));
      expect(r).toMatchObject({ ok: false, error: { type: 'MEMORY_LIMIT', data: { name: 'dog.busy', memoryMb: 64 } } });
      // What stays resident after the kill is the new floor: the next calls run.
      await new Promise((res) => setTimeout(res, 500));
      const echo = versions.add('dog.echo', ECHO);
      expect(await pool.run(spec(echo, { still: 'here' }))).toMatchObject({ ok: true, output: { still: 'here' } });
      expect(await pool.run(spec(busy, null))).toMatchObject({ ok: true, output: 'finished' });
      expect(pool.stats().workers[0].pid).toBe(pid);
      expect(crashes).toEqual([]);
    } finally {
      await pool.close();
    }
  }, 60_000);
});
