// `substrate rollout <name> <version>` (start a canary rollout and follow it until it is promoted
// or aborted: redrawn in place on a terminal, one line per change otherwise) and
// `substrate rollout status [name] | abort <name> | promote <name>` (docs/evaluation.md, "Rollouts").

import type { Command } from 'commander';
import type { RolloutInfo, RolloutParams } from '../../kernel/api.ts';
import type { Ctx } from '../context.ts';
import { relativeTime, table, visibleWidth, type Style } from '../format.ts';
import { UsageError } from '../errors.ts';
import { readSource, withExamples } from './shared.ts';

const ACTIONS = ['status', 'abort', 'promote'] as const;
/** How often a followed rollout is read again. */
const POLL_MS = 1000;

interface RolloutOpts {
  steps?: string;
  stepS?: string;
  minCalls?: string;
  maxErrorRateDelta?: string;
  maxP99Ratio?: string;
  file?: string;
  follow: boolean;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const ms = (x: number) => `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`;

/** The rollout as a person reads it: a head line, one row per step (verdict, both versions' calls,
 *  error rates and p99s), the reasons of the last verdict and what happens next. */
export function renderRollout(r: RolloutInfo, s: Style): string {
  const status = r.status === 'promoted' ? s.green('promoted') : r.status === 'aborted' ? s.red('aborted') : s.yellow(`running, step ${r.step + 1} of ${r.steps.length}`);
  const head = `${s.bold(r.name)} ${r.baseline} -> ${r.version}  ${status}  canary at ${r.weight}%  ${s.dim(`(${r.id}, started ${relativeTime(r.startedAt)} by ${r.principal})`)}`;
  const rows = r.history.map((h) => {
    const v = h.verdict;
    const running = r.status === 'running' && h.step === r.step;
    const check = (id: string) => v?.checks.find((c) => c.id === id);
    const calls = check('minCalls');
    const errs = check('errorRateDelta');
    const p99 = check('p99Ratio');
    const cell = (which: 'canary' | 'baseline') => {
      if (running && r.live) {
        const w = r.live[which];
        return `${w.calls} calls, ${pct(w.errorRate)} err, p99 ${ms(w.p99)}`;
      }
      if (!calls || !errs || !p99) return '';
      return `${calls[which]} calls, ${pct(errs[which])} err, p99 ${ms(p99[which])}`;
    };
    const verdict = v ? (v.verdict === 'pass' ? s.green('pass') : v.verdict === 'fail' ? s.red('fail') : s.yellow('inconclusive')) : running ? s.yellow('running') : '';
    return [String(h.step + 1), `${h.weight}%`, String(h.generation), verdict + (h.extensions ? s.dim(` (+${h.extensions})`) : ''), `${running && r.live ? r.live.windowS : (v?.windowS ?? '')}s`, cell('canary'), cell('baseline')];
  });
  const lines = [head, table(['STEP', 'WEIGHT', 'GEN', 'VERDICT', 'WINDOW', `CANARY ${r.version}`, `CURRENT ${r.baseline}`], rows, { style: s })];
  const last = r.history.filter((h) => h.verdict).at(-1)?.verdict;
  if (last && last.reasons.length) lines.push(...last.reasons.map((x) => `  ${s.dim('-')} ${x}`));
  if (r.reason && r.status !== 'running') lines.push(`${s.dim('reason:')} ${r.reason}`);
  lines.push(`${s.dim('next:')} ${r.next}`);
  return lines.join('\n');
}

function num(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`${flag} must be a number, got '${v}'`, 'substrate rollout');
  return n;
}

export function addRolloutCommands(program: Command, ctx: Ctx): void {
  const cmd = program
    .command('rollout')
    .description('canary rollouts: roll a version out step by step, promoted or aborted by its verdicts')
    .argument('<name|status|abort|promote>', 'the capability, or an action on its rollout')
    .argument('[version|name]', 'the version to roll out, or the name the action is about')
    .option('--steps <list>', 'percentages of calls, e.g. 5,25,50,100 (100 makes it current)')
    .option('--step-s <seconds>', 'seconds per step (default 60)')
    .option('--min-calls <n>', 'calls each version needs in a step for a verdict (default 50)')
    .option('--max-error-rate-delta <x>', "canary's error rate minus the current one's, at most (default 0.01)")
    .option('--max-p99-ratio <x>', "canary's p99 over the current one's, at most (default 2)")
    .option('--file <path>', 'register this source (not activated) first; its version must be <version>')
    .option('--no-follow', 'return once the first step is in place');
  withExamples(cmd, [
    'substrate rollout text.tokenize 1.1.0 --steps 10,50,100 --step-s 30',
    'substrate rollout text.tokenize 1.1.0 --file docs/examples/tokenize-1.1.js --no-follow',
    'substrate rollout status text.tokenize',
    'substrate rollout abort text.tokenize',
    'substrate rollout promote text.tokenize',
  ]);
  cmd.action(async (first: string, second: string | undefined, opts: RolloutOpts) => {
    const client = await ctx.client();
    if ((ACTIONS as readonly string[]).includes(first)) {
      if (first === 'status') {
        const res = await client.call('rollouts/get', second ? { name: second } : {});
        if (ctx.json) return ctx.printJson(res);
        if (res.items.length === 0) return ctx.print(ctx.style.dim(second ? `no rollouts of ${second}` : 'no rollouts'));
        return ctx.print(res.items.map((r) => renderRollout(r, ctx.style)).join('\n\n'));
      }
      if (!second) throw new UsageError(`rollout ${first} needs the capability's name`, 'substrate rollout');
      const r = await client.call(first === 'abort' ? 'rollouts/abort' : 'rollouts/promote', { name: second });
      return ctx.json ? ctx.printJson(r) : ctx.print(renderRollout(r, ctx.style));
    }
    if (!second) throw new UsageError('rollout needs the version to roll out: substrate rollout <name> <version>', 'substrate rollout');
    const params: RolloutParams = { name: first, version: second };
    if (opts.steps !== undefined) params.steps = opts.steps.split(',').map((x) => num(x.trim(), '--steps') as number);
    const set = <K extends keyof RolloutParams>(k: K, v: RolloutParams[K] | undefined) => v !== undefined && (params[k] = v);
    set('stepS', num(opts.stepS, '--step-s'));
    set('minCalls', num(opts.minCalls, '--min-calls'));
    set('maxErrorRateDelta', num(opts.maxErrorRateDelta, '--max-error-rate-delta'));
    set('maxP99Ratio', num(opts.maxP99Ratio, '--max-p99-ratio'));
    if (opts.file) Object.assign(params, readSource(opts.file, 'rollout'));
    let r = await client.call('capabilities/rollout', params);
    if (!opts.follow) return ctx.json ? ctx.printJson(r) : ctx.print(renderRollout(r, ctx.style));
    // Followed until it ends: redrawn in place on a terminal, a new block per change otherwise.
    let drawn = 0;
    let lastKey = '';
    for (;;) {
      const text = renderRollout(r, ctx.style);
      if (!ctx.json) {
        if (ctx.isTTY) {
          if (drawn) ctx.stdout.write(`\x1b[${drawn}F\x1b[J`);
          ctx.print(text);
          // Rows the terminal wrapped count too, or the redraw would climb too few.
          const cols = ctx.columns ?? 80;
          drawn = text.split('\n').reduce((n, line) => n + Math.max(1, Math.ceil(visibleWidth(line) / cols)), 0);
        } else {
          const key = `${r.status}:${r.step}:${r.history.at(-1)?.extensions ?? 0}`;
          if (key !== lastKey) ctx.print(`${lastKey ? '\n' : ''}${text}`);
          lastKey = key;
        }
      }
      if (r.status !== 'running') break;
      await new Promise((res) => setTimeout(res, POLL_MS));
      const found = (await client.call('rollouts/get', { name: r.name })).items.find((x) => x.id === r.id);
      if (!found) break;
      r = found;
    }
    if (ctx.json) ctx.printJson(r);
  });
}
