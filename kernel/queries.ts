// The read side of the protocol: list, describe, history, graph, impact and state reads, all
// answered from the current generation (generation.ts) and the store, never changing either.

import { fail } from '../capabilities/errors.ts';
import type { HttpEffect } from '../capabilities/effects.ts';
import type { Json, Manifest } from '../capabilities/types.ts';
import { checkTextDepth } from '../capabilities/json-limits.ts';
import { assertName } from '../capabilities/names.ts';
import { clampLimit } from '../capabilities/paging.ts';
import { LRUCache } from 'lru-cache';
import { enqueueTargets } from '../capabilities/enqueue-sites.ts';
import type { Graph } from '../capabilities/graph.ts';
import { subgraph } from '../capabilities/subgraph.ts';
import type { StoreApi } from '../store/types.ts';
import type {
  DescribeParams,
  DescribeResult,
  GraphEdge,
  GraphNode,
  GraphParams,
  GraphResult,
  HistoryParams,
  HistoryResult,
  ImpactResult,
  ListParams,
  ListResult,
  StateGetResult,
  StateListParams,
  StateListResult,
} from './api.ts';
import type { Generation } from './generation.ts';

export class Queries {
  /** Literal ctx.enqueue targets by version hash: versions are immutable, so this never goes stale. */
  private readonly enqueues = new LRUCache<string, string[]>({ max: 5000 });

  constructor(
    private readonly store: StoreApi,
    private readonly gen: Generation,
  ) {}

  private enqueuesOf(g: Graph, name: string, version: string): string[] {
    const v = g.find(name, version);
    if (!v) return [];
    let targets = this.enqueues.get(v.hash);
    if (!targets) {
      targets = enqueueTargets(this.gen.recordOf(v.hash).compiled);
      this.enqueues.set(v.hash, targets);
    }
    return targets;
  }

  list(params: ListParams = {}): ListResult {
    const graph = this.gen.graph;
    const limit = clampLimit(params.limit, 100, 1000);
    const prefix = params.prefix ?? '';
    const rows = this.store.capabilities().filter((c) => c.name.startsWith(prefix) && (!params.cursor || c.name > params.cursor));
    const page = rows.slice(0, limit);
    return {
      items: page.map((c) => {
        const cur = c.current ? graph.version(c.current) : undefined;
        const versions = graph.versionsOf(c.name).map((v) => v.version);
        const described = cur ?? graph.versionsOf(c.name).at(-1);
        return {
          name: c.name,
          current: cur?.version ?? null,
          versions,
          description: described ? this.gen.manifestOf(described.hash).description : '',
        };
      }),
      nextCursor: rows.length > limit ? page[page.length - 1].name : null,
    };
  }

  describe(params: DescribeParams): DescribeResult {
    const graph = this.gen.graph;
    const v = this.gen.lookup(params.name, params.version);
    const rec = this.gen.recordOf(v.hash);
    const cap = this.store.capability(v.name);
    return {
      name: v.name,
      version: v.version,
      hash: v.hash,
      current: graph.current(v.name)?.hash === v.hash,
      manifest: rec.manifest,
      source: rec.source,
      language: rec.language,
      dependencies: Object.entries(rec.manifest.dependencies).map(([dep, range]) => ({
        name: dep,
        range,
        resolved: graph.resolve(v.hash, dep)?.version ?? null,
      })),
      dependents: graph.dependents(v.name),
      owner: cap?.ownerName ?? rec.principal,
      createdAt: new Date(rec.createdAt).toISOString(),
      ...destinationsOf(rec.manifest),
    };
  }

  history(params: HistoryParams = {}): HistoryResult {
    const limit = clampLimit(params.limit, 50, 1000);
    const before = params.cursor !== undefined ? Number(params.cursor) : undefined;
    if (before !== undefined && !Number.isInteger(before)) throw fail('NOT_FOUND', `bad history cursor '${params.cursor}'`, { cursor: params.cursor });
    const rows = this.store.history({ name: params.name, limit: limit + 1, before });
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => ({
        generation: r.generation,
        at: new Date(r.at).toISOString(),
        principal: r.principal,
        changes: r.changes,
        gates: r.gates,
      })),
      nextCursor: rows.length > limit ? String(page[page.length - 1].seq) : null,
    };
  }

  graphView(params: GraphParams = {}): GraphResult {
    const g = this.gen.graph;
    let nodes = g.nodes();
    let edges = g.edges();
    if (params.root !== undefined) {
      const root = g.current(params.root);
      if (!root) throw fail('NOT_FOUND', `no current capability '${params.root}'`, { name: params.root });
      ({ nodes, edges } = subgraph(g, root.hash, params.depth ?? Infinity));
    }
    const outNodes: GraphNode[] = nodes.map((n) => ({
      kind: 'capability',
      name: n.name,
      version: n.version,
      current: n.current,
      description: this.gen.manifestOf(n.hash).description,
      ...destinationsOf(this.gen.manifestOf(n.hash)),
    }));
    const outEdges: GraphEdge[] = edges.map((e) => {
      const edge: GraphEdge = { kind: 'call', from: e.fromName, fromVersion: e.fromVersion, to: e.to, range: e.range, resolved: e.resolved };
      if (this.enqueuesOf(g, e.fromName, e.fromVersion).includes(e.to)) edge.enqueue = true;
      return edge;
    });
    // State namespaces: shared grants from manifests, and own namespaces that hold keys.
    const populated = new Set(this.store.namespaces().map((n) => n.namespace));
    const nsNodes = new Set<string>();
    for (const n of nodes) {
      const m = this.gen.manifestOf(n.hash);
      if (populated.has(n.name)) {
        nsNodes.add(n.name);
        outEdges.push({ kind: 'state', from: n.name, fromVersion: n.version, to: n.name, access: 'rw', range: null, resolved: null });
      }
      for (const [ns, access] of Object.entries(m.state.shared)) {
        nsNodes.add(`shared:${ns}`);
        outEdges.push({ kind: 'state', from: n.name, fromVersion: n.version, to: `shared:${ns}`, access, range: null, resolved: null });
      }
    }
    for (const ns of [...nsNodes].sort()) outNodes.push({ kind: 'namespace', name: ns, version: null });
    return { generation: this.gen.generation, nodes: outNodes, edges: outEdges };
  }

  impact(name: string): ImpactResult {
    assertName(name);
    const g = this.gen.graph;
    if (!g.current(name) && g.versionsOf(name).length === 0) throw fail('NOT_FOUND', `no capability '${name}'`, { name });
    const dependents = g.dependents(name);
    const tests: ImpactResult['tests'] = [];
    const destinations: NonNullable<ImpactResult['destinations']> = [];
    for (const n of [name, ...dependents]) {
      const cur = g.current(n);
      if (!cur) continue;
      const m = this.gen.manifestOf(cur.hash);
      for (const t of m.tests) tests.push({ capability: n, version: cur.version, test: t.name });
      if (m.effects?.http.length) destinations.push({ capability: n, version: cur.version, destinations: m.effects.http });
    }
    return { name, dependents, tests, ...(destinations.length ? { destinations } : {}) };
  }

  stateGet(namespace: string, key: string): StateGetResult {
    const row = this.store.readState(namespace, key);
    if (!row) throw fail('NOT_FOUND', `no key '${key}' in namespace '${namespace}'`, { namespace, key });
    return { namespace, key, value: storedValue(namespace, key, row.value), version: row.version };
  }

  stateList(params: StateListParams): StateListResult {
    const limit = clampLimit(params.limit, 100, 1000);
    const rows = this.store.listState(params.namespace, { prefix: params.prefix, after: params.cursor, limit: limit + 1 });
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => ({ key: r.key, value: storedValue(params.namespace, r.key, r.value), version: r.version })),
      nextCursor: rows.length > limit ? page[page.length - 1].key : null,
    };
  }
}

/** `{ destinations }` when the manifest declares effects.http (the field is absent otherwise, so
 *  results of capabilities without egress are as they were). */
function destinationsOf(m: Manifest): { destinations?: HttpEffect[] } {
  return m.effects?.http.length ? { destinations: m.effects.http } : {};
}

/** A stored value for an operator: one nested deeper than MAX_JSON_DEPTH (written before the limit
 *  existed) is refused by key, since its reply could not be serialized; `state/list` can step
 *  past it with `cursor` set to that key. */
function storedValue(namespace: string, key: string, text: string): Json {
  checkTextDepth(text, `the state value at '${key}' in '${namespace}'`, { what: 'value', namespace, key });
  return JSON.parse(text) as Json;
}
