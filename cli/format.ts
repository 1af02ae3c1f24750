// Pure text rendering for the CLI's human output: colour (only on a terminal, never with NO_COLOR),
// aligned tables, key/value blocks, relative times and JSON. No I/O here.

export interface Style {
  enabled: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

/** Colour is for people at a terminal: off when piped, with NO_COLOR set (any non-empty value,
 *  see no-color.org), or on a dumb terminal. */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!stream.isTTY) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return true;
}

export function makeStyle(enabled: boolean): Style {
  const wrap = (open: number, close: number) => (s: string) => (enabled && s ? `\x1b[${open}m${s}\x1b[${close}m` : s);
  return {
    enabled,
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
  };
}

export const plain: Style = makeStyle(false);

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

/** Width in terminal columns: code points, without colour codes (wide characters are rare here). */
export function visibleWidth(s: string): number {
  return [...stripAnsi(s)].length;
}

function padEnd(s: string, width: number): string {
  const w = visibleWidth(s);
  return w >= width ? s : s + ' '.repeat(width - w);
}

/** Shortens a single-line string to `max` columns with an ellipsis. */
export function truncate(s: string, max: number): string {
  const flat = s.replace(/\s*\n\s*/g, ' ');
  const chars = [...flat];
  if (chars.length <= max) return flat;
  if (max <= 1) return '…'.slice(0, max);
  return chars.slice(0, max - 1).join('') + '…';
}

export interface TableOptions {
  style?: Style;
  /** Columns aligned to the right (numbers). */
  alignRight?: number[];
  /** Caps the width of the last column (e.g. to the terminal width); longer cells are truncated. */
  maxWidth?: number;
}

/** An aligned table: a header row, then one row per item; columns separated by two spaces. The last
 *  column is not padded so lines carry no trailing blanks. */
export function table(header: string[], rows: string[][], opts: TableOptions = {}): string {
  const style = opts.style ?? plain;
  const all = [header, ...rows];
  const cols = Math.max(...all.map((r) => r.length));
  const widths: number[] = [];
  for (let c = 0; c < cols; c++) widths.push(Math.max(...all.map((r) => visibleWidth(r[c] ?? ''))));
  const right = new Set(opts.alignRight ?? []);
  const render = (r: string[], isHeader: boolean): string => {
    const cells: string[] = [];
    for (let c = 0; c < cols; c++) {
      let cell = r[c] ?? '';
      const last = c === cols - 1;
      if (last && opts.maxWidth) {
        const used = widths.slice(0, c).reduce((a, b) => a + b + 2, 0);
        const room = Math.max(10, opts.maxWidth - used);
        if (visibleWidth(cell) > room) cell = truncate(stripAnsi(cell), room);
      }
      if (right.has(c)) cell = ' '.repeat(Math.max(0, widths[c] - visibleWidth(cell))) + cell;
      else if (!last) cell = padEnd(cell, widths[c]);
      cells.push(isHeader ? style.bold(cell) : cell);
    }
    return cells.join('  ').replace(/\s+$/, '');
  };
  return [render(header, true), ...rows.map((r) => render(r, false))].join('\n');
}

/** Key/value lines with the keys aligned: `  owner    local`. */
export function keyValues(pairs: Array<[string, string]>, opts: { indent?: string; style?: Style } = {}): string {
  const style = opts.style ?? plain;
  const indent = opts.indent ?? '  ';
  const w = Math.max(0, ...pairs.map(([k]) => visibleWidth(k)));
  return pairs.map(([k, v]) => `${indent}${style.dim(padEnd(k, w))}  ${v}`).join('\n');
}

const UNITS: Array<[string, number]> = [
  ['year', 365 * 24 * 3600_000],
  ['month', 30 * 24 * 3600_000],
  ['week', 7 * 24 * 3600_000],
  ['day', 24 * 3600_000],
  ['hour', 3600_000],
  ['minute', 60_000],
  ['second', 1000],
];

export function toMillis(at: string | number | Date): number {
  if (at instanceof Date) return at.getTime();
  if (typeof at === 'number') return at;
  if (/^\d+$/.test(at)) return Number(at);
  return Date.parse(at);
}

/** "just now", "3 minutes ago", "in 2 hours", "a day ago"… */
export function relativeTime(at: string | number | Date, now: number = Date.now()): string {
  const t = toMillis(at);
  if (!Number.isFinite(t)) return String(at);
  const diff = now - t;
  const abs = Math.abs(diff);
  if (abs < 10_000) return 'just now';
  for (const [unit, ms] of UNITS) {
    if (abs >= ms) {
      const n = Math.floor(abs / ms);
      const phrase = n === 1 ? `${unit === 'hour' ? 'an' : 'a'} ${unit}` : `${n} ${unit}s`;
      return diff >= 0 ? `${phrase} ago` : `in ${phrase}`;
    }
  }
  return 'just now';
}

/** An ISO timestamp for people: `2024-05-01 12:03:04`. */
export function absoluteTime(at: string | number | Date): string {
  const t = toMillis(at);
  if (!Number.isFinite(t)) return String(at);
  return new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** JSON for output: indented on a terminal or when asked, compact otherwise. */
export function formatJson(value: unknown, pretty: boolean): string {
  const s = JSON.stringify(value, null, pretty ? 2 : undefined);
  return s === undefined ? 'null' : s;
}

/** A compact one-line JSON rendering for table cells and details. */
export function compactJson(value: unknown): string {
  const s = JSON.stringify(value);
  return s === undefined ? 'undefined' : s;
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
