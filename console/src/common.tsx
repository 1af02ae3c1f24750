// Small pieces every view uses: the typed error box, pretty JSON, highlighted source, and the
// context that carries the connection, the caller and the count of commits seen.

import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import hljs from 'highlight.js/lib/core';
import javascript from 'highlight.js/lib/languages/javascript';
import typescript from 'highlight.js/lib/languages/typescript';
import 'highlight.js/styles/github.css';
import { RpcError, type Principal, type Rpc } from './rpc.ts';

hljs.registerLanguage('javascript', javascript);
hljs.registerLanguage('typescript', typescript);

export interface Session {
  rpc: Rpc;
  principal: Principal;
  /** Grows at every commit event (capability.*): views that show the graph reload on it. */
  commits: number;
  /** Grows at every event of any type: the live view reloads on it. */
  events: number;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('no session');
  return s;
}

/** A failure as the kernel typed it: its type, message and data. */
export function ErrorBox({ error, testId = 'error' }: { error: unknown; testId?: string }) {
  if (!error) return null;
  const e = error instanceof RpcError ? error : undefined;
  return (
    <div class="error" data-testid={testId} role="alert">
      <strong class="error-type">{e?.type ?? (e ? `JSON-RPC ${e.code}` : 'Error')}</strong> <span class="error-message">{error instanceof Error ? error.message : String(error)}</span>
      {e?.data !== undefined && Object.keys(e.data as object).length > 1 ? <pre class="json">{JSON.stringify(e.data, null, 2)}</pre> : null}
    </div>
  );
}

export function Json({ value, testId }: { value: unknown; testId?: string }) {
  return (
    <pre class="json" data-testid={testId}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

export function Source({ code, language }: { code: string; language: 'js' | 'ts' }) {
  // highlight.js escapes the text it is given; its output is markup of spans only.
  const html = hljs.highlight(code, { language: language === 'ts' ? 'typescript' : 'javascript' }).value;
  return (
    <pre class="source hljs" data-testid="source">
      <code dangerouslySetInnerHTML={{ __html: html }} />
    </pre>
  );
}

export function when(at: string): string {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? at : d.toLocaleString();
}
