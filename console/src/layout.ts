// Lays out graph/get's nodes and edges with ELK (the layered algorithm, left to right) into
// positions the graph view draws as SVG. Text sizes are estimated (monospace-ish character width):
// the layout must be known before anything is drawn.

import ELK from 'elkjs/lib/elk.bundled.js';
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk.bundled.js';
import type { Graph, GraphEdge, GraphNode } from './types.ts';

const elk = new ELK();
const CHAR_W = 7.4;

export interface PlacedNode {
  node: GraphNode;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlacedEdge {
  edge: GraphEdge;
  /** Polyline points from the source to the target. */
  points: { x: number; y: number }[];
  label: { text: string; x: number; y: number } | undefined;
}

export interface Placed {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}

export function nodeId(n: { kind: string; name: string }): string {
  return `${n.kind}:${n.name}`;
}

export function edgeLabel(e: GraphEdge): string {
  return e.kind === 'call' ? `${e.range}${e.resolved ? ` → ${e.resolved}` : ''}${e.enqueue ? ' (enqueue)' : ''}` : e.access;
}

export async function layout(g: Graph): Promise<Placed> {
  const sizes = new Map<string, { width: number; height: number }>();
  const children: ElkNode[] = g.nodes.map((n) => {
    const label = n.kind === 'capability' ? n.name : `◆ ${n.name}`;
    const sub = n.kind === 'capability' ? `v${n.version}` : 'shared namespace';
    const size = { width: Math.max(label.length, sub.length) * CHAR_W + 28, height: 44 };
    sizes.set(nodeId(n), size);
    return { id: nodeId(n), ...size };
  });
  const ids = new Set(children.map((c) => c.id));
  const edges: (ElkExtendedEdge & { edge: GraphEdge })[] = [];
  g.edges.forEach((e, i) => {
    const source = `capability:${e.from}`;
    const target = e.kind === 'call' ? `capability:${e.to}` : `namespace:${e.to}`;
    if (!ids.has(source) || !ids.has(target)) return;
    const text = edgeLabel(e);
    edges.push({ id: `e${i}`, sources: [source], targets: [target], labels: [{ text, width: text.length * 6.4, height: 14 }], edge: e });
  });
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.spacing.nodeNode': '28',
      'elk.layered.spacing.nodeNodeBetweenLayers': '90',
      'elk.edgeLabels.placement': 'CENTER',
      'elk.padding': '[top=16,left=16,bottom=16,right=16]',
    },
    children,
    edges,
  };
  const root = await elk.layout(graph);
  const byId = new Map(g.nodes.map((n) => [nodeId(n), n]));
  const nodes: PlacedNode[] = (root.children ?? []).map((c) => ({ node: byId.get(c.id)!, x: c.x ?? 0, y: c.y ?? 0, width: c.width ?? 0, height: c.height ?? 0 }));
  const placedEdges: PlacedEdge[] = (root.edges ?? []).map((laid) => {
    const edge = edges.find((x) => x.id === laid.id)!.edge;
    const points = (laid.sections ?? []).flatMap((s) => [s.startPoint, ...(s.bendPoints ?? []), s.endPoint]);
    const l = laid.labels?.[0];
    return { edge, points, label: l ? { text: l.text ?? '', x: (l.x ?? 0) + (l.width ?? 0) / 2, y: (l.y ?? 0) + (l.height ?? 0) / 2 + 4 } : undefined };
  });
  return { width: root.width ?? 0, height: root.height ?? 0, nodes, edges: placedEdges };
}
