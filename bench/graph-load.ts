// The generated graph of bench/upgrade: 10,000 capabilities and exactly 30,000 edges, seeded so every
// run builds the same one, and the two questions a changeset asks of it (who depends on a name,
// is there a cycle) answered by capabilities/graph.ts and, as the floor, on bare integer arrays.

import semver from 'semver';
import { Graph, type GraphVersion } from '../capabilities/graph.ts';

/** Deterministic PRNG (mulberry32): the same graph every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Generated {
  versions: GraphVersion[];
  current: Map<string, string>;
  /** adjacency as integers: deps[i] = indices node i depends on. */
  deps: number[][];
  edges: number;
}

/** N capabilities, exactly E edges, acyclic: node i depends only on nodes below i. */
export function generate(n: number, e: number, withCycle: boolean): Generated {
  const rand = rng(42);
  const deps: number[][] = [];
  let edges = 0;
  for (let i = 0; i < n; i++) deps.push([]);
  // Three distinct lower targets each (fewer for the first nodes), the remainder spread over the
  // last nodes, so the count is exactly E.
  const per = Math.floor(e / n);
  for (let i = 1; i < n; i++) {
    const k = Math.min(i, per);
    const set = new Set<number>();
    while (set.size < k) set.add(Math.floor(rand() * i));
    deps[i] = [...set];
    edges += k;
  }
  for (let i = n - 1; edges < e && i > per; i--) {
    let t = Math.floor(rand() * i);
    while (deps[i].includes(t)) t = Math.floor(rand() * i);
    deps[i].push(t);
    edges++;
  }
  if (withCycle) {
    // the root of everything now depends on the last node: one long cycle through the graph.
    deps[0].push(n - 1);
    edges++;
  }
  const name = (i: number) => `g.n${i}`;
  const versions: GraphVersion[] = deps.map((d, i) => ({
    name: name(i),
    version: '1.0.0',
    hash: `sha256:${i.toString(16).padStart(64, '0')}`,
    dependencies: Object.fromEntries(d.map((t) => [name(t), '^1.0.0'])),
  }));
  const current = new Map(versions.map((v) => [v.name, v.hash]));
  return { versions, current, deps, edges };
}

/** The same two questions on bare arrays: reverse BFS from `root`, three-colour DFS for a cycle. */
export function rawImpactAndCycle(deps: number[][], root: number): { dependents: number; cycle: boolean } {
  const n = deps.length;
  const revStart = new Int32Array(n + 1);
  for (const d of deps) for (const t of d) revStart[t + 1]++;
  for (let i = 0; i < n; i++) revStart[i + 1] += revStart[i];
  const fill = revStart.slice(0, n);
  const rev = new Int32Array(revStart[n]);
  deps.forEach((d, i) => {
    for (const t of d) rev[fill[t]++] = i;
  });
  const seen = new Uint8Array(n);
  const queue = new Int32Array(n);
  let qh = 0;
  let qt = 0;
  queue[qt++] = root;
  seen[root] = 1;
  while (qh < qt) {
    const v = queue[qh++];
    for (let j = revStart[v]; j < revStart[v + 1]; j++) {
      const u = rev[j];
      if (!seen[u]) {
        seen[u] = 1;
        queue[qt++] = u;
      }
    }
  }
  const color = new Uint8Array(n);
  const stack = new Int32Array(n);
  const next = new Int32Array(n);
  let cycle = false;
  for (let s = 0; s < n && !cycle; s++) {
    if (color[s]) continue;
    let sp = 0;
    stack[sp++] = s;
    color[s] = 1;
    next[s] = 0;
    while (sp > 0 && !cycle) {
      const v = stack[sp - 1];
      if (next[v] >= deps[v].length) {
        color[v] = 2;
        sp--;
        continue;
      }
      const t = deps[v][next[v]++];
      if (color[t] === 1) cycle = true;
      else if (color[t] === 0) {
        color[t] = 1;
        next[t] = 0;
        stack[sp++] = t;
      }
    }
  }
  return { dependents: qt - 1, cycle };
}

export interface GraphTimes {
  build: number[];
  cycle: number[];
  impact: number[];
  both: number[];
  raw: number[];
  /** findCycle again on the same Graph: resolutions already cached, the traversal alone. */
  cycleAgain: number[];
  /** One semver Range.test per distinct (dependency, range) pair, the resolution floor. */
  semverTests: number[];
  dependents: number;
  cycleFound: string[] | null;
  edges: number;
}

export function graphTrials(withCycle: boolean, trials: number): GraphTimes {
  const g = generate(10_000, 30_000, withCycle);
  const out: GraphTimes = { build: [], cycle: [], impact: [], both: [], raw: [], cycleAgain: [], semverTests: [], dependents: 0, cycleFound: null, edges: g.edges };
  for (let t = -2; t < trials; t++) {
    const t0 = performance.now();
    const graph = new Graph(g.versions, g.current);
    const t1 = performance.now();
    const cyc = graph.findCycle();
    const t2 = performance.now();
    const dependents = graph.dependents('g.n0');
    const t3 = performance.now();
    const raw = rawImpactAndCycle(g.deps, 0);
    const t4 = performance.now();
    graph.findCycle();
    const t5 = performance.now();
    const range = new semver.Range('^1.0.0');
    let ok = 0;
    for (let i = 0; i < g.versions.length; i++) if (range.test(g.versions[i].version)) ok++;
    const t6 = performance.now();
    if (ok !== g.versions.length) throw new Error('semver disagrees');
    if ((cyc !== null) !== withCycle || raw.cycle !== withCycle) throw new Error(`cycle detection disagrees: graph.ts ${JSON.stringify(cyc)?.slice(0, 80)}, raw ${raw.cycle}`);
    if (t >= 0) {
      out.build.push(t1 - t0);
      out.cycle.push(t2 - t1);
      out.impact.push(t3 - t2);
      out.both.push(t3 - t1);
      out.raw.push(t4 - t3);
      out.cycleAgain.push(t5 - t4);
      out.semverTests.push(t6 - t5);
    }
    out.dependents = dependents.length;
    out.cycleFound = cyc;
  }
  return out;
}
