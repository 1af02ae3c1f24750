import { describe, expect, it } from 'vitest';
import { SubstrateError } from '../capabilities/errors.ts';
import { Graph, type GraphVersion } from '../capabilities/graph.ts';

function v(id: string, dependencies: Record<string, string> = {}): GraphVersion {
  const [name, version] = id.split('@');
  return { name, version, hash: `h:${id}`, dependencies };
}

/** A graph from versions; `current` lists name@version ids made current. */
function graph(versions: GraphVersion[], current: string[]): Graph {
  return new Graph(versions, new Map(current.map((id) => [id.split('@')[0], `h:${id}`])));
}

describe('Graph lookups', () => {
  const g = graph([v('b@1.10.0'), v('b@1.2.0'), v('b@2.0.0'), v('b@1.9.0-rc.1'), v('a@1.0.0', { b: '^1' })], ['a@1.0.0', 'b@2.0.0']);

  it('finds versions by hash, by name and version, and the current one', () => {
    expect(g.current('b')?.version).toBe('2.0.0');
    expect(g.current('nope')).toBeUndefined();
    expect(g.version('h:b@1.2.0')?.version).toBe('1.2.0');
    expect(g.find('b', '1.10.0')?.hash).toBe('h:b@1.10.0');
    expect(g.find('b', '3.0.0')).toBeUndefined();
    expect(g.currentNames()).toEqual(['a', 'b']);
  });

  it('lists the versions of a name in semver order', () => {
    expect(g.versionsOf('b').map((x) => x.version)).toEqual(['1.2.0', '1.9.0-rc.1', '1.10.0', '2.0.0']);
    expect(g.versionsOf('nope')).toEqual([]);
  });

  it('refuses a current hash that is not a version of that name', () => {
    expect(() => new Graph([v('a@1.0.0')], new Map([['b', 'h:a@1.0.0']]))).toThrow(SubstrateError);
    expect(() => new Graph([v('a@1.0.0')], new Map([['a', 'h:missing']]))).toThrow(SubstrateError);
  });

  it('refuses the same name@version with two hashes but accepts a repeated version', () => {
    expect(() => new Graph([v('a@1.0.0'), { ...v('a@1.0.0'), hash: 'other' }], new Map())).toThrow(/exists/);
    expect(new Graph([v('a@1.0.0'), v('a@1.0.0')], new Map()).versionsOf('a')).toHaveLength(1);
  });
});

describe('Graph.resolve', () => {
  it('uses the current version when it satisfies the range', () => {
    const g = graph([v('b@1.0.0'), v('b@1.5.0'), v('a@1.0.0', { b: '^1.0.0' })], ['a@1.0.0', 'b@1.0.0']);
    expect(g.resolve('h:a@1.0.0', 'b')?.version).toBe('1.0.0');
  });

  it('B 2.0.0 current while A depends on ^1 resolves to the highest 1.x', () => {
    const g = graph(
      [v('b@1.0.0'), v('b@1.4.0'), v('b@1.10.1'), v('b@2.0.0'), v('b@1.11.0-beta.1'), v('a@1.0.0', { b: '^1' })],
      ['a@1.0.0', 'b@2.0.0'],
    );
    expect(g.resolve('h:a@1.0.0', 'b')?.version).toBe('1.10.1');
  });

  it('resolves nothing when no version satisfies, for undeclared names and for names without a current version', () => {
    const g = graph([v('b@1.0.0'), v('c@1.0.0'), v('a@1.0.0', { b: '^2', c: '^1' })], ['a@1.0.0', 'b@1.0.0']);
    expect(g.resolve('h:a@1.0.0', 'b')).toBeUndefined();
    expect(g.resolve('h:a@1.0.0', 'c')).toBeUndefined();
    expect(g.resolve('h:a@1.0.0', 'd')).toBeUndefined();
    expect(g.resolve('h:a@1.0.0', 'constructor')).toBeUndefined();
    expect(g.resolve('h:unknown', 'b')).toBeUndefined();
  });
});

describe('Graph.links', () => {
  it('is the closure reachable from the root, leaving unresolvable dependencies out', () => {
    const g = graph(
      [
        v('a@1.0.0', { b: '^1', x: '^1' }),
        v('b@1.0.0', { c: '~1.2.0' }),
        v('b@2.0.0', { d: '^1' }),
        v('c@1.2.5'),
        v('c@1.3.0'),
        v('d@1.0.0'),
        v('unrelated@1.0.0'),
      ],
      ['a@1.0.0', 'b@2.0.0', 'c@1.3.0', 'd@1.0.0', 'unrelated@1.0.0'],
    );
    expect(g.links('h:a@1.0.0')).toEqual({
      'h:a@1.0.0': { b: 'h:b@1.0.0' },
      'h:b@1.0.0': { c: 'h:c@1.2.5' },
      'h:c@1.2.5': {},
    });
    expect(g.links('h:d@1.0.0')).toEqual({ 'h:d@1.0.0': {} });
    expect(() => g.links('h:nope')).toThrow(SubstrateError);
  });
});

describe('Graph nodes, edges and unsatisfied', () => {
  const g = graph(
    [v('a@1.0.0', { b: '^1', c: '^3' }), v('b@1.0.0'), v('b@2.0.0'), v('c@1.0.0'), v('old@1.0.0', { nothing: '*' })],
    ['a@1.0.0', 'b@2.0.0', 'c@1.0.0'],
  );

  it('has current versions and the versions they reach as nodes', () => {
    expect(g.nodes()).toEqual([
      { name: 'a', version: '1.0.0', hash: 'h:a@1.0.0', current: true },
      { name: 'b', version: '1.0.0', hash: 'h:b@1.0.0', current: false },
      { name: 'b', version: '2.0.0', hash: 'h:b@2.0.0', current: true },
      { name: 'c', version: '1.0.0', hash: 'h:c@1.0.0', current: true },
    ]);
  });

  it('has one edge per declared dependency with what it resolves to', () => {
    expect(g.edges()).toEqual([
      { from: 'a@1.0.0', fromName: 'a', fromVersion: '1.0.0', to: 'b', range: '^1', resolved: '1.0.0' },
      { from: 'a@1.0.0', fromName: 'a', fromVersion: '1.0.0', to: 'c', range: '^3', resolved: null },
    ]);
  });

  it('names each unsatisfied range of the versions that can run', () => {
    expect(g.unsatisfied()).toEqual([{ name: 'a', version: '1.0.0', dependency: 'c', range: '^3' }]);
  });
});

describe('Graph.findCycle', () => {
  it('is null for an acyclic graph', () => {
    const g = graph([v('a@1.0.0', { b: '^1', c: '^1' }), v('b@1.0.0', { c: '^1' }), v('c@1.0.0')], ['a@1.0.0', 'b@1.0.0', 'c@1.0.0']);
    expect(g.findCycle()).toBeNull();
  });

  it('names the cycle in order with the first name repeated at the end', () => {
    const g = graph(
      [v('top@1.0.0', { a: '^1' }), v('a@1.0.0', { b: '^1' }), v('b@1.0.0', { c: '^1' }), v('c@1.0.0', { a: '^1' })],
      ['top@1.0.0', 'a@1.0.0', 'b@1.0.0', 'c@1.0.0'],
    );
    const cycle = g.findCycle()!;
    expect(cycle).toHaveLength(4);
    expect(cycle[0]).toBe(cycle[3]);
    // The same cycle, whichever member the search met first.
    const rotations = [['a', 'b', 'c', 'a'], ['b', 'c', 'a', 'b'], ['c', 'a', 'b', 'c']];
    expect(rotations).toContainEqual(cycle);
  });

  it('a version resolving to itself is recursion, not a cycle', () => {
    const self = { name: 'rec', version: '1.0.0', hash: 'h-rec', dependencies: { rec: '^1' } };
    const g = new Graph([self], new Map([['rec', 'h-rec']]));
    expect(g.findCycle()).toBeNull();
    expect(g.resolve('h-rec', 'rec')?.hash).toBe('h-rec');
    expect(g.dependents('rec')).toEqual([]);
  });

  it('follows resolution, not names: an older version that breaks the loop is no cycle', () => {
    // a -> b -> a, but b's ^1 range resolves a to 1.0.0, which depends on nothing.
    const g = graph([v('a@1.0.0'), v('a@2.0.0', { b: '^1' }), v('b@1.0.0', { a: '^1' })], ['a@2.0.0', 'b@1.0.0']);
    expect(g.findCycle()).toBeNull();
    const g2 = graph([v('a@1.0.0', { b: '^1' }), v('b@1.0.0', { a: '^1' })], ['a@1.0.0', 'b@1.0.0']);
    expect(g2.findCycle()).toEqual(['a', 'b', 'a']);
  });

  it('does not count a self-loop (recursion) as a cycle', () => {
    expect(graph([v('a@1.0.0', { a: '*' })], ['a@1.0.0']).findCycle()).toBeNull();
  });
});

describe('Graph.dependents', () => {
  const g = graph(
    [
      v('app@1.0.0', { 'svc.a': '^1' }),
      v('svc.a@1.0.0', { 'lib.b': '^1' }),
      v('lib.b@1.0.0', { 'lib.c': '^1' }),
      v('lib.c@1.0.0'),
      v('other@1.0.0', { 'lib.c': '^1' }),
      v('alone@1.0.0'),
    ],
    ['app@1.0.0', 'svc.a@1.0.0', 'lib.b@1.0.0', 'lib.c@1.0.0', 'other@1.0.0', 'alone@1.0.0'],
  );

  it('is transitive and sorted', () => {
    expect(g.dependents('lib.c')).toEqual(['app', 'lib.b', 'other', 'svc.a']);
    expect(g.dependents('lib.b')).toEqual(['app', 'svc.a']);
    expect(g.dependents('app')).toEqual([]);
    expect(g.dependents('alone')).toEqual([]);
    expect(g.dependents('missing')).toEqual([]);
  });

  it('counts a declared dependency even when it does not resolve', () => {
    const broken = graph([v('a@1.0.0', { b: '^5' }), v('b@1.0.0')], ['a@1.0.0', 'b@1.0.0']);
    expect(broken.dependents('b')).toEqual(['a']);
  });

  it('goes through the versions dependents actually run', () => {
    // app runs lib@1 (its range excludes the current lib@2); only lib@1 uses dep.
    const g2 = graph(
      [v('app@1.0.0', { lib: '^1' }), v('lib@1.0.0', { dep: '^1' }), v('lib@2.0.0', { other: '^1' }), v('dep@1.0.0'), v('other@1.0.0')],
      ['app@1.0.0', 'lib@2.0.0', 'dep@1.0.0', 'other@1.0.0'],
    );
    expect(g2.dependents('dep')).toEqual(['app']);
    expect(g2.dependents('other')).toEqual(['lib']);
    expect(g2.dependents('lib')).toEqual(['app']);
  });
});

describe('Graph at scale', () => {
  it('handles 10,000 capabilities and 30,000 edges', () => {
    const n = 10_000;
    const versions: GraphVersion[] = [];
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let i = 0; i < n; i++) {
      const deps: Record<string, string> = {};
      // Three edges to lower-numbered capabilities: acyclic, deep chains through cap.0.
      if (i > 0) deps[`cap.${i - 1}`] = '^1.0.0';
      while (i > 3 && Object.keys(deps).length < 3) deps[`cap.${Math.floor(random() * i)}`] = '^1.0.0';
      versions.push({ name: `cap.${i}`, version: '1.0.0', hash: `h${i}`, dependencies: deps });
    }
    const current = new Map(versions.map((x) => [x.name, x.hash]));
    const t0 = performance.now();
    const g = new Graph(versions, current);
    const edges = g.edges().length;
    const t1 = performance.now();
    const cycle = g.findCycle();
    const t2 = performance.now();
    const dependents = g.dependents('cap.0');
    const t3 = performance.now();
    const unsatisfied = g.unsatisfied();
    const links = g.links(`h${n - 1}`);
    const t4 = performance.now();
    console.log(
      `graph of ${n} capabilities, ${edges} edges: build+edges ${(t1 - t0).toFixed(0)} ms, findCycle ${(t2 - t1).toFixed(0)} ms, ` +
        `dependents ${(t3 - t2).toFixed(0)} ms, unsatisfied+links ${(t4 - t3).toFixed(0)} ms`,
    );
    expect(edges).toBeGreaterThan(29_000);
    expect(cycle).toBeNull();
    expect(dependents).toHaveLength(n - 1);
    expect(unsatisfied).toEqual([]);
    expect(Object.keys(links)).toHaveLength(n);

    // Close a loop: cap.0 now depends on the top of the chain.
    versions[0] = { ...versions[0], dependencies: { [`cap.${n - 1}`]: '^1' } };
    const cyclic = new Graph(versions, current);
    const t5 = performance.now();
    const found = cyclic.findCycle();
    console.log(`findCycle with a cycle: ${(performance.now() - t5).toFixed(0)} ms, length ${found?.length}`);
    expect(found).not.toBeNull();
    expect(found![0]).toBe(found![found!.length - 1]);
  });
});
