// Renders a GraphResult (graph/get) as a box-drawing tree, a Graphviz digraph or a Mermaid flowchart.
// A capability node is one version (`name@version`): a dependency may resolve to a version that is
// not current, so one name can appear twice. State namespaces are nodes of their own, reached by
// state edges carrying the access ("r"/"rw"): shared ones are named `shared:NAME` by the kernel, a
// capability's own namespace carries the capability's name and is shown as `NAME (state)`.
// Pure: strings in, strings out.

import type { GraphEdge, GraphNode, GraphResult } from '../kernel/api.ts';
import { plain, type Style } from './format.ts';

export const GRAPH_FORMATS = ['tree', 'dot', 'mermaid', 'json'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

/** `shared:text.stats` stays as it is; a capability's own namespace becomes `text.count (state)`. */
function namespaceKey(name: string): string {
  return name.startsWith('shared:') ? name : `${name} (state)`;
}

/** The key (and label) every renderer uses for a node. Capability keys are `name@version`, which
 *  never contain ':' or spaces, so they cannot collide with namespace keys. */
function nodeKey(n: GraphNode): string {
  return n.kind === 'capability' ? `${n.name}@${n.version}` : namespaceKey(n.name);
}

function isNamespaceKey(key: string): boolean {
  return key.startsWith('shared:') || key.endsWith(' (state)');
}

function edgeFrom(e: GraphEdge): string {
  return `${e.from}@${e.fromVersion}`;
}

function edgeTo(e: GraphEdge): string {
  if (e.kind === 'state') return namespaceKey(e.to);
  return e.resolved ? `${e.to}@${e.resolved}` : `${e.to} (unresolved)`;
}

function edgeLabel(e: GraphEdge): string {
  if (e.kind === 'state') return e.access;
  return `${e.enqueue ? 'enqueue ' : ''}${e.range} → ${e.resolved ?? 'unresolved'}`;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function sortedEdges(edges: GraphEdge[]): GraphEdge[] {
  return [...edges].sort((a, b) => {
    if (a.kind !== b.kind) return a.kind === 'call' ? -1 : 1;
    return byName(a.to, b.to);
  });
}

interface Index {
  nodes: Map<string, GraphNode>;
  out: Map<string, GraphEdge[]>;
  incoming: Set<string>;
}

function index(g: GraphResult): Index {
  const nodes = new Map<string, GraphNode>();
  for (const n of g.nodes) nodes.set(nodeKey(n), n);
  const out = new Map<string, GraphEdge[]>();
  const incoming = new Set<string>();
  for (const e of g.edges) {
    const from = edgeFrom(e);
    if (!out.has(from)) out.set(from, []);
    out.get(from)!.push(e);
    if (e.kind === 'call') incoming.add(edgeTo(e));
  }
  return { nodes, out, incoming };
}

/** Top-level entries of the tree: the root asked for, else every capability nothing calls. */
function treeRoots(g: GraphResult, idx: Index, root?: string): string[] {
  const caps = g.nodes.filter((n): n is Extract<GraphNode, { kind: 'capability' }> => n.kind === 'capability');
  if (root) {
    const named = caps.filter((n) => n.name === root);
    const pick = named.find((n) => n.current) ?? named[0];
    if (pick) return [nodeKey(pick)];
  }
  const tops = caps.filter((n) => !idx.incoming.has(nodeKey(n)));
  const chosen = tops.length > 0 ? tops : caps;
  return chosen.map(nodeKey).sort(byName);
}

export interface TreeOptions {
  root?: string;
  style?: Style;
}

/**
 * ```
 * app.report@1.0.0
 * ├── text.wordcount@1.2.0  ^1.0.0 → 1.2.0
 * │   ├── text.tokenize@1.0.0  ^1.0.0 → 1.0.0
 * │   └── shared:text.stats  rw
 * └── shared:app.data  r
 * ```
 */
export function renderTree(g: GraphResult, opts: TreeOptions = {}): string {
  const style = opts.style ?? plain;
  const idx = index(g);
  const roots = treeRoots(g, idx, opts.root);
  if (roots.length === 0) return style.dim('(no capabilities)');
  const expanded = new Set<string>();
  const lines: string[] = [];

  const label = (key: string): string => {
    const n = idx.nodes.get(key);
    if (n && n.kind === 'capability' && !n.current) return `${style.bold(key)} ${style.yellow('(not current)')}`;
    return style.bold(key);
  };

  const walk = (key: string, prefix: string, path: Set<string>): void => {
    const edges = sortedEdges(idx.out.get(key) ?? []);
    edges.forEach((e, i) => {
      const last = i === edges.length - 1;
      const branch = last ? '└── ' : '├── ';
      const child = edgeTo(e);
      if (e.kind === 'state') {
        lines.push(`${prefix}${branch}${style.cyan(child)}  ${style.dim(e.access)}`);
        return;
      }
      const range = `${e.range} → ${e.resolved ? style.green(e.resolved) : style.red('unresolved')}`;
      if (!e.resolved) {
        lines.push(`${prefix}${branch}${style.red(e.to)}  ${range}`);
        return;
      }
      const hasChildren = (idx.out.get(child)?.length ?? 0) > 0;
      const cycle = path.has(child);
      const seen = expanded.has(child) && hasChildren;
      const note = cycle ? style.red(' (cycle)') : seen ? style.dim(' (dependencies shown above)') : '';
      lines.push(`${prefix}${branch}${label(child)}  ${range}${note}`);
      if (!cycle && !seen) {
        expanded.add(child);
        path.add(child);
        walk(child, prefix + (last ? '    ' : '│   '), path);
        path.delete(child);
      }
    });
  };

  for (const r of roots) {
    const n = idx.nodes.get(r);
    const desc = n && n.kind === 'capability' && n.description ? `  ${style.dim(n.description)}` : '';
    lines.push(`${label(r)}${desc}`);
    expanded.add(r);
    walk(r, '', new Set([r]));
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Graphviz

function dotString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** A Graphviz digraph; ids are quoted `name@version` / `shared:NAME`, labels are escaped. */
export function renderDot(g: GraphResult): string {
  const idx = index(g);
  const out: string[] = [];
  out.push('digraph substrate {');
  out.push(`  graph [rankdir=LR, fontname="Helvetica", label=${dotString(`generation ${g.generation}`)}, labelloc=t];`);
  out.push('  node [shape=box, style=rounded, fontname="Helvetica"];');
  out.push('  edge [fontname="Helvetica", fontsize=10];');
  const declared = new Set<string>();
  for (const n of g.nodes) {
    const key = nodeKey(n);
    if (declared.has(key)) continue;
    declared.add(key);
    if (n.kind === 'capability') {
      const attrs = [`label=${dotString(`${n.name}\n${n.version}`)}`];
      if (!n.current) attrs.push('style="rounded,dashed"');
      if (n.description) attrs.push(`tooltip=${dotString(n.description)}`);
      out.push(`  ${dotString(key)} [${attrs.join(', ')}];`);
    } else {
      out.push(`  ${dotString(key)} [label=${dotString(key)}, shape=cylinder, style=solid];`);
    }
  }
  for (const e of g.edges) {
    const to = edgeTo(e);
    if (!declared.has(to)) {
      declared.add(to);
      // An edge to something not in the node list (an unresolved dependency, or a node cut off by
      // --depth) still gets a declaration so the drawing says what it is.
      const attrs = e.kind === 'call' && !e.resolved ? 'color=red, fontcolor=red, style="rounded,dashed"' : 'style="rounded,dotted"';
      out.push(`  ${dotString(to)} [label=${dotString(to)}, ${attrs}];`);
    }
    const attrs = [`label=${dotString(edgeLabel(e))}`];
    if (e.kind === 'state') attrs.push('style=dashed', 'arrowhead=odot');
    else if (!e.resolved) attrs.push('color=red');
    out.push(`  ${dotString(edgeFrom(e))} -> ${dotString(to)} [${attrs.join(', ')}];`);
  }
  for (const key of idx.out.keys()) {
    if (!declared.has(key)) out.push(`  ${dotString(key)};`);
  }
  out.push('}');
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Mermaid

function mermaidText(s: string): string {
  return `"${s.replace(/"/g, '#quot;')}"`;
}

/** A Mermaid `flowchart LR`: ids are sanitized (letters, digits, `_`), labels quoted. */
export function renderMermaid(g: GraphResult): string {
  const ids = new Map<string, string>();
  const used = new Set<string>();
  const idFor = (key: string): string => {
    let id = ids.get(key);
    if (id) return id;
    const prefix = key.startsWith('shared:') ? 'ns_' : key.endsWith(' (state)') ? 'st_' : key.endsWith(' (unresolved)') ? 'u_' : 'c_';
    const base = prefix + key.replace(/^shared:/, '').replace(/ \((state|unresolved)\)$/, '').replace(/[^A-Za-z0-9_]/g, '_');
    id = base;
    for (let i = 2; used.has(id); i++) id = `${base}_${i}`;
    used.add(id);
    ids.set(key, id);
    return id;
  };
  const out: string[] = ['flowchart LR'];
  const notCurrent: string[] = [];
  const namespaces: string[] = [];
  const unresolved: string[] = [];
  const declared = new Set<string>();
  const declare = (key: string, node?: GraphNode): void => {
    if (declared.has(key)) return;
    declared.add(key);
    const id = idFor(key);
    if (isNamespaceKey(key)) {
      out.push(`  ${id}[(${mermaidText(key)})]`);
      namespaces.push(id);
    } else {
      out.push(`  ${id}[${mermaidText(key)}]`);
      if (key.endsWith('(unresolved)')) unresolved.push(id);
      else if (node && node.kind === 'capability' && !node.current) notCurrent.push(id);
    }
  };
  for (const n of g.nodes) declare(nodeKey(n), n);
  for (const e of g.edges) {
    declare(edgeFrom(e));
    declare(edgeTo(e));
  }
  for (const e of g.edges) {
    out.push(`  ${idFor(edgeFrom(e))} -->|${mermaidText(edgeLabel(e))}| ${idFor(edgeTo(e))}`);
  }
  if (namespaces.length) out.push('  classDef sharedns fill:#eef,stroke:#669', `  class ${namespaces.join(',')} sharedns`);
  if (notCurrent.length) out.push('  classDef old stroke-dasharray:5 5', `  class ${notCurrent.join(',')} old`);
  if (unresolved.length) out.push('  classDef missing stroke:#c00,color:#c00', `  class ${unresolved.join(',')} missing`);
  return out.join('\n') + '\n';
}
