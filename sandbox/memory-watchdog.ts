// The last line behind memoryMb, in each sandbox worker: whatever capability code finds that makes
// V8 or a library allocate outside what isolated-vm counts (the known ways are closed in
// sandbox/memory-guards.ts and sandbox/bridge.ts), the worker's resident memory is sampled every
// WATCHDOG_INTERVAL_MS and compared with what its isolates may use: a busy isolate ISOLATE_RSS_FACTOR
// times its memoryMb (isolated-vm documents that a determined attacker can use 2-3 times the limit
// before it acts) and its memoryMb once more per call in flight, an idle one what it held when it
// went idle, plus WORKER_RSS_HEADROOM_MB for the worker's own buffers (transactions, answers, logs)
// over its resident size at start. Over that,
// the busy isolate that ran the most since the last sample is disposed, its calls failing with
// MEMORY_LIMIT; one per sample, so the next sample sees the effect.

/** How often the worker's RSS is compared with its allowance. */
export const WATCHDOG_INTERVAL_MS = 100;
/** What the worker itself may hold beyond its RSS at start. */
export const WORKER_RSS_HEADROOM_MB = 256;
/** A busy isolate's allowance, in multiples of its memoryMb. */
export const ISOLATE_RSS_FACTOR = 3;
const MB = 1024 * 1024;
/** Samples to wait after a kill before freed-but-kept memory (malloc arenas) is taken as the new floor. */
const SETTLE_SAMPLES = 3;

/** What the watchdog needs to know of an isolate. */
export interface WatchedIsolate {
  readonly memoryMb: number;
  readonly inFlight: number;
  /** Bytes it held when last idle (V8 heap and counted external memory), or its limit if unknown. */
  readonly idleBytes: number;
  /** CPU time so far, in nanoseconds (live while it runs). */
  cpuNs(): bigint;
  /** Disposes it: its calls fail with MEMORY_LIMIT. */
  killForMemory(): void;
}

export class MemoryWatchdog {
  private floor: number;
  private readonly lastCpu = new WeakMap<WatchedIsolate, bigint>();
  private settling = 0;
  kills = 0;

  private readonly headroom: number;

  /** `headroomMb`: WORKER_RSS_HEADROOM_MB unless the pool says otherwise (SandboxPoolOptions). */
  constructor(
    private readonly isolates: () => Iterable<WatchedIsolate>,
    private readonly rss: () => number = () => process.memoryUsage.rss(),
    headroomMb: number = WORKER_RSS_HEADROOM_MB,
  ) {
    this.floor = this.rss();
    this.headroom = headroomMb * MB;
  }

  /** The RSS the worker may have now. */
  allowance(): number {
    let bytes = this.floor + this.headroom;
    // A call in flight may hold its memoryMb again outside its isolate: its schema validator's
    // isolate (sandbox/schema-isolates.ts, same limit) and the host's copies of its input and output.
    for (const h of this.isolates()) bytes += h.inFlight > 0 ? h.memoryMb * (ISOLATE_RSS_FACTOR + h.inFlight) * MB : h.idleBytes;
    return bytes;
  }

  tick(): void {
    const rss = this.rss();
    const allowed = this.allowance();
    let culprit: WatchedIsolate | null = null;
    let most = -1n;
    for (const h of this.isolates()) {
      let cpu: bigint;
      try {
        cpu = h.cpuNs();
      } catch {
        continue;
      }
      const ran = cpu - (this.lastCpu.get(h) ?? cpu);
      this.lastCpu.set(h, cpu);
      if (h.inFlight > 0 && ran > most) {
        most = ran;
        culprit = h;
      }
    }
    if (this.settling > 0) {
      // Memory freed by a kill is often kept by the allocator: what remains becomes the floor.
      if (--this.settling === 0 && rss > allowed) this.floor += rss - allowed;
      return;
    }
    if (rss <= allowed || culprit === null) return;
    this.kills++;
    this.settling = SETTLE_SAMPLES;
    culprit.killForMemory();
  }
}
