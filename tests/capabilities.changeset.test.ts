import { describe, expect, it } from 'vitest';
import { planChangeset, selectGateTests, type PlannedChange } from '../capabilities/changeset.ts';
import { SubstrateError } from '../capabilities/errors.ts';
import { Graph, type GraphVersion } from '../capabilities/graph.ts';
import { parseManifest } from '../capabilities/manifest.ts';
import type { Manifest } from '../capabilities/types.ts';

function v(id: string, dependencies: Record<string, string> = {}): GraphVersion {
  const [name, version] = id.split('@');
  return { name, version, hash: `h:${id}`, dependencies };
}

function graph(versions: GraphVersion[], current: string[]): Graph {
  return new Graph(versions, new Map(current.map((id) => [id.split('@')[0], `h:${id}`])));
}

const register = (version: GraphVersion, activate = true): PlannedChange => ({ op: 'register', version, activate });
const activate = (id: string): PlannedChange => ({ op: 'activate', name: id.split('@')[0], version: id.split('@')[1] });
const remove = (name: string): PlannedChange => ({ op: 'remove', name });

function refused(fn: () => unknown, type: string): SubstrateError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SubstrateError);
    expect((e as SubstrateError).type).toBe(type);
    return e as SubstrateError;
  }
  throw new Error(`expected ${type}`);
}

// A small world: app -> svc -> lib, tool -> lib.
const base = graph(
  [v('app@1.0.0', { svc: '^1' }), v('svc@1.0.0', { lib: '^1' }), v('lib@1.0.0'), v('tool@1.0.0', { lib: '^1' }), v('solo@1.0.0')],
  ['app@1.0.0', 'svc@1.0.0', 'lib@1.0.0', 'tool@1.0.0', 'solo@1.0.0'],
);

describe('planChangeset', () => {
  it('registers and activates a new version, touching its transitive dependents', () => {
    const plan = planChangeset(base, [register(v('lib@1.1.0'))]);
    expect(plan.setCurrent).toEqual([{ name: 'lib', hash: 'h:lib@1.1.0' }]);
    expect(plan.changedNames).toEqual(['lib']);
    expect(plan.changedVersions).toEqual(['h:lib@1.1.0']);
    expect(plan.touched).toEqual(['app', 'svc', 'tool']);
    expect(plan.candidate.current('lib')?.version).toBe('1.1.0');
    expect(base.current('lib')?.version).toBe('1.0.0');
  });

  it('registers without activating: a changed version and name, no current change', () => {
    const plan = planChangeset(base, [register(v('lib@2.0.0'), false)]);
    expect(plan.setCurrent).toEqual([]);
    expect(plan.changedNames).toEqual(['lib']);
    expect(plan.changedVersions).toEqual(['h:lib@2.0.0']);
    expect(plan.candidate.current('lib')?.version).toBe('1.0.0');
    expect(plan.candidate.find('lib', '2.0.0')).toBeDefined();
  });

  it('treats registering an existing version again as a no-op', () => {
    const plan = planChangeset(base, [register(v('lib@1.0.0'))]);
    expect(plan).toMatchObject({ setCurrent: [], changedNames: [], changedVersions: [], touched: [] });
  });

  it('activates an earlier version (a rollback) and a version registered in the same changeset', () => {
    const g = graph([...base.allVersions(), v('lib@0.9.0')], ['app@1.0.0', 'svc@1.0.0', 'lib@1.0.0', 'tool@1.0.0', 'solo@1.0.0']);
    const rollback = planChangeset(g, [activate('solo@1.0.0'), { op: 'activate', name: 'svc', version: '1.0.0' }]);
    expect(rollback.setCurrent).toEqual([]);
    const plan = planChangeset(base, [register(v('solo@2.0.0'), false), activate('solo@2.0.0')]);
    expect(plan.setCurrent).toEqual([{ name: 'solo', hash: 'h:solo@2.0.0' }]);
    expect(plan.changedVersions).toEqual(['h:solo@2.0.0']);
  });

  it('refuses to activate an unknown name or version with NOT_FOUND', () => {
    expect(refused(() => planChangeset(base, [activate('lib@9.0.0')]), 'NOT_FOUND').data).toEqual({ name: 'lib', version: '9.0.0' });
    expect(refused(() => planChangeset(base, [activate('ghost@1.0.0')]), 'NOT_FOUND').message).toMatch(/ghost/);
  });

  it('removes a capability nothing depends on', () => {
    const plan = planChangeset(base, [remove('solo')]);
    expect(plan.setCurrent).toEqual([{ name: 'solo', hash: null }]);
    expect(plan.changedNames).toEqual(['solo']);
    expect(plan.changedVersions).toEqual([]);
    expect(plan.candidate.current('solo')).toBeUndefined();
  });

  it('refuses to remove a name with no current version', () => {
    refused(() => planChangeset(base, [remove('ghost')]), 'NOT_FOUND');
    const afterRemove = planChangeset(base, [remove('solo')]).candidate;
    refused(() => planChangeset(afterRemove, [remove('solo')]), 'NOT_FOUND');
  });

  it('refuses to remove what current capabilities still depend on, naming them', () => {
    const e = refused(() => planChangeset(base, [remove('lib')]), 'DEPENDENTS_EXIST');
    expect(e.data).toEqual({ name: 'lib', dependents: ['app', 'svc', 'tool'] });
    expect(e.message).toMatch(/lib/);
    // Removing the dependents with it is fine.
    const plan = planChangeset(base, [remove('app'), remove('svc'), remove('tool'), remove('lib')]);
    expect(plan.candidate.currentNames()).toEqual(['solo']);
  });

  it('refuses two changes to the current version of one name', () => {
    refused(() => planChangeset(base, [register(v('lib@1.1.0')), activate('lib@1.0.0')]), 'INVALID_INPUT');
    refused(() => planChangeset(base, [remove('solo'), remove('solo')]), 'INVALID_INPUT');
    refused(() => planChangeset(base, [register(v('solo@2.0.0'), false), remove('solo')]), 'INVALID_INPUT');
    // Several versions uploaded together, one of them made current, is fine.
    const plan = planChangeset(base, [register(v('lib@1.1.0'), false), register(v('lib@2.0.0'))]);
    expect(plan.changedVersions).toEqual(['h:lib@1.1.0', 'h:lib@2.0.0']);
  });

  it('refuses one name@version with two contents', () => {
    refused(() => planChangeset(base, [register({ ...v('lib@1.0.0'), hash: 'other' })]), 'VERSION_EXISTS');
    refused(() => planChangeset(base, [register(v('x@1.0.0'), false), register({ ...v('x@1.0.0'), hash: 'other' }, false)]), 'VERSION_EXISTS');
  });

  it('refuses an unsatisfiable range, naming the capability, the dependency and the range', () => {
    const e = refused(() => planChangeset(base, [register(v('app@2.0.0', { svc: '^2' }))]), 'DEPENDENCY_UNSATISFIED');
    expect(e.data).toMatchObject({ name: 'app', version: '2.0.0', dependency: 'svc', range: '^2' });
    expect(e.message).toContain('app@2.0.0');
    expect(e.message).toContain('svc ^2');
    const missing = refused(() => planChangeset(base, [register(v('new@1.0.0', { nowhere: '^1' }))]), 'DEPENDENCY_UNSATISFIED');
    expect(missing.message).toMatch(/nowhere/);
  });

  it('keeps a dependent satisfied through an older version when the current one moves out of range', () => {
    const plan = planChangeset(base, [register(v('lib@2.0.0'))]);
    expect(plan.candidate.resolve('h:svc@1.0.0', 'lib')?.version).toBe('1.0.0');
    expect(plan.touched).toEqual(['app', 'svc', 'tool']);
  });

  it('refuses a cycle, naming it', () => {
    const e = refused(() => planChangeset(base, [register(v('lib@1.1.0', { app: '^1' }))]), 'DEPENDENCY_CYCLE');
    const cycle = e.data.cycle as string[];
    expect(cycle[0]).toBe(cycle[cycle.length - 1]);
    expect([...cycle].sort()).toEqual(['app', 'app', 'lib', 'svc'].sort());
    expect(e.message).toMatch(/->/);
  });

  it('is all or nothing: the base graph is never changed', () => {
    refused(() => planChangeset(base, [register(v('lib@1.1.0')), register(v('app@2.0.0', { svc: '^9' }))]), 'DEPENDENCY_UNSATISFIED');
    expect(base.current('lib')?.version).toBe('1.0.0');
    expect(base.find('lib', '1.1.0')).toBeUndefined();
  });

  it('keeps in touched a changed name whose current version is not itself re-tested', () => {
    // svc gets a new non-current 0.x version while lib changes: svc's current version depends on lib.
    const plan = planChangeset(base, [register(v('svc@0.5.0', {}), false), register(v('lib@1.0.1'))]);
    expect(plan.changedNames).toEqual(['lib', 'svc']);
    expect(plan.touched).toEqual(['app', 'svc', 'tool']);
  });
});

describe('selectGateTests', () => {
  const manifests = new Map<string, Manifest>();
  const add = (id: string, deps: Record<string, string>, tests: string[]): GraphVersion => {
    const [name, version] = id.split('@');
    const m = parseManifest({ name, version, dependencies: deps, tests: tests.map((t) => ({ name: t, input: null })) });
    manifests.set(`h:${id}`, m);
    return v(id, deps);
  };
  const g = graph(
    [add('b@1.0.0', {}, ['b1']), add('a@1.0.0', { b: '^1' }, ['a1', 'a2']), add('c@1.0.0', { a: '^1' }, ['c1']), add('z@1.0.0', {}, ['z1'])],
    ['a@1.0.0', 'b@1.0.0', 'c@1.0.0', 'z@1.0.0'],
  );

  it('runs the tests of changed versions first, then of touched capabilities, in a stable order', () => {
    const plan = planChangeset(g, [register(add('b@1.1.0', {}, ['b-new', 'b-new-2']))]);
    const tests = selectGateTests(plan, (h) => manifests.get(h)!);
    expect(tests.map((t) => `${t.name}@${t.version}:${t.test.name}`)).toEqual([
      'b@1.1.0:b-new',
      'b@1.1.0:b-new-2',
      'a@1.0.0:a1',
      'a@1.0.0:a2',
      'c@1.0.0:c1',
    ]);
    expect(tests[0].hash).toBe('h:b@1.1.0');
  });

  it('runs nothing for a removal nothing depends on', () => {
    const plan = planChangeset(g, [remove('z')]);
    expect(selectGateTests(plan, (h) => manifests.get(h)!)).toEqual([]);
  });
});
