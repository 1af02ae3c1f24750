// Batched framing of the kernel <-> worker channel: messages produced during one turn of the event
// loop leave as one IPC message (an array), which is what keeps a pipelined load from paying one
// syscall and one serialization per call. Both ends accept a single message or an array.

export class Outbox<T> {
  private queue: T[] = [];
  private scheduled = false;

  /** `send` gets one message alone, or several as an array. */
  constructor(private readonly send: (batch: T | T[]) => void) {}

  push(msg: T): void {
    this.queue.push(msg);
    if (!this.scheduled) {
      this.scheduled = true;
      // setImmediate, not a microtask: it runs after the poll phase, so every message produced by
      // the I/O callbacks of this turn (e.g. a burst of `done`s) shares one frame.
      setImmediate(this.flush);
    }
  }

  /** Sends what is queued now. */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.send(batch.length === 1 ? batch[0] : batch);
  };

  /** Drops what is queued (the other end is gone). */
  clear(): T[] {
    const dropped = this.queue;
    this.queue = [];
    return dropped;
  }

  get size(): number {
    return this.queue.length;
  }
}

/** The messages of one received frame. */
export function unbatch<T>(frame: unknown): T[] {
  return Array.isArray(frame) ? (frame as T[]) : [frame as T];
}
