// The pure pieces the kernel's parts share: the subgraph of `graph --root`, the version a
// rollback returns to, the one concurrency limiter, the page-size clamp.
import { describe, expect, it } from 'vitest';
import { Graph, type GraphVersion } from '../capabilities/graph.ts';
import { mapLimit } from '../capabilities/map-limit.ts';
import { clampLimit } from '../capabilities/paging.ts';
import { previousVersion, type JournalChange } from '../capabilities/previous-version.ts';
import { subgraph } from '../capabilities/subgraph.ts';

function v(id: string, dependencies: Record<string, string> = {}): GraphVersion {
  const [name, version] = id.split('@');
  return { name, version, hash: `h:${id}`, dependencies };
}

describe('subgraph', () => {
  // a → b → c → d, a → missing (unresolved), e unrelated
  const g = new Graph(
    [v('a@1.0.0', { b: '^1', missing: '^1' }), v('b@1.0.0', { c: '^1' }), v('c@1.0.0', { d: '^1' }), v('d@1.0.0'), v('e@1.0.0')],
    new Map(['a', 'b', 'c', 'd', 'e'].map((n) => [n, `h:${n}@1.0.0`])),
  );

  it('keeps what the root reaches, and the edges leaving it, unresolved ones included', () => {
    const s = subgraph(g, 'h:a@1.0.0');
    expect(s.nodes.map((n) => n.name).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(s.edges.map((e) => `${e.fromName}->${e.to}:${e.resolved}`).sort()).toEqual(['a->b:1.0.0', 'a->missing:null', 'b->c:1.0.0', 'c->d:1.0.0']);
  });

  it('stops at the depth asked (the root is depth 0)', () => {
    expect(subgraph(g, 'h:a@1.0.0', 0).nodes.map((n) => n.name)).toEqual(['a']);
    expect(subgraph(g, 'h:a@1.0.0', 2).nodes.map((n) => n.name).sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('previousVersion', () => {
  const reg = (name: string, version: string, previous: string | null, activated = true): JournalChange => ({ op: 'register', name, version, previous, activated });

  it('is the version current before the current one became current, newest journal entry first', () => {
    const pages = [[reg('a', '1.2.0', '1.1.0')], [reg('a', '1.1.0', '1.0.0')], [reg('a', '1.0.0', null)]];
    expect(previousVersion(pages, 'a', '1.2.0')).toBe('1.1.0');
    expect(previousVersion(pages, 'a', '1.1.0')).toBe('1.0.0');
    expect(previousVersion(pages, 'a', '1.0.0')).toBeUndefined();
  });

  it('skips other names and versions that were only uploaded', () => {
    const pages = [[reg('b', '2.0.0', '1.0.0'), reg('a', '1.3.0', '1.1.0', false)], [reg('a', '1.1.0', '1.0.0')]];
    expect(previousVersion(pages, 'a', '1.1.0')).toBe('1.0.0');
  });

  it('after a remove, is what was current when it was removed', () => {
    const pages = [[{ op: 'remove', name: 'a', version: null, previous: '1.1.0', activated: false } satisfies JournalChange]];
    expect(previousVersion(pages, 'a', null)).toBe('1.1.0');
  });

  it('reads pages only until it has the answer', () => {
    let read = 0;
    function* pages(): Generator<JournalChange[]> {
      read++;
      yield [reg('a', '1.1.0', '1.0.0')];
      read++;
      yield [reg('a', '1.0.0', null)];
    }
    expect(previousVersion(pages(), 'a', '1.1.0')).toBe('1.0.0');
    expect(read).toBe(1);
  });
});

describe('mapLimit', () => {
  it('keeps input order and never runs more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (n, i) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return `${i}:${n}`;
    });
    expect(out).toEqual(['0:5', '1:1', '2:4', '3:2', '4:3', '5:0']);
    expect(most).toBe(2);
  });

  it('runs at least one lane and handles an empty list', async () => {
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
    expect(await mapLimit([1, 2], 0, async (n) => n * 2)).toEqual([2, 4]);
  });

  it('rejects when a call rejects', async () => {
    await expect(mapLimit([1, 2, 3], 2, async (n) => { if (n === 2) throw new Error('two'); return n; })).rejects.toThrow('two');
  });
});

describe('clampLimit', () => {
  it('defaults, floors and bounds', () => {
    expect(clampLimit(undefined, 50, 1000)).toBe(50);
    expect(clampLimit(7.9, 50, 1000)).toBe(7);
    expect(clampLimit(0, 50, 1000)).toBe(1);
    expect(clampLimit(-3, 50, 1000)).toBe(1);
    expect(clampLimit(5000, 50, 1000)).toBe(1000);
  });
});

describe('the error-type rule for limits', () => {
  it('gives each kind of limit its one type', async () => {
    const { exceeded, LIMIT_ERROR_TYPES } = await import('../capabilities/errors.ts');
    expect(LIMIT_ERROR_TYPES).toEqual({ size: 'PAYLOAD_TOO_LARGE', work: 'OVERLOADED', time: 'TIMEOUT', memory: 'MEMORY_LIMIT', callDepth: 'CALL_DEPTH_EXCEEDED' });
    const e = exceeded('size', 'too big', { what: 'source', limit: 1 });
    expect(e.toWire()).toEqual({ type: 'PAYLOAD_TOO_LARGE', message: 'too big', data: { what: 'source', limit: 1 } });
  });
});
