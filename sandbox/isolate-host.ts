// The isolates of one sandbox worker: one warm isolated-vm isolate per version hash (LRU beyond a
// bound; never evicted with calls in flight; retired ones disposed once drained), the idle sweep
// and the memory watchdog over all of them, and inspections, which run in full run isolates
// (started from a blank one built ahead) kept a short while, so the first run of the same code with
// the same memory limit adopts one instead of building another. One isolate's life is
// hosted-isolate.ts; the call types and pure pieces are isolate-calls.ts (re-exported here).

import { fail, SubstrateError } from '../capabilities/errors.ts';
import { type Inspection, type VersionPayload } from './protocol.ts';
import { MemoryWatchdog, WATCHDOG_INTERVAL_MS } from './memory-watchdog.ts';
import { type CallRequest, type CallOutcome, type Settlement, IDLE_SWEEP_MS, INSPECT_MEMORY_MB, DEFAULT_MEMORY_MB, KEEP_INSPECTED, toWire } from './isolate-calls.ts';
import { type HostedOwner, HostedIsolate } from './hosted-isolate.ts';

export type { CallBinding, CallOutcome, CallRequest, Invocation, LogLevel } from './isolate-calls.ts';
export { IDLE_SWEEP_MS, PROBE_GRACE_MS } from './isolate-calls.ts';

export interface IsolateHostStats {
  isolates: number;
  created: number;
  evicted: number;
  died: number;
  /** Runs that took over the isolate of their code's inspection. */
  adopted: number;
}

/** The warm isolates of one worker, by version hash, least recently used first. */
export class IsolateHost implements HostedOwner {
  private readonly live = new Map<string, HostedIsolate>();
  private readonly creating = new Map<string, { promise: Promise<HostedIsolate>; waiters: number }>();
  private readonly draining = new Set<HostedIsolate>();
  /** Inspected isolates by code, oldest first, waiting for the first run of their code. */
  private readonly inspected = new Map<string, HostedIsolate>();
  private created = 0;
  private adopted = 0;
  /** A blank isolate with the default memory limit for the next inspection, refilled after use. */
  private spare: HostedIsolate | null = null;
  private spareBuilding = false;
  private closed = false;
  private evicted = 0;
  private died = 0;

  private readonly sweeper: NodeJS.Timeout;
  private readonly watchdog: MemoryWatchdog;
  private readonly watchTimer: NodeJS.Timeout;

  constructor(private readonly opts: { maxIsolates: number; rssHeadroomMb?: number }) {
    this.watchdog = new MemoryWatchdog(() => this.everyIsolate(), undefined, opts.rssHeadroomMb);
    this.sweeper = setInterval(() => {
      for (const h of [...this.live.values(), ...this.draining, ...this.inspected.values()]) h.sweepIdle();
    }, IDLE_SWEEP_MS);
    this.sweeper.unref();
    this.watchTimer = setInterval(() => this.watchdog.tick(), WATCHDOG_INTERVAL_MS);
    this.watchTimer.unref();
    this.refill();
  }

  private refill(): void {
    if (this.spare || this.spareBuilding || this.closed) return;
    this.spareBuilding = true;
    HostedIsolate.blank(DEFAULT_MEMORY_MB, this).then(
      (h) => {
        this.spareBuilding = false;
        if (this.closed) h.dispose();
        else this.spare = h;
      },
      () => {
        this.spareBuilding = false;
      },
    );
  }

  private takeSpare(memoryMb: number): HostedIsolate | undefined {
    const s = this.spare;
    if (!s || s.dead || s.blankMemoryMb !== memoryMb) return undefined;
    this.spare = null;
    s.blankMemoryMb = 0;
    // After this tick: the inspection's own synchronous work goes first.
    setImmediate(() => this.refill());
    return s;
  }

  /** Runs one call in the isolate of `payload`, creating it if needed. Never rejects. */
  async call(payload: VersionPayload, req: CallRequest): Promise<CallOutcome> {
    for (let attempt = 0; ; attempt++) {
      const s = await this.callOnce(payload, req);
      if (s !== 'retry') return s;
      if (attempt >= 2) return { ok: false, error: fail('TIMEOUT', `${payload.name}@${payload.version} found no responsive isolate`, { timeoutMs: payload.manifest.limits.timeoutMs, name: payload.name, version: payload.version }).toWire() };
    }
  }

  private callOnce(payload: VersionPayload, req: CallRequest): Promise<Settlement> {
    const h = this.live.get(payload.hash);
    if (h && !h.dead) {
      this.live.delete(payload.hash);
      this.live.set(payload.hash, h);
      return h.call(req);
    }
    return this.callCold(payload, req);
  }

  private async callCold(payload: VersionPayload, req: CallRequest): Promise<Settlement> {
    let h: HostedIsolate;
    try {
      h = await this.acquire(payload, req.deadline);
    } catch (e) {
      return { ok: false, error: toWire(e) };
    }
    h.pins--;
    return h.call(req);
  }

  private acquire(payload: VersionPayload, deadline: number): Promise<HostedIsolate> {
    let rec = this.creating.get(payload.hash);
    if (!rec) {
      const r: { promise: Promise<HostedIsolate>; waiters: number } = { promise: Promise.resolve(null as never), waiters: 0 };
      const kept = this.inspected.get(payload.compiled);
      let creation: Promise<HostedIsolate>;
      if (kept && kept.fits(payload)) {
        this.inspected.delete(payload.compiled);
        this.adopted++;
        creation = kept.adopt(payload).catch(() => HostedIsolate.create(payload, deadline, this));
      } else {
        creation = HostedIsolate.create(payload, deadline, this);
      }
      r.promise = creation.then(
        (h) => {
          this.creating.delete(payload.hash);
          this.created++;
          h.pins += r.waiters;
          this.live.set(payload.hash, h);
          this.evict();
          return h;
        },
        (e: unknown) => {
          this.creating.delete(payload.hash);
          throw e;
        },
      );
      this.creating.set(payload.hash, r);
      rec = r;
    }
    rec.waiters++;
    return rec.promise;
  }

  /** Disposes the isolates of superseded versions once their calls have drained. */
  retire(hashes: string[]): void {
    for (const hash of hashes) {
      const h = this.live.get(hash);
      if (!h) continue;
      this.live.delete(hash);
      h.retired = true;
      if (h.inFlight === 0 && h.pins === 0) h.dispose();
      else this.draining.add(h);
    }
  }

  onIdle(h: HostedIsolate): void {
    if (h.retired) {
      this.draining.delete(h);
      h.dispose();
      return;
    }
    if (this.live.size > this.opts.maxIsolates) this.evict();
  }

  onDead(h: HostedIsolate): void {
    if (h.dead !== 'disposed') this.died++;
    if (this.inspected.get(h.payload.compiled) === h) this.inspected.delete(h.payload.compiled);
    this.draining.delete(h);
    if (this.live.get(h.hash) === h) this.live.delete(h.hash);
  }

  private evict(): void {
    if (this.live.size <= this.opts.maxIsolates) return;
    for (const h of [...this.live.values()]) {
      if (this.live.size <= this.opts.maxIsolates) break;
      if (h.inFlight > 0 || h.pins > 0) continue;
      this.live.delete(h.hash);
      this.evicted++;
      h.dispose();
    }
  }

  /** Evaluates a module in a sandbox and reports its exports. Rejects with COMPILE_ERROR. The
   *  isolate is built with `memoryMb` (the limit the kernel expects the version to have) and kept a
   *  short while: the first run of the same code with that limit adopts it instead of building
   *  another. A module that needs more memory to load is inspected again in a throwaway isolate. */
  async inspect(code: string, memoryMb?: number): Promise<Inspection> {
    const limit = typeof memoryMb === 'number' && Number.isInteger(memoryMb) && memoryMb >= 8 && memoryMb <= 512 ? memoryMb : DEFAULT_MEMORY_MB;
    let result: { hosted: HostedIsolate; inspection: Inspection };
    try {
      result = await HostedIsolate.inspect(code, limit, this, this.takeSpare(limit));
    } catch (e) {
      if (limit >= INSPECT_MEMORY_MB || !(e instanceof SubstrateError) || !/memory limit/.test(e.message)) throw e;
      const retry = await HostedIsolate.inspect(code, INSPECT_MEMORY_MB, this);
      retry.hosted.dispose();
      return retry.inspection;
    }
    const old = this.inspected.get(code);
    if (old) {
      this.inspected.delete(code);
      old.dispose();
    }
    this.inspected.set(code, result.hosted);
    while (this.inspected.size > KEEP_INSPECTED) {
      const [oldest, h] = this.inspected.entries().next().value as [string, HostedIsolate];
      this.inspected.delete(oldest);
      h.dispose();
    }
    return result.inspection;
  }

  private *everyIsolate(): Iterable<HostedIsolate> {
    for (const h of this.live.values()) if (!h.dead) yield h;
    for (const h of this.draining) if (!h.dead) yield h;
    for (const h of this.inspected.values()) if (!h.dead) yield h;
    if (this.spare && !this.spare.dead) yield this.spare;
  }

  stats(): IsolateHostStats {
    return { isolates: this.live.size + this.draining.size + this.inspected.size, created: this.created, evicted: this.evicted, died: this.died, adopted: this.adopted };
  }

  /** Disposes every isolate (worker shutdown). */
  close(): void {
    this.closed = true;
    this.spare?.dispose();
    this.spare = null;
    clearInterval(this.sweeper);
    clearInterval(this.watchTimer);
    for (const h of [...this.live.values(), ...this.draining, ...this.inspected.values()]) h.dispose();
    this.inspected.clear();
    this.live.clear();
    this.draining.clear();
  }
}
