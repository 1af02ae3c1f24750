// The graph view: graph/get laid out by ELK and drawn as SVG (capabilities with their current
// version, call edges with their ranges, enqueue edges dashed, shared namespaces and the access to
// them), reloaded at every commit event; a selected capability shows capabilities/describe and
// graph/impact, and, for roles that may manage, roll back and remove.

import { useEffect, useState } from 'preact/hooks';
import { canManage } from './rpc.ts';
import { ErrorBox, Json, Source, useSession, when } from './common.tsx';
import { layout, nodeId, type Placed } from './layout.ts';
import type { Describe, Graph, Impact } from './types.ts';

export function GraphView() {
  const { rpc, commits } = useSession();
  const [placed, setPlaced] = useState<Placed | null>(null);
  const [generation, setGeneration] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [selected, setSelected] = useState<string | null>(null);

  useEffect(() => {
    let stale = false;
    rpc
      .call<Graph>('graph/get')
      .then(async (g) => {
        const p = await layout(g);
        if (stale) return;
        setPlaced(p);
        setGeneration(g.generation);
        setError(null);
      })
      .catch((e: unknown) => !stale && setError(e));
    return () => {
      stale = true;
    };
  }, [rpc, commits]);

  return (
    <div class="split">
      <section class="pane graph-pane">
        <h2>
          Graph <span class="muted" data-testid="generation">generation {generation ?? '…'}</span>
        </h2>
        <ErrorBox error={error} />
        {placed ? <GraphSvg placed={placed} selected={selected} onSelect={setSelected} /> : <p class="muted">Loading…</p>}
        <p class="legend muted small">
          <span class="key call" /> depends on (range → resolved) <span class="key enqueue" /> enqueues jobs <span class="key state" /> shared state (r / rw)
        </p>
      </section>
      <aside class="pane detail">{selected ? <Details name={selected} key={`${selected}:${commits}`} /> : <p class="muted">Select a capability to see its manifest, source, dependents and impact.</p>}</aside>
    </div>
  );
}

function GraphSvg({ placed, selected, onSelect }: { placed: Placed; selected: string | null; onSelect: (n: string) => void }) {
  return (
    <svg class="graph" data-testid="graph" width="100%" style={{ maxWidth: `${placed.width}px` }} viewBox={`0 0 ${placed.width} ${placed.height}`} role="img" aria-label="dependency graph">
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
        </marker>
      </defs>
      {placed.edges.map((e, i) => {
        const kind = e.edge.kind === 'state' ? 'state' : e.edge.enqueue ? 'enqueue' : 'call';
        const d = e.points.map((p, j) => `${j ? 'L' : 'M'} ${p.x} ${p.y}`).join(' ');
        return (
          <g key={i} class={`edge ${kind}`} data-testid={`edge-${e.edge.from}-${e.edge.to}`} data-kind={kind}>
            <path d={d} marker-end="url(#arrow)" />
            {e.label ? (
              <text x={e.label.x} y={e.label.y} text-anchor="middle" class="edge-label">
                {e.label.text}
              </text>
            ) : null}
          </g>
        );
      })}
      {placed.nodes.map((n) => {
        const cap = n.node.kind === 'capability';
        return (
          <g
            key={nodeId(n.node)}
            class={`node ${n.node.kind}${selected === n.node.name && cap ? ' selected' : ''}`}
            transform={`translate(${n.x},${n.y})`}
            data-testid={`node-${n.node.name}`}
            onClick={cap ? () => onSelect(n.node.name) : undefined}
          >
            <title>{n.node.kind === 'capability' ? n.node.description : `shared namespace ${n.node.name}`}</title>
            <rect width={n.width} height={n.height} rx={cap ? 6 : 20} />
            <text x={n.width / 2} y={19} text-anchor="middle" class="node-name">
              {cap ? n.node.name : `◆ ${n.node.name}`}
            </text>
            <text x={n.width / 2} y={35} text-anchor="middle" class="node-sub">
              {n.node.kind === 'capability' ? `v${n.node.version}` : 'shared namespace'}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

function Details({ name }: { name: string }) {
  const { rpc, principal } = useSession();
  const [d, setD] = useState<Describe | null>(null);
  const [impact, setImpact] = useState<Impact | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [action, setAction] = useState<{ ok?: string; error?: unknown } | null>(null);
  const [confirmRemove, setConfirmRemove] = useState(false);

  useEffect(() => {
    Promise.all([rpc.call<Describe>('capabilities/describe', { name }), rpc.call<Impact>('graph/impact', { name })])
      .then(([desc, imp]) => {
        setD(desc);
        setImpact(imp);
      })
      .catch(setError);
  }, [rpc, name]);

  const run = (method: string, params: object, done: string) => {
    setAction(null);
    rpc.call(method, params).then(
      () => setAction({ ok: done }),
      (e: unknown) => setAction({ error: e }),
    );
  };

  if (error) return <ErrorBox error={error} />;
  if (!d) return <p class="muted">Loading {name}…</p>;
  return (
    <div data-testid="details">
      <h2>
        {d.name} <span class="version">v{d.version}</span>
      </h2>
      <p class="muted small">
        {d.manifest.description} · owner {d.owner} · registered {when(d.createdAt)} · <code title={d.hash}>{d.hash.slice(0, 12)}</code>
      </p>
      {canManage(principal) ? (
        <div class="actions" data-testid="manage-actions">
          <button type="button" onClick={() => run('capabilities/rollback', { name }, `${name} rolled back`)} data-testid="rollback">
            Roll back
          </button>
          {confirmRemove ? (
            <button type="button" class="danger" onClick={() => run('capabilities/remove', { name }, `${name} removed`)} data-testid="remove-confirm">
              Remove {name}: confirm
            </button>
          ) : (
            <button type="button" onClick={() => setConfirmRemove(true)} data-testid="remove">
              Remove…
            </button>
          )}
          {action?.ok ? <span class="ok">{action.ok}</span> : null}
          <ErrorBox error={action?.error} />
        </div>
      ) : null}
      <h3>Dependencies</h3>
      <ul class="plain">
        {d.dependencies.length ? d.dependencies.map((x) => <li key={x.name}>{x.name} <span class="muted">{x.range} → {x.resolved ?? 'unresolved'}</span></li>) : <li class="muted">none</li>}
      </ul>
      <h3>Dependents</h3>
      <ul class="plain" data-testid="dependents">
        {d.dependents.length ? d.dependents.map((x) => <li key={x}>{x}</li>) : <li class="muted">none</li>}
      </ul>
      <h3>Tests</h3>
      <ul class="plain">{(d.manifest.tests ?? []).length ? (d.manifest.tests ?? []).map((t) => <li key={t.name}>{t.name}</li>) : <li class="muted">none</li>}</ul>
      <h3>Impact of a change</h3>
      {impact ? (
        <div data-testid="impact">
          <p class="small">
            Touches {impact.dependents.length ? impact.dependents.join(', ') : 'no other capability'}; gated by {impact.tests.length} test{impact.tests.length === 1 ? '' : 's'}:
          </p>
          <ul class="plain small">
            {impact.tests.map((t) => (
              <li key={`${t.capability}/${t.test}`}>
                {t.capability}@{t.version}: {t.test}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <h3>Manifest</h3>
      <Json value={d.manifest} testId="manifest" />
      <h3>Source</h3>
      <Source code={d.source} language={d.language} />
    </div>
  );
}
