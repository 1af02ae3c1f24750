// The CLI's pure text rendering: colour decisions, aligned tables, relative times, progress lines.
import { describe, expect, it } from 'vitest';
import { colorEnabled, makeStyle, relativeTime, stripAnsi, table, truncate, keyValues, formatJson } from '../cli/format.ts';
import { describeProgress, ProgressLine } from '../cli/progress.ts';
import { formatLogLine } from '../cli/commands/logs.ts';

describe('colour', () => {
  it('is used on a terminal only, and never with NO_COLOR', () => {
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
    expect(colorEnabled({}, {})).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(colorEnabled({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
  });

  it('styles only when enabled', () => {
    expect(makeStyle(false).red('x')).toBe('x');
    expect(makeStyle(true).red('x')).toBe('\x1b[31mx\x1b[39m');
    expect(stripAnsi(makeStyle(true).bold('hi'))).toBe('hi');
  });
});

describe('table', () => {
  it('aligns columns, right-aligns numbers and leaves no trailing blanks', () => {
    const out = table(
      ['NAME', 'CURRENT', 'VERSIONS', 'DESCRIPTION'],
      [
        ['text.tokenize', '1.0.0', '1', 'Splits a text'],
        ['text.report', '1.10.0', '12', ''],
      ],
      { alignRight: [2] },
    );
    expect(out).toBe(
      [
        'NAME           CURRENT  VERSIONS  DESCRIPTION',
        'text.tokenize  1.0.0           1  Splits a text',
        'text.report    1.10.0         12',
      ].join('\n'),
    );
  });

  it('aligns by visible width when cells are coloured', () => {
    const s = makeStyle(true);
    const out = stripAnsi(table(['A', 'B'], [[s.green('xx'), 'y'], ['z', 'w']], { style: s }));
    expect(out.split('\n')).toEqual(['A   B', 'xx  y', 'z   w']);
  });

  it('truncates the last column to the width given', () => {
    const out = table(['K', 'VALUE'], [['k', 'x'.repeat(100)]], { maxWidth: 20 });
    const line = out.split('\n')[1];
    expect([...line].length).toBeLessThanOrEqual(20);
    expect(line.endsWith('…')).toBe(true);
  });

  it('key/values align keys', () => {
    expect(keyValues([['a', '1'], ['long', '2']])).toBe('  a     1\n  long  2');
  });

  it('truncate keeps short strings and flattens newlines', () => {
    expect(truncate('abc', 5)).toBe('abc');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('a\n  b', 10)).toBe('a b');
  });
});

describe('relativeTime', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  const ago = (ms: number): string => relativeTime(new Date(now - ms).toISOString(), now);
  it('speaks like a person', () => {
    expect(ago(2000)).toBe('just now');
    expect(ago(45_000)).toBe('45 seconds ago');
    expect(ago(60_000)).toBe('a minute ago');
    expect(ago(3 * 60_000 + 5000)).toBe('3 minutes ago');
    expect(ago(3600_000)).toBe('an hour ago');
    expect(ago(5 * 3600_000)).toBe('5 hours ago');
    expect(ago(24 * 3600_000)).toBe('a day ago');
    expect(ago(3 * 24 * 3600_000)).toBe('3 days ago');
    expect(ago(400 * 24 * 3600_000)).toBe('a year ago');
    expect(relativeTime(now + 120_000, now)).toBe('in 2 minutes');
  });
  it('accepts epoch milliseconds and leaves unparseable input as it is', () => {
    expect(relativeTime(now - 7200_000, now)).toBe('2 hours ago');
    expect(relativeTime(String(now - 7200_000), now)).toBe('2 hours ago');
    expect(relativeTime('yesterday-ish', now)).toBe('yesterday-ish');
  });
});

describe('JSON output', () => {
  it('is indented on a terminal and compact when piped', () => {
    expect(formatJson({ a: [1] }, true)).toBe('{\n  "a": [\n    1\n  ]\n}');
    expect(formatJson({ a: [1] }, false)).toBe('{"a":[1]}');
  });
});

describe('progress', () => {
  it('names the phase, capability, test and how far along', () => {
    expect(describeProgress({ requestId: 1, phase: 'gates', capability: 'text.count', version: '1.1.0', test: 'two words', done: 3, total: 7 })).toBe(
      'gates: text.count 1.1.0 › two words (3/7)',
    );
    expect(describeProgress({ requestId: 1, phase: 'commit', done: 0, total: 0 })).toBe('commit:');
  });

  it('updates one line on a terminal and writes nothing when piped', () => {
    const writes: string[] = [];
    const tty = new ProgressLine({ isTTY: true, columns: 30, write: (s) => (writes.push(s), true) });
    tty.update({ requestId: 1, phase: 'gates', capability: 'a', version: '1.0.0', test: 'a very long test name indeed', done: 1, total: 2 });
    tty.done();
    expect(writes[0].startsWith('\r\x1b[2K')).toBe(true);
    expect([...writes[0].slice('\r\x1b[2K'.length)].length).toBeLessThan(30);
    expect(writes[1]).toBe('\r\x1b[2K');
    const piped: string[] = [];
    const p = new ProgressLine({ isTTY: false, write: (s) => (piped.push(s), true) });
    p.update({ requestId: 1, phase: 'gates', done: 1, total: 2 });
    p.done();
    expect(piped).toEqual([]);
  });
});

describe('log lines', () => {
  it('carry time, level, capability@version, message and invocation', () => {
    const line = formatLogLine(
      { type: 'log', generation: 1, invocationId: 'inv_1', name: 'text.wordcount', version: '1.0.0', level: 'info', message: 'hello', at: '2024-05-01T12:00:00.000Z' },
      makeStyle(false),
    );
    expect(line).toBe('2024-05-01 12:00:00Z info  text.wordcount@1.0.0 hello inv_1');
  });
});
