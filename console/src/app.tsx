// The console's shell: sign-in, the connection's life (events, a close that ends the session) and
// the navigation between the views. The token is kept in sessionStorage only (this tab, until it
// closes) and sent only as the WebSocket subprotocol; the caller's role comes from kernel/info, and
// the views offer only what that role may do.

import { useCallback, useEffect, useState } from 'preact/hooks';
import { Rpc, canManage, type Principal } from './rpc.ts';
import { SessionContext, type Session } from './common.tsx';
import { SignIn } from './signin.tsx';
import { GraphView } from './graph-view.tsx';
import { HistoryView } from './history-view.tsx';
import { InvokeView } from './invoke-view.tsx';
import { LiveView } from './live-view.tsx';
import { RegisterView } from './register-view.tsx';

const TOKEN_KEY = 'substrate.token';
const COMMIT_EVENTS = ['capability.registered', 'capability.activated', 'capability.removed', 'capability.rolledBack'];
const OTHER_EVENTS = ['job.succeeded', 'job.failed', 'job.dead', 'rollout.step', 'rollout.promoted', 'rollout.aborted'];

type View = 'graph' | 'history' | 'invoke' | 'live' | 'register';

interface Connected {
  rpc: Rpc;
  principal: Principal;
}

export function App() {
  const [conn, setConn] = useState<Connected | null>(null);
  const [signInError, setSignInError] = useState<string | null>(null);
  const [restoring, setRestoring] = useState(() => sessionStorage.getItem(TOKEN_KEY) !== null);
  const [view, setView] = useState<View>(() => viewOf(location.hash));
  const [commits, setCommits] = useState(0);
  const [events, setEvents] = useState(0);

  const signIn = useCallback(async (token: string) => {
    setSignInError(null);
    try {
      const rpc = await Rpc.connect(token);
      const info = await rpc.call<{ principal?: Principal }>('kernel/info');
      if (!info.principal) throw new Error('this kernel does not say who the caller is (kernel/info has no principal): upgrade it');
      sessionStorage.setItem(TOKEN_KEY, token);
      rpc.onClose = (code, reason) => {
        setConn(null);
        sessionStorage.removeItem(TOKEN_KEY);
        setSignInError(code === 4001 ? 'Signed out: the token was revoked.' : `The connection to the kernel closed (${code}${reason ? `: ${reason}` : ''}). Sign in again.`);
      };
      rpc.onEvent((e) => {
        setEvents((n) => n + 1);
        if (COMMIT_EVENTS.includes(e.type)) setCommits((n) => n + 1);
      });
      // Every event this role may read; a kernel without job or rollout events gets the commits.
      const types = [...COMMIT_EVENTS, ...(canManage(info.principal) ? ['log'] : []), ...OTHER_EVENTS];
      await rpc.call('events/subscribe', { types }).catch(() => rpc.call('events/subscribe', { types: COMMIT_EVENTS }));
      setConn({ rpc, principal: info.principal });
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      setSignInError(e instanceof Error ? e.message : String(e));
    } finally {
      setRestoring(false);
    }
  }, []);

  useEffect(() => {
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) void signIn(saved);
  }, [signIn]);

  useEffect(() => {
    const onHash = () => setView(viewOf(location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  const signOut = () => {
    conn?.rpc.close();
    sessionStorage.removeItem(TOKEN_KEY);
    setConn(null);
  };

  if (!conn) return restoring ? <p class="muted center">Connecting…</p> : <SignIn onSubmit={signIn} error={signInError} />;

  const session: Session = { ...conn, commits, events };
  const manage = canManage(conn.principal);
  const tabs: [View, string][] = [
    ['graph', 'Graph'],
    ['history', 'History'],
    ['invoke', 'Invoke'],
    ['live', 'Live'],
    ...(manage ? ([['register', 'Register']] as [View, string][]) : []),
  ];
  const shown: View = view === 'register' && !manage ? 'graph' : view;
  return (
    <SessionContext.Provider value={session}>
      <header class="top">
        <span class="brand">Substrate</span>
        <nav>
          {tabs.map(([v, label]) => (
            <a key={v} href={`#${v}`} class={v === shown ? 'tab active' : 'tab'} data-testid={`tab-${v}`}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who" data-testid="principal">
          {conn.principal.name} <span class={`role role-${conn.principal.role}`}>{conn.principal.role}</span>
        </span>
        <button type="button" class="link" onClick={signOut} data-testid="sign-out">
          Sign out
        </button>
      </header>
      <main>
        {shown === 'graph' && <GraphView />}
        {shown === 'history' && <HistoryView />}
        {shown === 'invoke' && <InvokeView />}
        {shown === 'live' && <LiveView />}
        {shown === 'register' && <RegisterView />}
      </main>
    </SessionContext.Provider>
  );
}

function viewOf(hash: string): View {
  const v = hash.replace(/^#/, '').split('/')[0];
  return v === 'history' || v === 'invoke' || v === 'live' || v === 'register' ? v : 'graph';
}
