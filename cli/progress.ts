// Progress of a long operation (register/apply/rollback: compile, gates, migrate, commit) as one
// line that updates in place on a terminal. Piped output gets nothing: the final result says it all.

import type { ProgressEvent } from '../kernel/api.ts';
import { truncate } from './format.ts';

/** `gates: text.count 1.1.0 › two words (3/7)` */
export function describeProgress(p: ProgressEvent): string {
  let s = `${p.phase}:`;
  if (p.capability) s += ` ${p.capability}${p.version ? ` ${p.version}` : ''}`;
  if (p.test) s += ` › ${p.test}`;
  if (p.total > 0) s += ` (${p.done}/${p.total})`;
  return s;
}

interface TtyLike {
  isTTY?: boolean;
  columns?: number;
  write(s: string): boolean;
}

export class ProgressLine {
  private shown = false;
  constructor(private readonly stream: TtyLike = process.stderr) {}

  get active(): boolean {
    return !!this.stream.isTTY;
  }

  update(p: ProgressEvent): void {
    if (!this.active) return;
    const width = (this.stream.columns || 80) - 1;
    this.stream.write(`\r\x1b[2K${truncate(describeProgress(p), width)}`);
    this.shown = true;
  }

  /** Clears the line before the result is printed. */
  done(): void {
    if (this.shown) this.stream.write('\r\x1b[2K');
    this.shown = false;
  }
}
