import { describe, expect, it } from 'vitest';
import { Outbox, unbatch } from '../sandbox/ipc.ts';

describe('Outbox', () => {
  it('sends what one turn produced as one frame, a lone message unwrapped', async () => {
    const frames: unknown[] = [];
    const out = new Outbox<number>((b) => frames.push(b));
    out.push(1);
    out.push(2);
    out.push(3);
    expect(frames).toEqual([]);
    await new Promise((r) => setImmediate(r));
    out.push(4);
    await new Promise((r) => setImmediate(r));
    expect(frames).toEqual([[1, 2, 3], 4]);
    expect(frames.flatMap((f) => unbatch<number>(f))).toEqual([1, 2, 3, 4]);
  });

  it('flushes on demand and can drop what is queued', () => {
    const frames: unknown[] = [];
    const out = new Outbox<string>((b) => frames.push(b));
    out.push('a');
    out.flush();
    out.push('b');
    expect(out.clear()).toEqual(['b']);
    out.flush();
    expect(frames).toEqual(['a']);
  });
});
