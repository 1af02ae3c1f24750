// Issue 10 (item 8): log lines written while gate tests and dry runs run are marked as such
// (`origin`, `gate`) in logs/recent, in `log` events and in `substrate logs`, never mixed with live
// traffic; live invocations say `live`.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from './cli-run.ts';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import type { KernelEvent } from '../kernel/api.ts';
import { formatLogLine } from '../cli/commands/logs.ts';
import { plain } from '../cli/format.ts';
import { cap, eventually, startTestKernel, type TestKernel } from './helpers.ts';

type LogEvent = Extract<KernelEvent, { type: 'log' }>;

let k: TestKernel;
const op = LOCAL_OPERATOR;

/** `substrate --data <the test kernel's directory> ...args`, as an operator would run it. */
function cli(...args: string[]): Promise<CliResult> {
  return runCli(['--data', k.dataDir, ...args]);
}

beforeAll(async () => {
  k = await startTestKernel();
});
afterAll(async () => {
  await k?.stop();
});

const helper = (version = '1.0.0') =>
  cap({ name: 'lo.helper', version, body: 'ctx.log("helper saw", input.text); return { n: input.text.length };' });
const counter = (version: string) =>
  cap({
    name: 'lo.counter',
    version,
    deps: { 'lo.helper': '^1.0.0' },
    body: 'ctx.log("counting", input.text); const { n } = await ctx.call("lo.helper", input); return { n };',
    tests: [{ name: 'two words', input: { text: 'a b' }, expect: { n: 3 } }],
  });

describe('log origins', () => {
  it('marks the lines of a gate test, also those a dependency writes, and leaves live ones live', async () => {
    const ws = await k.client();
    const events: LogEvent[] = [];
    await ws.subscribe({ types: ['log'] }, (e) => {
      if (e.type === 'log') events.push(e);
    });

    await k.kernel.register(op, { source: helper() });
    await k.kernel.register(op, { source: counter('1.0.0') });
    const gateLines = k.kernel.recentLogs({ origin: 'gate' }).items;
    const own = gateLines.find((l) => l.name === 'lo.counter' && l.message === 'counting a b');
    const dep = gateLines.find((l) => l.name === 'lo.helper' && l.message === 'helper saw a b');
    expect(own).toMatchObject({ origin: 'gate', gate: { capability: 'lo.counter', version: '1.0.0', test: 'two words' } });
    // A dependency's line inside the test names whose test it is.
    expect(dep).toMatchObject({ origin: 'gate', gate: { capability: 'lo.counter', version: '1.0.0', test: 'two words' } });

    const out = await k.kernel.invoke({ name: 'lo.counter', input: { text: 'live!' } });
    const live = k.kernel.recentLogs({ origin: 'live' }).items;
    const liveLine = live.find((l) => l.invocationId === out.invocationId && l.name === 'lo.counter');
    expect(liveLine).toMatchObject({ origin: 'live', message: 'counting live!' });
    expect(liveLine?.gate).toBeUndefined();
    // Each filter keeps only its own origin.
    expect(live.every((l) => l.origin === 'live')).toBe(true);
    expect(gateLines.every((l) => l.origin === 'gate')).toBe(true);
    expect(live.some((l) => l.message === 'counting a b')).toBe(false);

    // The same marks on the `log` events and on logs/recent over WebSocket.
    await eventually(() => {
      expect(events.find((e) => e.message === 'counting a b')).toMatchObject({ origin: 'gate', gate: { test: 'two words' } });
      expect(events.find((e) => e.message === 'counting live!')).toMatchObject({ origin: 'live' });
    });
    const overWire = await ws.call('logs/recent', { name: 'lo.counter', origin: 'gate' });
    expect(overWire.items.length).toBeGreaterThan(0);
    expect(overWire.items.every((l) => l.origin === 'gate' && l.name === 'lo.counter')).toBe(true);

    // What `substrate logs` prints.
    expect(formatLogLine(own!, plain)).toContain('lo.counter@1.0.0 [gate two words] counting a b');
    expect(formatLogLine(dep!, plain)).toContain('lo.helper@1.0.0 [gate lo.counter: two words] helper saw a b');
    expect(formatLogLine(liveLine!, plain)).toMatch(/lo\.counter@1\.0\.0 counting live!/);
    expect(formatLogLine(liveLine!, plain)).not.toContain('[');
  });

  it('marks the lines of a dry run as dryRun', async () => {
    const r = await k.kernel.apply(op, { dryRun: true, changes: [{ op: 'register', source: counter('1.1.0').replace('"counting"', '"dry counting"') }] });
    expect(r.dryRun).toBe(true);
    const dry = k.kernel.recentLogs({ origin: 'dryRun' }).items;
    const line = dry.find((l) => l.message === 'dry counting a b');
    expect(line).toMatchObject({ origin: 'dryRun', name: 'lo.counter', version: '1.1.0', gate: { capability: 'lo.counter', version: '1.1.0', test: 'two words' } });
    expect(formatLogLine(line!, plain)).toContain('[dry run two words] dry counting a b');
    // A dry run's lines are neither gate nor live lines.
    expect(k.kernel.recentLogs({ origin: 'gate' }).items.some((l) => l.message === 'dry counting a b')).toBe(false);
    expect(k.kernel.recentLogs({ origin: 'live' }).items.some((l) => l.message === 'dry counting a b')).toBe(false);
  });

  it('substrate logs marks test lines, and --origin keeps one origin', async () => {
    const all = await cli('logs', 'lo.counter', '-n', '1000');
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/lo\.counter@1\.0\.0 \[gate two words\] counting a b/);
    expect(all.stdout).toMatch(/lo\.counter@1\.1\.0 \[dry run two words\] dry counting a b/);
    expect(all.stdout).toMatch(/lo\.counter@1\.0\.0 counting live!/);
    const live = await cli('logs', 'lo.counter', '-n', '1000', '--origin', 'live');
    expect(live.code).toBe(0);
    expect(live.stdout).toContain('counting live!');
    expect(live.stdout).not.toContain('[gate');
    expect(live.stdout).not.toContain('[dry run');
    const gate = await cli('logs', '--origin', 'gate', '--json');
    const doc = JSON.parse(gate.stdout) as { items: LogEvent[] };
    expect(doc.items.length).toBeGreaterThan(0);
    expect(doc.items.every((l) => l.origin === 'gate')).toBe(true);
    const bad = await cli('logs', '--origin', 'bogus');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/live, gate, dryRun/);
  });

  it('refuses an unknown origin filter', async () => {
    const ws = await k.client();
    await expect(ws.call('logs/recent', { origin: 'bogus' as 'live' })).rejects.toMatchObject({ code: -32602 });
  });
});
