/** Sign in: admin name and password; the API sets the session cookie and returns the CSRF token. */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import type { Me } from '../types';

export function LoginPage({ onSignedIn }: { onSignedIn: (m: Me) => void }): JSX.Element {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const r = await api<{ name: string; role: Me['role']; csrfToken: string }>('/api/login', { method: 'POST', body: { name, password } });
      onSignedIn({ name: r.name, role: r.role, via: 'session', csrfToken: r.csrfToken });
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Cannot reach the admin API');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login" id="main">
      <h1>Warden console</h1>
      <form onSubmit={submit} aria-describedby="login-error">
        <label>
          Admin name
          <input name="name" autoComplete="username" required maxLength={64} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required maxLength={1024} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <p id="login-error" class="error" role="alert">
          {error}
        </p>
      </form>
    </main>
  );
}
