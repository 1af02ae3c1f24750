// Small helpers the command modules share: help examples, argument parsing that fails as bad
// usage (exit 2), reading capability source files, progress wiring.

import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { Json } from '../../capabilities/types.ts';
import type { ChangeSummary, GateResult, ProgressEvent } from '../../kernel/api.ts';
import type { Language } from '../../capabilities/types.ts';
import { UsageError } from '../errors.ts';
import { ProgressLine } from '../progress.ts';
import { plural, type Style } from '../format.ts';

/** `substrate state get` */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

export function withExamples(cmd: Command, examples: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer.');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a non-negative integer.');
  return n;
}

/** `.ts`/`.mts`/`.cts` → ts, `.js`/`.mjs`/`.cjs` → js; anything else is left to the kernel. */
export function languageOf(file: string): Language | undefined {
  const ext = path.extname(file).toLowerCase();
  if (['.ts', '.mts', '.cts'].includes(ext)) return 'ts';
  if (['.js', '.mjs', '.cjs'].includes(ext)) return 'js';
  return undefined;
}

export function readSource(file: string, command: string): { source: string; language?: Language } {
  let source: string;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : ((e as Error).message)}`, command);
  }
  const language = languageOf(file);
  return language ? { source, language } : { source };
}

/** `text.count@1.2.0` → { name, version }. */
export function parseNameVersion(s: string, command: string): { name: string; version?: string } {
  const at = s.indexOf('@');
  if (at < 0) return { name: s };
  const name = s.slice(0, at);
  const version = s.slice(at + 1);
  if (!name || !version) throw new UsageError(`expected <name>[@version], got '${s}'`, command);
  return { name, version };
}

export function parseJsonArg(text: string, what: string, command: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    throw new UsageError(`${what} is not valid JSON (${(e as Error).message})`, command);
  }
}

/** Runs `fn` with a progress callback that draws the single updating line on a terminal. */
export async function withProgress<T>(fn: (onProgress: (p: ProgressEvent) => void) => Promise<T>): Promise<T> {
  const line = new ProgressLine(process.stderr);
  try {
    return await fn((p) => line.update(p));
  } finally {
    line.done();
  }
}

export function gatesSummary(gates: GateResult[], style: Style): string {
  if (gates.length === 0) return style.dim('no gate tests ran');
  const failed = gates.filter((g) => !g.passed).length;
  const ms = gates.reduce((a, g) => a + (g.durationMs ?? 0), 0);
  const caps = new Set(gates.map((g) => `${g.capability}@${g.version}`)).size;
  const head = failed ? style.red(`${failed} of ${plural(gates.length, 'gate test')} failed`) : style.green(`${plural(gates.length, 'gate test')} passed`);
  return `${head} ${style.dim(`(${plural(caps, 'capability', 'capabilities')}, ${Math.round(ms)} ms)`)}`;
}

/** `register text.count 1.1.0 (was 1.0.0)` */
export function describeChange(c: ChangeSummary): string {
  const was = c.previous ? ` (was ${c.previous})` : '';
  switch (c.op) {
    case 'register':
      return `register ${c.name} ${c.version ?? ''}${c.activated ? was : ' (not activated)'}`;
    case 'activate':
      return `activate ${c.name} ${c.version ?? ''}${was}${c.rollout ? ' (rollout promoted)' : ''}`;
    case 'remove':
      return `remove ${c.name}${was}`;
    case 'rollout': {
      const r = c.rollout;
      if (!r) return `rollout ${c.name} ${c.version ?? ''}`;
      const v = r.verdict ? ` after ${r.verdict.verdict}` : '';
      return r.status === 'aborted' ? `rollout ${c.name} ${c.version ?? ''} aborted${v} (all on ${c.previous ?? '?'})` : `rollout ${c.name} ${c.version ?? ''} step ${r.step + 1}: ${r.weight}%${v}`;
    }
  }
}

/** `api.github.com (GET, POST; secrets github), *.example.com` */
export function destinationsText(ds: ReadonlyArray<{ host: string; methods?: string[]; secrets?: string[] }>): string {
  return ds
    .map((d) => {
      const notes = [d.methods?.join(', '), d.secrets?.length ? `secrets ${d.secrets.join(', ')}` : undefined].filter(Boolean);
      return notes.length ? `${d.host} (${notes.join('; ')})` : d.host;
    })
    .join(', ');
}
