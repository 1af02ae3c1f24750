// The text a model reads after a management tool succeeds: what was committed (or planned), which
// gates ran and how they went, what a capability looks like, the graph. The structured result is
// sent beside it as structuredContent.

import type { ApplyResult, DescribeResult, GateResult, GraphResult, RegisterResult } from '../capabilities/protocol/types.ts';
import { replayLines, replayNext } from './replay-text.ts';
import { toolNameOf } from './tool-names.ts';

export function json(v: unknown): string {
  return JSON.stringify(v) ?? 'undefined';
}

export function gateLine(g: GateResult): string {
  if (g.passed) return `- passed: ${g.capability} ${g.version} "${g.test}"`;
  const why = g.error ? `failed with ${g.error.type}: ${g.error.message}` : `expected ${json(g.expected)}, got ${json(g.actual)}`;
  return `- FAILED: ${g.capability} ${g.version} "${g.test}": ${why}`;
}

function gatesSummary(gates: GateResult[]): string {
  if (gates.length === 0) return 'No gate tests ran.';
  const failed = gates.filter((g) => !g.passed).length;
  return `Gates: ${gates.length - failed} passed, ${failed} failed.\n${gates.map(gateLine).join('\n')}`;
}

export function summarizeRegister(r: RegisterResult): string {
  const state = r.activated
    ? `It is current now (generation ${r.generation}) and callable as the tool ${toolNameOf(r.name)}.`
    : `It is stored but not current (activate it with substrate_apply, op "activate").`;
  return `Registered ${r.name} ${r.version} (${r.hash}). ${state}\n${gatesSummary(r.gates ?? [])}`;
}

export function summarizeApply(r: ApplyResult): string {
  const head = r.dryRun ? `Dry run: nothing was committed (generation stays ${r.generation}).` : `Committed: generation ${r.generation}.`;
  const changes = r.changes.map((c) => {
    if (c.op === 'remove') return `- remove ${c.name}${c.previous ? ` (was ${c.previous})` : ''}`;
    const prev = c.previous && c.previous !== c.version ? `, was ${c.previous}` : '';
    return `- ${c.op} ${c.name} ${c.version ?? ''}${c.activated ? ` (current${prev})` : ' (not current)'}`;
  });
  const touched = r.touched.length ? `\nDependents whose tests ran: ${r.touched.join(', ')}.` : '';
  const replay = r.replay ? `\n${[...replayLines(r.replay), replayNext(r.replay, false)].join('\n')}` : '';
  return `${head}\nChanges:\n${changes.join('\n')}${touched}\n${gatesSummary(r.gates)}${replay}`;
}

export function summarizeDescribe(r: DescribeResult): string {
  const lines = [
    `${r.name} ${r.version}${r.current ? ' (current)' : ' (not current)'}, ${r.hash}, owned by ${r.owner}, registered ${r.createdAt}.`,
    r.manifest.description ? `Description: ${r.manifest.description}` : '',
    r.dependencies.length
      ? `Dependencies: ${r.dependencies.map((d) => `${d.name} ${d.range}${d.resolved ? ` (resolves to ${d.resolved})` : ' (unresolved)'}`).join(', ')}`
      : 'Dependencies: none',
    `Dependents: ${r.dependents.length ? r.dependents.join(', ') : 'none'}`,
    `Manifest:\n${JSON.stringify(r.manifest, null, 2)}`,
    `Source (${r.language}):\n\`\`\`${r.language}\n${r.source}\n\`\`\``,
  ];
  return lines.filter(Boolean).join('\n');
}

export function summarizeGraph(r: GraphResult): string {
  const caps = r.nodes.filter((n) => n.kind === 'capability').map((n) => `- ${n.name} ${n.version}${n.kind === 'capability' && n.current ? '' : ' (not current)'}`);
  const edges = r.edges.map((e) =>
    e.kind === 'call' ? `- ${e.from} ${e.fromVersion} calls ${e.to} ${e.range} (resolves to ${e.resolved ?? 'nothing'})` : `- ${e.from} ${e.fromVersion} uses state ${e.to} (${e.access})`,
  );
  return `Generation ${r.generation}.\nCapabilities:\n${caps.join('\n') || '(none)'}\nEdges:\n${edges.join('\n') || '(none)'}`;
}
