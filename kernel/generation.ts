// The current generation and the versions it can see: the immutable Graph replaced wholesale at
// each commit, its number, the versions of changesets in flight (visible to the sandbox, not yet
// stored), and the lookups every other part of the kernel makes (records, manifests, payloads for
// workers, links of a root). Invocations pin a generation by holding its Graph object.
//
// Invariant: `graph` and `generation` change together, only in install(), which runs under the
// commit lock after the store committed; the links cache belongs to one graph and is replaced
// with it, so a cached Links never outlives the generation it was computed on. A generation may
// also carry a rollout split (canaries by name, capabilities/rollout-resolution.ts), installed
// with it: pin() draws one graph per root invocation from the split.

import { LRUCache } from 'lru-cache';
import { fail } from '../capabilities/errors.ts';
import { Graph, type GraphVersion } from '../capabilities/graph.ts';
import type { Links } from '../capabilities/run-types.ts';
import { canaryGraph, drawCanaries, liveHashes, type Split } from '../capabilities/rollout-resolution.ts';
import { assertName } from '../capabilities/names.ts';
import type { Manifest, VersionRecord } from '../capabilities/types.ts';
import type { StoreApi } from '../store/types.ts';
import type { VersionPayload } from '../sandbox/protocol.ts';

/** Roots whose links are cached for the current graph; beyond it, the least recently used go. */
const MAX_CACHED_LINKS = 10_000;
/** Stored versions whose payload is kept for workers that ask. */
const MAX_CACHED_PAYLOADS = 2000;

export class Generation {
  private current: Graph;
  private number: number;
  private links = new LRUCache<string, Links>({ max: MAX_CACHED_LINKS });
  /** Versions of a changeset being validated: visible to the sandbox, not yet in the store. */
  private readonly pending = new Map<string, VersionRecord>();
  /** Changesets in flight holding each pending version (gates run concurrently, outside the lock). */
  private readonly pendingRefs = new Map<string, number>();
  private readonly payloads = new LRUCache<string, VersionPayload>({ max: MAX_CACHED_PAYLOADS });
  /** The canaries of active rollouts and, per drawn combination, the graph a root resolves on. */
  private splitNow: Split;
  private variants = new Map<string, Graph>();

  constructor(private readonly store: StoreApi) {
    this.number = store.generation();
    this.current = buildGraph(store);
    this.splitNow = store.rollouts.split();
  }

  get split(): Split {
    return this.splitNow;
  }

  /** The graph one root invocation resolves its whole tree on, with the generation: the current
   *  graph, or (while rollouts run) the current graph with the canaries it drew made current. */
  pin(): { graph: Graph; generation: number } {
    const generation = this.number;
    if (this.splitNow.size === 0) return { graph: this.current, generation };
    const { key, canaries } = drawCanaries(this.splitNow);
    if (key === '') return { graph: this.current, generation };
    let g = this.variants.get(key);
    if (!g) {
      g = canaryGraph(this.current, canaries);
      this.variants.set(key, g);
    }
    return { graph: g, generation };
  }

  get graph(): Graph {
    return this.current;
  }

  get generation(): number {
    return this.number;
  }

  /** Makes `graph` current as `generation` (with `split`, else the split stays as it is); returns
   *  the hashes no longer live in it (to retire). */
  install(graph: Graph, generation: number, split?: Split): string[] {
    const before = liveHashes(this.current, this.splitNow);
    this.current = graph;
    this.number = generation;
    if (split) this.splitNow = split;
    this.links = new LRUCache<string, Links>({ max: MAX_CACHED_LINKS });
    this.variants = new Map();
    const live = liveHashes(graph, this.splitNow);
    return [...before].filter((h) => !live.has(h));
  }

  /** Links of `hash` in `graph`: cached when `graph` is the current one or one of its canary
   *  variants (keyed by the graph too: a variant resolves differently). */
  linksFor(graph: Graph, hash: string): Links {
    const variant = graph === this.current ? '' : [...this.variants].find(([, g]) => g === graph)?.[0];
    if (variant === undefined) return graph.links(hash);
    const key = variant === '' ? hash : `${variant}\u0000${hash}`;
    let l = this.links.get(key);
    if (!l) {
      l = graph.links(hash);
      this.links.set(key, l);
    }
    return l;
  }

  /** Makes not-yet-stored versions visible to the sandbox for one changeset in flight. */
  hold(records: readonly VersionRecord[]): void {
    for (const r of records) {
      this.pending.set(r.hash, r);
      this.pendingRefs.set(r.hash, (this.pendingRefs.get(r.hash) ?? 0) + 1);
    }
  }

  /** Ends hold(): a version goes when the last changeset holding it is done. */
  release(records: readonly VersionRecord[]): void {
    for (const r of records) {
      const n = (this.pendingRefs.get(r.hash) ?? 1) - 1;
      if (n > 0) this.pendingRefs.set(r.hash, n);
      else {
        this.pendingRefs.delete(r.hash);
        this.pending.delete(r.hash);
      }
    }
  }

  pendingVersion(name: string, version: string): VersionRecord | undefined {
    for (const r of this.pending.values()) if (r.name === name && r.version === version) return r;
    return undefined;
  }

  /** Compiled code of a version, for a worker that has not seen it (pending candidates first). */
  payload(hash: string): VersionPayload | undefined {
    const cached = this.payloads.get(hash);
    if (cached) return cached;
    const rec = this.pending.get(hash) ?? this.store.getVersion(hash);
    if (!rec) return undefined;
    const p: VersionPayload = { hash, name: rec.name, version: rec.version, manifest: rec.manifest, compiled: rec.compiled };
    // A pending version may never be stored: it is not cached, so a failed changeset leaves nothing.
    if (!this.pending.has(hash)) this.payloads.set(hash, p);
    return p;
  }

  recordOf(hash: string): VersionRecord {
    const rec = this.pending.get(hash) ?? this.store.getVersion(hash);
    if (!rec) throw fail('NOT_FOUND', `no version with hash ${hash}`, { hash });
    return rec;
  }

  manifestOf(hash: string): Manifest {
    return (this.payload(hash) ?? this.recordOf(hash)).manifest;
  }

  /** A version by number, else the current one, else (removed or never activated) the newest. */
  lookup(name: string, version: string | undefined): GraphVersion {
    assertName(name);
    const g = this.current;
    if (version !== undefined) {
      const v = g.find(name, version);
      if (!v) throw fail('NOT_FOUND', `no version ${version} of '${name}'`, { name, version });
      return v;
    }
    const cur = g.current(name) ?? g.versionsOf(name).at(-1);
    if (!cur) throw fail('NOT_FOUND', `no capability '${name}'`, { name });
    return cur;
  }
}

function buildGraph(store: StoreApi): Graph {
  const current = new Map<string, string>();
  for (const c of store.capabilities()) if (c.current) current.set(c.name, c.current);
  return new Graph(store.allVersionMeta(), current);
}
