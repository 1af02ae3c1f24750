// The graph of capability versions at one generation (or of a changeset's candidate): which
// version each name runs, how each version's dependency ranges resolve, and what is reachable from
// the current versions. Immutable once built; everything derived (resolutions, reachability,
// reverse indexes) is computed lazily at most once per Graph and is linear in its size.
//
// Resolution follows the contract: a dependency resolves to its current version when that satisfies
// the range, else to the highest registered version that does. A name with no current version
// (never activated, or removed) resolves nothing, whatever versions of it are stored.

import { LRUCache } from 'lru-cache';
import semver from 'semver';
import { fail } from './errors.ts';
import type { Links } from './run-types.ts';

export interface GraphVersion {
  name: string;
  version: string;
  hash: string;
  dependencies: { [name: string]: string };
}

export interface GraphNode {
  name: string;
  version: string;
  hash: string;
  current: boolean;
}

export interface GraphEdge {
  /** `name@version` of the depending version. */
  from: string;
  fromName: string;
  fromVersion: string;
  /** The dependency's name. */
  to: string;
  range: string;
  /** The version the range resolves to, or null when nothing satisfies it. */
  resolved: string | null;
}

export interface UnsatisfiedDependency {
  name: string;
  version: string;
  dependency: string;
  range: string;
}

interface Arc {
  dep: string;
  range: string;
  target: GraphVersion | null;
}

// Parsed ranges are shared by every Graph: a kernel builds one per commit from mostly the same
// manifests. Bounded (least recently used go), which only costs re-parsing. An invalid range is
// kept as `false`: lru-cache holds no null.
const RANGE_CACHE_LIMIT = 20_000;
const rangeCache = new LRUCache<string, semver.Range | false>({ max: RANGE_CACHE_LIMIT });

function parseRange(range: string): semver.Range | null {
  let r = rangeCache.get(range);
  if (r === undefined) {
    try {
      r = new semver.Range(range);
    } catch {
      r = false;
    }
    rangeCache.set(range, r);
  }
  return r || null;
}

function byNameThenVersion(a: GraphVersion, b: GraphVersion): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return semver.compare(a.version, b.version);
}

export class Graph {
  private readonly byHash = new Map<string, GraphVersion>();
  private readonly byKey = new Map<string, GraphVersion>();
  private readonly byName = new Map<string, GraphVersion[]>();
  private readonly currentByName = new Map<string, string>();

  private readonly resolutions = new Map<string, GraphVersion | null>();
  private readonly arcsByHash = new Map<string, Arc[]>();
  private reachableCache: GraphVersion[] | undefined;
  private reverseCache: { declaredBy: Map<string, GraphVersion[]>; resolvedBy: Map<string, GraphVersion[]> } | undefined;

  /** `current` maps a name to the hash of its current version; every such hash must be among
   *  `versions`. The same hash may appear twice; the same name@version with two hashes may not. */
  constructor(versions: Iterable<GraphVersion>, current: ReadonlyMap<string, string>) {
    for (const v of versions) {
      if (this.byHash.has(v.hash)) continue;
      const key = `${v.name}@${v.version}`;
      const clash = this.byKey.get(key);
      if (clash) {
        throw fail('VERSION_EXISTS', `${key} exists with another content hash`, { name: v.name, version: v.version, hash: clash.hash });
      }
      this.byHash.set(v.hash, v);
      this.byKey.set(key, v);
      const list = this.byName.get(v.name);
      if (list) list.push(v);
      else this.byName.set(v.name, [v]);
    }
    for (const list of this.byName.values()) if (list.length > 1) list.sort(byNameThenVersion);
    for (const [name, hash] of current) {
      const v = this.byHash.get(hash);
      if (!v || v.name !== name) throw fail('NOT_FOUND', `current version ${hash} of ${name} is not a version of ${name}`, { name, hash });
      this.currentByName.set(name, hash);
    }
  }

  // ---- plain lookups ----

  current(name: string): GraphVersion | undefined {
    const hash = this.currentByName.get(name);
    return hash === undefined ? undefined : this.byHash.get(hash);
  }

  version(hash: string): GraphVersion | undefined {
    return this.byHash.get(hash);
  }

  /** Every registered version of `name`, semver ascending. */
  versionsOf(name: string): readonly GraphVersion[] {
    return this.byName.get(name) ?? [];
  }

  find(name: string, version: string): GraphVersion | undefined {
    return this.byKey.get(`${name}@${version}`);
  }

  /** Every version, in no particular order (to build a derived Graph). */
  allVersions(): IterableIterator<GraphVersion> {
    return this.byHash.values();
  }

  /** name -> hash of its current version. */
  currentHashes(): ReadonlyMap<string, string> {
    return this.currentByName;
  }

  /** Names that have a current version, sorted. */
  currentNames(): string[] {
    return [...this.currentByName.keys()].sort();
  }

  // ---- resolution ----

  /** What `depName` resolves to for the version `fromHash`, or undefined when that version does
   *  not declare it or nothing satisfies its range. */
  resolve(fromHash: string, depName: string): GraphVersion | undefined {
    const from = this.byHash.get(fromHash);
    if (!from || !Object.hasOwn(from.dependencies, depName)) return undefined;
    return this.resolveRange(depName, from.dependencies[depName]) ?? undefined;
  }

  private resolveRange(depName: string, range: string): GraphVersion | null {
    // The answer depends only on the dependency and the range, so versions sharing a range share it.
    const key = `${depName}\u0000${range}`;
    let hit = this.resolutions.get(key);
    if (hit !== undefined) return hit;
    hit = null;
    const current = this.current(depName);
    const r = parseRange(range);
    if (current && r) {
      if (r.test(current.version)) hit = current;
      else {
        const list = this.byName.get(depName) ?? [];
        for (let i = list.length - 1; i >= 0; i--) {
          if (r.test(list[i].version)) {
            hit = list[i];
            break;
          }
        }
      }
    }
    this.resolutions.set(key, hit);
    return hit;
  }

  /** A version's dependencies (sorted by name) with what each resolves to. */
  private arcs(v: GraphVersion): Arc[] {
    let arcs = this.arcsByHash.get(v.hash);
    if (!arcs) {
      arcs = Object.keys(v.dependencies)
        .sort()
        .map((dep) => ({ dep, range: v.dependencies[dep], target: this.resolveRange(dep, v.dependencies[dep]) }));
      this.arcsByHash.set(v.hash, arcs);
    }
    return arcs;
  }

  /** The links of a call tree rooted at `rootHash`: every version reachable from it through
   *  resolution, each with its resolvable dependencies. Throws NOT_FOUND for an unknown root. */
  links(rootHash: string): Links {
    const root = this.byHash.get(rootHash);
    if (!root) throw fail('NOT_FOUND', `no version with hash ${rootHash}`, { hash: rootHash });
    const links: Links = {};
    const queue: GraphVersion[] = [root];
    const seen = new Set<string>([root.hash]);
    for (let i = 0; i < queue.length; i++) {
      const v = queue[i];
      const inner: { [depName: string]: string } = {};
      for (const arc of this.arcs(v)) {
        if (!arc.target) continue;
        inner[arc.dep] = arc.target.hash;
        if (!seen.has(arc.target.hash)) {
          seen.add(arc.target.hash);
          queue.push(arc.target);
        }
      }
      links[v.hash] = inner;
    }
    return links;
  }

  // ---- the part of the graph that can run: current versions and what they reach ----

  /** Current versions and every version reachable from them, by name then version. */
  private reachable(): GraphVersion[] {
    if (!this.reachableCache) {
      const seen = new Set<string>();
      const list: GraphVersion[] = [];
      for (const hash of this.currentByName.values()) {
        seen.add(hash);
        list.push(this.byHash.get(hash)!);
      }
      for (let i = 0; i < list.length; i++) {
        for (const arc of this.arcs(list[i])) {
          if (arc.target && !seen.has(arc.target.hash)) {
            seen.add(arc.target.hash);
            list.push(arc.target);
          }
        }
      }
      this.reachableCache = list.sort(byNameThenVersion);
    }
    return this.reachableCache;
  }

  nodes(): GraphNode[] {
    return this.reachable().map((v) => ({
      name: v.name,
      version: v.version,
      hash: v.hash,
      current: this.currentByName.get(v.name) === v.hash,
    }));
  }

  edges(): GraphEdge[] {
    const out: GraphEdge[] = [];
    for (const v of this.reachable()) {
      for (const arc of this.arcs(v)) {
        out.push({
          from: `${v.name}@${v.version}`,
          fromName: v.name,
          fromVersion: v.version,
          to: arc.dep,
          range: arc.range,
          resolved: arc.target ? arc.target.version : null,
        });
      }
    }
    return out;
  }

  /** Dependencies of current (and reachable) versions that nothing satisfies. */
  unsatisfied(): UnsatisfiedDependency[] {
    const out: UnsatisfiedDependency[] = [];
    for (const v of this.reachable()) {
      for (const arc of this.arcs(v)) {
        if (!arc.target) out.push({ name: v.name, version: v.version, dependency: arc.dep, range: arc.range });
      }
    }
    return out;
  }

  /** A cycle of resolved dependencies among reachable versions, as names with the first repeated
   *  last (`['a', 'b', 'a']`), or null. Iterative depth-first search. */
  findCycle(): string[] | null {
    const ON_PATH = 1;
    const DONE = 2;
    const state = new Map<string, number>();
    for (const start of this.reachable()) {
      if (state.has(start.hash)) continue;
      const path: Array<{ v: GraphVersion; next: number }> = [{ v: start, next: 0 }];
      state.set(start.hash, ON_PATH);
      while (path.length) {
        const top = path[path.length - 1];
        const arcs = this.arcs(top.v);
        if (top.next >= arcs.length) {
          state.set(top.v.hash, DONE);
          path.pop();
          continue;
        }
        const target = arcs[top.next++].target;
        // A version resolving a dependency to itself is recursion, bounded at run time by the call
        // depth limit (CALL_DEPTH_EXCEEDED), not a cycle between capabilities.
        if (!target || target === top.v) continue;
        const s = state.get(target.hash);
        if (s === undefined) {
          state.set(target.hash, ON_PATH);
          path.push({ v: target, next: 0 });
        } else if (s === ON_PATH) {
          const from = path.findIndex((f) => f.v === target);
          return [...path.slice(from).map((f) => f.v.name), target.name];
        }
      }
    }
    return null;
  }

  // ---- who depends on a name ----

  private reverse() {
    if (!this.reverseCache) {
      const declaredBy = new Map<string, GraphVersion[]>();
      const resolvedBy = new Map<string, GraphVersion[]>();
      const push = (m: Map<string, GraphVersion[]>, key: string, v: GraphVersion) => {
        const list = m.get(key);
        if (list) list.push(v);
        else m.set(key, [v]);
      };
      for (const v of this.reachable()) {
        for (const arc of this.arcs(v)) {
          push(declaredBy, arc.dep, v);
          if (arc.target) push(resolvedBy, arc.target.hash, v);
        }
      }
      this.reverseCache = { declaredBy, resolvedBy };
    }
    return this.reverseCache;
  }

  /** Names of current capabilities whose current version can end up calling any of `names`: it
   *  declares one of them, or resolves (transitively) to a version that does. The first hop is by
   *  name, whatever it resolves to, since a change to a name can change that resolution; further
   *  hops follow resolution, so a version a dependent never runs does not make it a dependent.
   *  A name of `names` is included when its own current version depends on another of them. */
  dependentsOf(names: Iterable<string>): string[] {
    const { declaredBy, resolvedBy } = this.reverse();
    const seen = new Set<string>();
    const queue: GraphVersion[] = [];
    const visit = (list: GraphVersion[] | undefined) => {
      for (const v of list ?? []) {
        if (!seen.has(v.hash)) {
          seen.add(v.hash);
          queue.push(v);
        }
      }
    };
    for (const name of names) visit(declaredBy.get(name));
    for (let i = 0; i < queue.length; i++) visit(resolvedBy.get(queue[i].hash));
    const out: string[] = [];
    for (const v of queue) if (this.currentByName.get(v.name) === v.hash) out.push(v.name);
    return out.sort();
  }

  /** Current capabilities that depend on `name`, transitively (see dependentsOf), sorted. */
  dependents(name: string): string[] {
    return this.dependentsOf([name]).filter((n) => n !== name);
  }
}
