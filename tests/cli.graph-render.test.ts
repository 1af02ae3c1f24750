// The graph renderers on a hand-made GraphResult: tree (box drawing, ranges → resolved versions,
// state namespaces), Graphviz (accepted by `dot -Tsvg` when installed) and Mermaid (structure).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import type { GraphResult } from '../kernel/api.ts';
import { renderDot, renderMermaid, renderTree } from '../cli/graph-render.ts';

const graph: GraphResult = {
  generation: 12,
  nodes: [
    { kind: 'capability', name: 'text.report', version: '1.0.0', current: true, description: 'Word count, "top" words \\ total' },
    { kind: 'capability', name: 'text.wordcount', version: '1.2.0', current: true, description: 'Counts words' },
    { kind: 'capability', name: 'text.frequency', version: '1.0.0', current: true, description: '' },
    { kind: 'capability', name: 'text.tokenize', version: '1.1.0', current: true, description: 'Splits' },
    { kind: 'capability', name: 'text.tokenize', version: '0.9.0', current: false, description: 'Old splitter' },
    { kind: 'capability', name: 'legacy-tool.old', version: '0.1.0', current: true, description: 'end' },
    { kind: 'namespace', name: 'shared:text.stats', version: null },
    { kind: 'namespace', name: 'text.wordcount', version: null },
  ],
  edges: [
    { kind: 'call', from: 'text.report', fromVersion: '1.0.0', to: 'text.wordcount', range: '^1.0.0', resolved: '1.2.0' },
    { kind: 'call', from: 'text.report', fromVersion: '1.0.0', to: 'text.frequency', range: '^1.0.0', resolved: '1.0.0' },
    { kind: 'call', from: 'text.wordcount', fromVersion: '1.2.0', to: 'text.tokenize', range: '^1.0.0', resolved: '1.1.0' },
    { kind: 'call', from: 'text.frequency', fromVersion: '1.0.0', to: 'text.tokenize', range: '>=1.1.0 <2', resolved: '1.1.0' },
    { kind: 'call', from: 'legacy-tool.old', fromVersion: '0.1.0', to: 'text.tokenize', range: '~0.9.0', resolved: '0.9.0' },
    { kind: 'call', from: 'legacy-tool.old', fromVersion: '0.1.0', to: 'text.missing', range: '^2.0.0', resolved: null },
    { kind: 'state', from: 'text.wordcount', fromVersion: '1.2.0', to: 'shared:text.stats', access: 'rw', range: null, resolved: null },
    { kind: 'state', from: 'text.wordcount', fromVersion: '1.2.0', to: 'text.wordcount', access: 'rw', range: null, resolved: null },
    { kind: 'state', from: 'text.report', fromVersion: '1.0.0', to: 'shared:text.stats', access: 'r', range: null, resolved: null },
  ],
};

describe('renderTree', () => {
  it('draws every root with box drawing, ranges → resolved versions and state access', () => {
    expect(renderTree(graph)).toBe(
      [
        'legacy-tool.old@0.1.0  end',
        '├── text.missing  ^2.0.0 → unresolved',
        '└── text.tokenize@0.9.0 (not current)  ~0.9.0 → 0.9.0',
        'text.report@1.0.0  Word count, "top" words \\ total',
        '├── text.frequency@1.0.0  ^1.0.0 → 1.0.0',
        '│   └── text.tokenize@1.1.0  >=1.1.0 <2 → 1.1.0',
        '├── text.wordcount@1.2.0  ^1.0.0 → 1.2.0',
        '│   ├── text.tokenize@1.1.0  ^1.0.0 → 1.1.0',
        '│   ├── shared:text.stats  rw',
        '│   └── text.wordcount (state)  rw',
        '└── shared:text.stats  r',
      ].join('\n'),
    );
  });

  it('starts at the root asked for', () => {
    const out = renderTree(graph, { root: 'text.wordcount' });
    expect(out.split('\n')[0]).toBe('text.wordcount@1.2.0  Counts words');
    expect(out).not.toContain('text.report');
  });

  it('says when a subtree was already drawn instead of repeating it', () => {
    const g: GraphResult = {
      generation: 1,
      nodes: ['a', 'b', 'c', 'd'].map((n) => ({ kind: 'capability' as const, name: n, version: '1.0.0', current: true, description: '' })),
      edges: [
        { kind: 'call', from: 'a', fromVersion: '1.0.0', to: 'b', range: '^1', resolved: '1.0.0' },
        { kind: 'call', from: 'a', fromVersion: '1.0.0', to: 'c', range: '^1', resolved: '1.0.0' },
        { kind: 'call', from: 'b', fromVersion: '1.0.0', to: 'd', range: '^1', resolved: '1.0.0' },
        { kind: 'call', from: 'c', fromVersion: '1.0.0', to: 'b', range: '^1', resolved: '1.0.0' },
      ],
    };
    const out = renderTree(g);
    expect(out.match(/d@1\.0\.0/g)).toHaveLength(1);
    expect(out).toContain('b@1.0.0  ^1 → 1.0.0 (dependencies shown above)');
  });

  it('says so when the graph is empty', () => {
    expect(renderTree({ generation: 0, nodes: [], edges: [] })).toBe('(no capabilities)');
  });
});

describe('renderDot', () => {
  const dot = renderDot(graph);

  it('is a digraph with quoted ids, escaped labels and every edge', () => {
    expect(dot.startsWith('digraph substrate {')).toBe(true);
    expect(dot.trimEnd().endsWith('}')).toBe(true);
    expect(dot).toContain('"text.report@1.0.0" -> "text.wordcount@1.2.0" [label="^1.0.0 → 1.2.0"]');
    expect(dot).toContain('"text.wordcount@1.2.0" -> "shared:text.stats" [label="rw", style=dashed, arrowhead=odot]');
    expect(dot).toContain('tooltip="Word count, \\"top\\" words \\\\ total"');
    expect(dot).toMatch(/"text.missing \(unresolved\)" \[label="text.missing \(unresolved\)", color=red/);
    expect(dot.match(/ -> /g)).toHaveLength(graph.edges.length);
  });

  // Graphviz is required (.ci/run installs it from Debian's packages): no silent skip.
  it('is accepted by Graphviz (dot -Tsvg)', () => {
    expect(spawnSync('dot', ['-V']).status, 'Graphviz `dot` is not installed (apt-get install graphviz)').toBe(0);
    const r = spawnSync('dot', ['-Tsvg'], { input: dot, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('<svg');
    expect(r.stdout).toContain('text.wordcount');
  });
});

describe('renderMermaid', () => {
  const text = renderMermaid(graph);
  const lines = text.trimEnd().split('\n');
  const nodeLine = /^ {2}([A-Za-z0-9_]+)(\["[^"]*"\]|\[\("[^"]*"\)\])$/;
  const edgeLine = /^ {2}([A-Za-z0-9_]+) -->\|"[^"]*"\| ([A-Za-z0-9_]+)$/;
  const classLine = /^ {2}(classDef [A-Za-z]+ .+|class [A-Za-z0-9_,]+ [A-Za-z]+)$/;

  it("is accepted by Mermaid's own parser as a flowchart", async () => {
    // Mermaid sanitizes labels with DOMPurify, which needs a DOM: give it jsdom's.
    const { JSDOM } = await import('jsdom');
    const dom = new JSDOM('<!doctype html><html><body></body></html>');
    Object.assign(globalThis, { window: dom.window, document: dom.window.document });
    const { default: mermaid } = await import('mermaid');
    await expect(mermaid.parse(text)).resolves.toMatchObject({ diagramType: 'flowchart-v2' });
    // And the parser does refuse a broken one, so the check above means something.
    await expect(mermaid.parse('flowchart LR\n  a -->|x| ')).rejects.toThrow(/Parse error/);
  });

  it('is a flowchart whose every line is a node, an edge or a class', () => {
    expect(lines[0]).toBe('flowchart LR');
    for (const l of lines.slice(1)) {
      expect(nodeLine.test(l) || edgeLine.test(l) || classLine.test(l), `unexpected line: ${l}`).toBe(true);
    }
  });

  it('declares every edge end, with unique, safe ids', () => {
    const ids = lines.map((l) => nodeLine.exec(l)?.[1]).filter((x): x is string => !!x);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(['end', 'graph', 'subgraph', 'flowchart', 'class', 'style']).not.toContain(id);
    const edges = lines.map((l) => edgeLine.exec(l)).filter((m): m is RegExpExecArray => !!m);
    expect(edges).toHaveLength(graph.edges.length);
    for (const m of edges) {
      expect(ids).toContain(m[1]);
      expect(ids).toContain(m[2]);
    }
  });

  it('labels nodes with name@version and edges with range → resolved', () => {
    expect(text).toContain('["text.tokenize@0.9.0"]');
    expect(text).toContain('[("shared:text.stats")]');
    expect(text).toContain('-->|"~0.9.0 → 0.9.0"|');
    expect(text).toContain('-->|"^2.0.0 → unresolved"|');
  });

  it('keeps ids distinct when names differ only in punctuation', () => {
    const g: GraphResult = {
      generation: 1,
      nodes: [
        { kind: 'capability', name: 'a-b', version: '1.0.0', current: true, description: '' },
        { kind: 'capability', name: 'a.b', version: '1.0.0', current: true, description: '' },
      ],
      edges: [],
    };
    const ids = renderMermaid(g)
      .split('\n')
      .map((l) => nodeLine.exec(l)?.[1])
      .filter(Boolean);
    expect(new Set(ids).size).toBe(2);
  });
});
