// The history view: capabilities/history (the journal) as a timeline, newest first, reloaded at
// every commit event; selecting a change of a version shows its source diffed (jsdiff, by line)
// against the version that was current before it.

import { useEffect, useState } from 'preact/hooks';
import { diffLines, type Change as DiffPart } from 'diff';
import { ErrorBox, useSession, when } from './common.tsx';
import type { Change, Describe, HistoryItem } from './types.ts';

interface Picked {
  generation: number;
  change: Change;
}

export function HistoryView() {
  const { rpc, commits } = useSession();
  const [items, setItems] = useState<HistoryItem[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [picked, setPicked] = useState<Picked | null>(null);

  useEffect(() => {
    rpc
      .call<{ items: HistoryItem[] }>('capabilities/history', { limit: 100 })
      .then((r) => {
        setItems(r.items);
        setError(null);
      })
      .catch(setError);
  }, [rpc, commits]);

  return (
    <div class="split">
      <section class="pane timeline-pane">
        <h2>History</h2>
        <ErrorBox error={error} />
        {items === null ? <p class="muted">Loading…</p> : null}
        <ol class="timeline" data-testid="timeline">
          {(items ?? []).map((it) => (
            <li key={it.generation} data-testid={`generation-${it.generation}`}>
              <div class="when">
                <strong>generation {it.generation}</strong> <span class="muted small">{when(it.at)} · {it.principal}</span>
              </div>
              <ul class="plain">
                {it.changes.map((c, i) => {
                  const active = picked?.generation === it.generation && picked.change === c;
                  return (
                    <li key={i}>
                      <button
                        type="button"
                        class={active ? 'change active' : 'change'}
                        disabled={!c.version}
                        onClick={() => setPicked({ generation: it.generation, change: c })}
                        data-testid={`change-${c.name}-${c.version ?? 'none'}`}
                      >
                        <span class={`op op-${c.op}`}>{c.op}</span> {c.name}
                        {c.version ? ` v${c.version}` : ''}
                        {c.previous ? <span class="muted"> (was v{c.previous})</span> : null}
                        {c.op === 'register' && !c.activated ? <span class="muted"> · not activated</span> : null}
                      </button>
                    </li>
                  );
                })}
              </ul>
            </li>
          ))}
        </ol>
      </section>
      <aside class="pane detail">{picked ? <VersionDiff key={`${picked.generation}:${picked.change.name}`} change={picked.change} /> : <p class="muted">Select a change to see its source against the version before it.</p>}</aside>
    </div>
  );
}

function VersionDiff({ change }: { change: Change }) {
  const { rpc } = useSession();
  const [parts, setParts] = useState<DiffPart[] | null>(null);
  const [before, setBefore] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const { name, version, previous } = change;
    if (!version) return;
    const against = previous && previous !== version ? previous : null;
    Promise.all([rpc.call<Describe>('capabilities/describe', { name, version }), against ? rpc.call<Describe>('capabilities/describe', { name, version: against }) : Promise.resolve(null)])
      .then(([cur, prev]) => {
        setBefore(prev ? prev.version : null);
        setParts(diffLines(prev?.source ?? '', cur.source));
      })
      .catch(setError);
  }, [rpc, change]);

  if (error) return <ErrorBox error={error} />;
  if (!parts) return <p class="muted">Loading…</p>;
  return (
    <div>
      <h2>
        {change.name} <span class="version">v{change.version}</span>
      </h2>
      <p class="muted small">{before ? `Against v${before}, the version current before this change.` : 'The first version: every line is new.'}</p>
      <pre class="diff" data-testid="diff">
        {parts.flatMap((p, i) =>
          splitLines(p.value).map((line, j) => (
            <div key={`${i}.${j}`} class={p.added ? 'line add' : p.removed ? 'line del' : 'line'}>
              <span class="sign">{p.added ? '+' : p.removed ? '-' : ' '}</span>
              {line}
            </div>
          )),
        )}
      </pre>
    </div>
  );
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}
