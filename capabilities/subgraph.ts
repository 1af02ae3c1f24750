// The part of a graph a `graph --root` view shows: the root's version and every version its
// dependency ranges resolve to, transitively, up to a depth. Pure: the kernel renders the result.

import type { Graph, GraphEdge, GraphNode } from './graph.ts';

/** Nodes reachable from `rootHash` through resolved dependencies within `maxDepth` hops (the root
 *  is depth 0), and the edges leaving them (unresolved ranges included, so a view shows what is
 *  missing). Linear in the part visited. */
export function subgraph(g: Graph, rootHash: string, maxDepth = Infinity): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const keep = new Set<string>([rootHash]);
  let frontier = [rootHash];
  for (let d = 0; d < maxDepth && frontier.length; d++) {
    const next: string[] = [];
    for (const h of frontier) {
      for (const dep of Object.keys(g.version(h)?.dependencies ?? {})) {
        const r = g.resolve(h, dep);
        if (r && !keep.has(r.hash)) {
          keep.add(r.hash);
          next.push(r.hash);
        }
      }
    }
    frontier = next;
  }
  const nodes = g.nodes().filter((n) => keep.has(n.hash));
  const keepKeys = new Set(nodes.map((n) => `${n.name}@${n.version}`));
  const edges = g.edges().filter((e) => keepKeys.has(`${e.fromName}@${e.fromVersion}`));
  return { nodes, edges };
}
