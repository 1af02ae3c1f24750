// The invoke view: a capability picked from capabilities/list, its input written as JSON in a
// textarea (parsed and checked against the manifest's inputSchema as it is typed: schema.ts), sent
// with capabilities/invoke; shows the output, the version that ran and its duration, or the typed
// error, and, for roles that may read logs, the lines that invocation logged.

import { useEffect, useMemo, useState } from 'preact/hooks';
import { canManage } from './rpc.ts';
import { ErrorBox, Json, useSession } from './common.tsx';
import { check, skeleton } from './schema.ts';
import type { Describe, InvokeResult, ListItem, LogLine } from './types.ts';

export function InvokeView() {
  const { rpc, principal, commits } = useSession();
  const [caps, setCaps] = useState<ListItem[]>([]);
  const [name, setName] = useState<string>(() => decodeURIComponent(location.hash.split('/')[1] ?? ''));
  const [desc, setDesc] = useState<Describe | null>(null);
  const [text, setText] = useState('{}');
  const [result, setResult] = useState<InvokeResult | null>(null);
  const [logs, setLogs] = useState<LogLine[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  // Each effect drops an answer that arrives after a newer request of its kind was made (a slow
  // list or describe must not undo a later selection).
  useEffect(() => {
    let stale = false;
    rpc
      .call<{ items: ListItem[] }>('capabilities/list', { limit: 500 })
      .then((r) => {
        if (stale) return;
        const current = r.items.filter((c) => c.current);
        setCaps(current);
        setName((n) => (n && current.some((c) => c.name === n) ? n : (current[0]?.name ?? '')));
      })
      .catch((e: unknown) => stale || setError(e));
    return () => {
      stale = true;
    };
  }, [rpc, commits]);

  useEffect(() => {
    if (!name) return;
    let stale = false;
    rpc
      .call<Describe>('capabilities/describe', { name })
      .then((d) => {
        if (stale) return;
        setDesc(d);
        const example = d.manifest.tests?.find((t) => t.input !== undefined)?.input;
        setText(JSON.stringify(example ?? skeleton(d.manifest.inputSchema), null, 2));
      })
      .catch((e: unknown) => stale || setError(e));
    return () => {
      stale = true;
    };
  }, [rpc, name]);

  const parsed = useMemo((): { ok: true; value: unknown } | { ok: false; message: string } => {
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (e) {
      return { ok: false, message: e instanceof Error ? e.message : String(e) };
    }
  }, [text]);
  const problems = parsed.ok ? check(parsed.value, desc?.manifest.inputSchema) : [];

  const invoke = async (e: Event) => {
    e.preventDefault();
    if (!parsed.ok) return;
    setBusy(true);
    setResult(null);
    setError(null);
    setLogs([]);
    let invocationId: string | undefined;
    try {
      const r = await rpc.call<InvokeResult>('capabilities/invoke', { name, input: parsed.value });
      invocationId = r.invocationId;
      setResult(r);
    } catch (err) {
      setError(err);
      invocationId = ((err as { data?: { invocationId?: string } }).data ?? {}).invocationId;
    } finally {
      setBusy(false);
    }
    if (canManage(principal)) {
      const recent = await rpc.call<{ items: LogLine[] }>('logs/recent', { name, limit: 100 }).catch(() => ({ items: [] as LogLine[] }));
      setLogs(invocationId ? recent.items.filter((l) => l.invocationId === invocationId) : []);
    }
  };

  return (
    <div class="split">
      <section class="pane">
        <h2>Invoke</h2>
        <form onSubmit={invoke} class="stack">
          <label>
            Capability{' '}
            <select value={name} onChange={(e) => setName(e.currentTarget.value)} data-testid="invoke-name">
              {caps.map((c) => (
                <option key={c.name} value={c.name}>
                  {c.name} (v{c.current})
                </option>
              ))}
            </select>
          </label>
          {desc?.manifest.inputSchema ? (
            <details>
              <summary class="small">input schema</summary>
              <Json value={desc.manifest.inputSchema} />
            </details>
          ) : null}
          <label>
            Input (JSON)
            <textarea class="code" rows={10} spellcheck={false} value={text} onInput={(e) => setText(e.currentTarget.value)} data-testid="invoke-input" />
          </label>
          {!parsed.ok ? <p class="warn" data-testid="invoke-invalid">Not JSON: {parsed.message}</p> : null}
          {problems.length ? (
            <ul class="warn small" data-testid="invoke-schema-problems">
              {problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          ) : null}
          <button type="submit" disabled={busy || !parsed.ok || !name} data-testid="invoke">
            {busy ? 'Running…' : 'Invoke'}
          </button>
        </form>
      </section>
      <aside class="pane detail">
        {result ? (
          <div data-testid="invoke-result">
            <h3>Output</h3>
            <p class="muted small" data-testid="invoke-meta">
              {result.name} v{result.version} · generation {result.generation} · <span data-testid="duration">{result.durationMs.toFixed(1)} ms</span> · {result.invocationId}
            </p>
            <Json value={result.output} testId="invoke-output" />
          </div>
        ) : null}
        <ErrorBox error={error} testId="invoke-error" />
        {logs.length ? (
          <div>
            <h3>Logs</h3>
            <ul class="plain logs" data-testid="invoke-logs">
              {logs.map((l, i) => (
                <li key={i}>
                  <span class={`level level-${l.level}`}>{l.level}</span> {l.message}
                </li>
              ))}
            </ul>
          </div>
        ) : null}
        {!result && !error ? <p class="muted">The output, or the typed error, appears here.</p> : null}
      </aside>
    </div>
  );
}
