// `npm run bench [name...] [--json file]`: runs bench/invoke, bench/upgrade, bench/state, bench/jobs, bench/effects and bench/scale (or the
// named ones) in order, each in a fresh Node process so one bench's isolates, workers and garbage
// do not weigh on the next; forwards their output, then prints every figure that has a target and
// whether it is met. Exit code 1 only if a bench crashed: a missed target is a figure, not a failure.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { fmt, fmtRatio, machineLine, RESULT_PREFIX, type BenchResult } from './measure.ts';

const ALL = ['invoke', 'upgrade', 'state', 'jobs', 'effects', 'scale'] as const;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function parseArgs(argv: string[]): { names: string[]; json: string } {
  const names: string[] = [];
  let json = path.join(os.tmpdir(), `substrate-bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') json = path.resolve(argv[++i] ?? json);
    else if ((ALL as readonly string[]).includes(a)) names.push(a);
    else {
      process.stderr.write(`unknown bench '${a}'; known: ${ALL.join(', ')} (and --json <file>)\n`);
      process.exit(2);
    }
  }
  return { names: names.length ? ALL.filter((n) => names.includes(n)) : [...ALL], json };
}

function runOne(name: string): Promise<{ code: number | null; result?: BenchResult; ms: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', path.join('bench', `${name}.ts`)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let result: BenchResult | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith(RESULT_PREFIX)) result = JSON.parse(line.slice(RESULT_PREFIX.length)) as BenchResult;
    else process.stdout.write(line + '\n');
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, result, ms: performance.now() - started })));
}

async function main(): Promise<void> {
  const { names, json } = parseArgs(process.argv.slice(2));
  const results: BenchResult[] = [];
  let crashed = false;
  for (const name of names) {
    process.stdout.write(`\n=== bench/${name} ===\n`);
    const r = await runOne(name);
    process.stdout.write(`=== bench/${name}: ${r.code === 0 ? 'done' : `exited with ${r.code}`} in ${(r.ms / 1000).toFixed(1)} s ===\n`);
    if (r.result) results.push(r.result);
    if (r.code !== 0 || !r.result) crashed = true;
  }
  if (results.length) {
    process.stdout.write(`\n=== targets (${machineLine(results[0].machine)}) ===\n`);
    for (const r of results) {
      for (const f of r.figures) {
        if (!f.target) continue;
        const base = f.baseline ? ` vs ${f.baseline.label} ${fmt(f.baseline.value, f.unit)} = ${fmtRatio(f.ratio)}` : '';
        process.stdout.write(`${f.target.met ? 'MET   ' : 'MISSED'}  ${r.bench}: ${f.figure} = ${fmt(f.value, f.unit)}${base}  (target ${f.target.text})\n`);
      }
    }
    writeFileSync(json, JSON.stringify(results, null, 2) + '\n');
    process.stdout.write(`\nall figures: ${json}\n`);
  }
  process.exit(crashed ? 1 : 0);
}

await main();
