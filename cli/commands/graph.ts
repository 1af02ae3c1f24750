// `substrate graph` (tree, dot, mermaid, json) and `substrate impact`, each naming the http
// destinations the capabilities declare.

import { Command, Option } from 'commander';
import type { Ctx } from '../context.ts';
import { GRAPH_FORMATS, renderDot, renderMermaid, renderTree, type GraphFormat } from '../graph-render.ts';
import { plural, table } from '../format.ts';
import { destinationsText, nonNegativeInt, withExamples } from './shared.ts';

export function addGraphCommands(program: Command, ctx: Ctx): void {
  const graph = program
    .command('graph')
    .description('the dependency graph of the current generation: versions, ranges and what they resolve to, shared state')
    .argument('[name]', 'only what this capability reaches')
    .addOption(new Option('-f, --format <format>', 'output format').choices([...GRAPH_FORMATS]).default('tree'))
    .option('-d, --depth <n>', 'how many dependency levels to follow from the root', nonNegativeInt);
  withExamples(graph, [
    'substrate graph',
    'substrate graph app.report --depth 1',
    'substrate graph --format dot | dot -Tsvg > graph.svg',
    'substrate graph --format mermaid > graph.mmd',
  ]);
  graph.action(async (name: string | undefined, opts: { format: GraphFormat; depth?: number }) => {
    const client = await ctx.client();
    const g = await client.call('graph/get', {
      ...(name ? { root: name } : {}),
      ...(opts.depth !== undefined ? { depth: opts.depth } : {}),
    });
    // --json always prints the GraphResult, whatever the format.
    if (ctx.json || opts.format === 'json') return ctx.printJson(g);
    if (opts.format === 'dot') return void ctx.stdout.write(renderDot(g));
    if (opts.format === 'mermaid') return void ctx.stdout.write(renderMermaid(g));
    ctx.print(renderTree(g, { root: name, style: ctx.style }));
    const reaching = g.nodes.flatMap((n) => (n.kind === 'capability' && n.destinations?.length ? [{ key: `${n.name}@${n.version}`, d: n.destinations }] : []));
    if (reaching.length) {
      ctx.print();
      ctx.print(ctx.style.bold('http destinations'));
      for (const r of reaching) ctx.print(`  ${r.key}  ${destinationsText(r.d)}`);
    }
    ctx.print(ctx.style.dim(`generation ${g.generation}`));
  });

  const impact = program
    .command('impact')
    .description('what a change to a capability would touch: its dependents (transitively) and the gate tests that would run')
    .argument('<name>', 'capability name');
  withExamples(impact, ['substrate impact text.tokenize', 'substrate impact text.tokenize --json']);
  impact.action(async (name: string) => {
    const client = await ctx.client();
    const res = await client.call('graph/impact', { name });
    if (ctx.json) return ctx.printJson(res);
    const s = ctx.style;
    if (res.dependents.length === 0) ctx.print(`Nothing current depends on ${s.bold(res.name)}.`);
    else {
      ctx.print(`A change to ${s.bold(res.name)} touches ${plural(res.dependents.length, 'dependent')}:`);
      for (const d of res.dependents) ctx.print(`  ${d}`);
    }
    if (res.destinations?.length) {
      ctx.print();
      ctx.print('These reach the network (effects.http):');
      for (const d of res.destinations) ctx.print(`  ${d.capability}@${d.version}  ${destinationsText(d.destinations)}`);
    }
    ctx.print();
    if (res.tests.length === 0) {
      ctx.print(s.dim('No gate tests would run.'));
      return;
    }
    ctx.print(`${plural(res.tests.length, 'gate test')} would run:`);
    ctx.print(
      table(
        ['  CAPABILITY', 'VERSION', 'TEST'],
        res.tests.map((t) => [`  ${t.capability}`, t.version, t.test]),
        { style: s, maxWidth: ctx.columns },
      ),
    );
  });
}
