// Planning a changeset: from the graph of the current generation and a list of changes, the
// candidate graph the changeset would produce, checked as a whole (every range satisfiable, no
// cycle, nothing removed that something current still needs), and which gate tests it calls for.
// Pure: the kernel compiles, stores, runs the gates and commits.
//
// Within one changeset each name may have at most one change that sets its current version
// (register with activate, activate, remove), plus any number of registers without activation
// (several versions may be uploaded together, e.g. a 1.x fix beside a new 2.0.0). Anything else
// (activating a name twice, removing a name also being registered) has no obvious meaning and is
// refused with INVALID_INPUT: the changeset as sent is an invalid request, and the contract has no
// more specific type for it.

import { fail } from './errors.ts';
import { Graph, type GraphVersion } from './graph.ts';
import type { Manifest, TestCase } from './types.ts';

export type PlannedChange =
  | { op: 'register'; version: GraphVersion; activate: boolean }
  | { op: 'activate'; name: string; version: string }
  | { op: 'remove'; name: string };

export interface Plan {
  /** The graph the changeset would produce. */
  candidate: Graph;
  /** Current-version changes, in the order of the changes: null removes the name. */
  setCurrent: Array<{ name: string; hash: string | null }>;
  /** Names whose current version changes or that gain a new version, sorted. */
  changedNames: string[];
  /** Hashes of versions newly registered or newly made current, in the order of the changes. */
  changedVersions: string[];
  /** Current capabilities of the candidate that depend transitively on a changed name and whose
   *  current version is not itself among changedVersions (those are tested anyway), sorted. */
  touched: string[];
}

export interface GateTest {
  name: string;
  version: string;
  hash: string;
  test: TestCase;
}

type SettingChange = Exclude<PlannedChange, { op: 'register'; activate: false }>;

export function planChangeset(graph: Graph, changes: PlannedChange[]): Plan {
  const fresh = new Map<string, GraphVersion>(); // name@version -> version new in this changeset
  const setting = new Map<string, SettingChange>();
  const registering = new Set<string>();

  const lookup = (name: string, version: string) => graph.find(name, version) ?? fresh.get(`${name}@${version}`);
  const claim = (name: string, change: SettingChange) => {
    const previous = setting.get(name);
    if (previous) {
      throw fail('INVALID_INPUT', `the changeset changes the current version of ${name} twice (${previous.op} and ${change.op})`, {
        name,
        ops: [previous.op, change.op],
      });
    }
    setting.set(name, change);
  };

  for (const change of changes) {
    if (change.op === 'register') {
      const v = change.version;
      const existing = lookup(v.name, v.version);
      if (existing && existing.hash !== v.hash) {
        throw fail('VERSION_EXISTS', `${v.name}@${v.version} already exists with other content`, {
          name: v.name,
          version: v.version,
          hash: existing.hash,
        });
      }
      if (!existing) fresh.set(`${v.name}@${v.version}`, v);
      registering.add(v.name);
      if (change.activate) claim(v.name, change);
    } else {
      claim(change.name, change);
    }
  }

  const current = new Map(graph.currentHashes());
  for (const [name, change] of setting) {
    if (change.op === 'register') {
      current.set(name, change.version.hash);
    } else if (change.op === 'activate') {
      const target = lookup(name, change.version);
      if (!target) {
        const known = graph.versionsOf(name).length > 0 || registering.has(name);
        throw fail('NOT_FOUND', known ? `no version ${change.version} of ${name}` : `no capability ${name}`, {
          name,
          version: change.version,
        });
      }
      current.set(name, target.hash);
    } else {
      if (registering.has(name)) {
        throw fail('INVALID_INPUT', `the changeset both registers and removes ${name}`, { name, ops: ['register', 'remove'] });
      }
      if (!graph.current(name)) throw fail('NOT_FOUND', `no current version of ${name} to remove`, { name });
      current.delete(name);
    }
  }

  const candidate = new Graph(
    fresh.size ? concat(graph.allVersions(), fresh.values()) : graph.allVersions(),
    current,
  );

  const setCurrent: Plan['setCurrent'] = [];
  for (const name of setting.keys()) {
    const before = graph.currentHashes().get(name) ?? null;
    const after = current.get(name) ?? null;
    if (before !== after) setCurrent.push({ name, hash: after });
  }

  for (const { name, hash } of setCurrent) {
    if (hash !== null) continue;
    const dependents = candidate.dependents(name);
    if (dependents.length) {
      throw fail('DEPENDENTS_EXIST', `cannot remove ${name}: ${dependents.join(', ')} still depend${dependents.length === 1 ? 's' : ''} on it`, {
        name,
        dependents,
      });
    }
  }

  const unsatisfied = candidate.unsatisfied();
  if (unsatisfied.length) {
    const u = unsatisfied[0];
    const why = candidate.current(u.dependency)
      ? 'which no registered version satisfies'
      : candidate.versionsOf(u.dependency).length
        ? `but ${u.dependency} has no current version`
        : `but no capability ${u.dependency} exists`;
    throw fail('DEPENDENCY_UNSATISFIED', `${u.name}@${u.version} depends on ${u.dependency} ${u.range}, ${why}`, {
      ...u,
      unsatisfied,
    });
  }

  const cycle = candidate.findCycle();
  if (cycle) throw fail('DEPENDENCY_CYCLE', `dependency cycle: ${cycle.join(' -> ')}`, { cycle });

  const changedVersions: string[] = [];
  const seenVersions = new Set<string>();
  const addVersion = (hash: string) => {
    if (!seenVersions.has(hash)) {
      seenVersions.add(hash);
      changedVersions.push(hash);
    }
  };
  const activated = new Set(setCurrent.map((s) => s.hash));
  for (const change of changes) {
    if (change.op === 'register') {
      const v = change.version;
      if (fresh.get(`${v.name}@${v.version}`) === v || activated.has(v.hash)) addVersion(v.hash);
    } else if (change.op === 'activate') {
      const hash = current.get(change.name);
      if (hash !== undefined && activated.has(hash)) addVersion(hash);
    }
  }

  const changed = new Set<string>(setCurrent.map((s) => s.name));
  for (const v of fresh.values()) changed.add(v.name);
  const changedNames = [...changed].sort();
  const touched = candidate.dependentsOf(changedNames).filter((name) => !seenVersions.has(candidate.currentHashes().get(name)!));

  return { candidate, setCurrent, changedNames, changedVersions, touched };
}

function* concat<T>(...lists: Iterable<T>[]): IterableIterator<T> {
  for (const list of lists) yield* list;
}

/** The gate tests a plan calls for: every test of each changed version (in the order of the
 *  changes), then of the current version of each touched capability (by name); each version's
 *  tests in manifest order. */
export function selectGateTests(plan: Plan, manifests: (hash: string) => Manifest): GateTest[] {
  const out: GateTest[] = [];
  const add = (v: GraphVersion | undefined) => {
    if (!v) return;
    for (const test of manifests(v.hash).tests) out.push({ name: v.name, version: v.version, hash: v.hash, test });
  };
  for (const hash of plan.changedVersions) add(plan.candidate.version(hash));
  for (const name of plan.touched) add(plan.candidate.current(name));
  return out;
}
