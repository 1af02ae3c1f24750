// The register view, offered to roles that may manage (operator, agent): a capability's source
// pasted and sent with capabilities/register (gated as always: a failing test comes back as
// GATE_FAILED with the details).

import { useState } from 'preact/hooks';
import { ErrorBox, Json, useSession } from './common.tsx';

const TEMPLATE = `export const manifest = {
  name: 'demo.hello',
  version: '1.0.0',
  description: 'Greets',
  inputSchema: { type: 'object', properties: { who: { type: 'string' } }, required: ['who'] },
  tests: [{ name: 'greets', input: { who: 'Ada' }, expect: { text: 'hello Ada' } }],
};

export default async function (input) {
  return { text: \`hello \${input.who}\` };
}
`;

export function RegisterView() {
  const { rpc } = useSession();
  const [source, setSource] = useState(TEMPLATE);
  const [language, setLanguage] = useState<'js' | 'ts'>('js');
  const [activate, setActivate] = useState(true);
  const [result, setResult] = useState<unknown>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setResult(null);
    setError(null);
    try {
      setResult(await rpc.call('capabilities/register', { source, language, activate }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="pane">
      <h2>Register a version</h2>
      <form onSubmit={submit} class="stack">
        <textarea class="code" rows={18} spellcheck={false} value={source} onInput={(e) => setSource(e.currentTarget.value)} data-testid="register-source" />
        <div class="row">
          <label>
            Language{' '}
            <select value={language} onChange={(e) => setLanguage(e.currentTarget.value as 'js' | 'ts')}>
              <option value="js">JavaScript</option>
              <option value="ts">TypeScript</option>
            </select>
          </label>
          <label>
            <input type="checkbox" checked={activate} onChange={(e) => setActivate(e.currentTarget.checked)} /> make it current (gated)
          </label>
          <button type="submit" disabled={busy} data-testid="register">
            {busy ? 'Registering…' : 'Register'}
          </button>
        </div>
      </form>
      {result ? <Json value={result} testId="register-result" /> : null}
      <ErrorBox error={error} />
    </section>
  );
}
