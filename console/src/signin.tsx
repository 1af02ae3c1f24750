// The sign-in view: a token pasted once (an operator's from <data>/operator.token, or one made by
// `substrate token create`), kept in this tab's sessionStorage.

import { useState } from 'preact/hooks';

export function SignIn({ onSubmit, error }: { onSubmit: (token: string) => Promise<void>; error: string | null }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="signin"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        await onSubmit(token.trim());
        setBusy(false);
      }}
    >
      <h1>Substrate console</h1>
      <p class="muted">Paste a token. It stays in this tab (session storage) and goes to the kernel only over its WebSocket.</p>
      <label>
        Token
        <input type="password" autocomplete="off" spellcheck={false} placeholder="sbt_…" value={token} onInput={(e) => setToken(e.currentTarget.value)} data-testid="token" />
      </label>
      <button type="submit" disabled={busy || token.trim() === ''} data-testid="sign-in">
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
      {error ? (
        <p class="error" role="alert" data-testid="signin-error">
          {error}
        </p>
      ) : null}
      <p class="muted small">
        The operator token of a kernel is in <code>&lt;data&gt;/operator.token</code>; <code>substrate token create --role client --name dashboard</code> makes a read-and-invoke one.
      </p>
    </form>
  );
}
