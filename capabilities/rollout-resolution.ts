// Weighted resolution for canary rollouts (docs/evaluation.md, "Rollouts"): a generation may carry,
// for some names, a canary version that serves a percentage of root invocations. The choice is made
// once per root: a root draws, for each rolled name, canary or current, and then resolves its whole
// call tree on one Graph in which the drawn canaries are current. So every nested ctx.call of a
// rolled name inside that tree resolves the same way, and the tree never mixes versions of it.
// Pure: the randomness is a parameter.

import { Graph } from './graph.ts';

/** A canary of one name at one generation: its version's hash and the percentage (0–100) of root
 *  invocations that see it as the current version of the name. */
export interface Canary {
  name: string;
  hash: string;
  weight: number;
}

/** The canaries of one generation, by name. */
export type Split = ReadonlyMap<string, Canary>;

export const NO_SPLIT: Split = new Map();

/** Which canaries one root sees: each rolled name drawn independently with its weight. The key is
 *  the sorted names drawn ('' = none: the plain current graph). */
export function drawCanaries(split: Split, random: () => number = Math.random): { key: string; canaries: Canary[] } {
  if (split.size === 0) return { key: '', canaries: [] };
  const canaries: Canary[] = [];
  for (const c of split.values()) if (c.weight >= 100 || (c.weight > 0 && random() * 100 < c.weight)) canaries.push(c);
  canaries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { key: canaries.map((c) => c.name).join(','), canaries };
}

/** `base` with each canary's hash as the current version of its name (a Graph like any other:
 *  ranges resolve against it as they would after activating the canaries). Throws NOT_FOUND when
 *  a canary's hash is not a version of `base`. */
export function canaryGraph(base: Graph, canaries: readonly Canary[]): Graph {
  if (canaries.length === 0) return base;
  const current = new Map(base.currentHashes());
  for (const c of canaries) current.set(c.name, c.hash);
  return new Graph(base.allVersions(), current);
}

/** Hashes a generation keeps live: every node of the base graph and of the graph with all its
 *  canaries current (so a canary and what it reaches are not retired while they serve calls). */
export function liveHashes(base: Graph, split: Split): Set<string> {
  const live = new Set(base.nodes().map((n) => n.hash));
  if (split.size > 0) for (const n of canaryGraph(base, [...split.values()]).nodes()) live.add(n.hash);
  return live;
}
