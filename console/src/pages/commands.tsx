/** Commands: fleet-wide search of the command log, each linked to its moment in the replay. */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, query } from '../api';
import { clock, offset, visible } from '../format';
import { Link } from '../router';
import type { CommandEntry } from '../types';

/** The text box searches literally; the API's `grep` is a regular expression. */
const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const ms = (local: string) => (local ? String(new Date(local).getTime()) : undefined);

export function CommandsPage(): JSX.Element {
  const [f, setF] = useState({ user: '', asset: '', text: '', since: '', until: '', limit: '200' });
  const [rows, setRows] = useState<CommandEntry[] | undefined>(undefined);
  const [error, setError] = useState('');

  const load = async () => {
    setError('');
    try {
      const q = query({ user: f.user, asset: f.asset, grep: f.text ? literal(f.text) : undefined, since: ms(f.since), until: ms(f.until), limit: f.limit });
      setRows((await api<{ commands: CommandEntry[] }>(`/api/commands${q}`)).commands);
    } catch (err) {
      setError(err instanceof ApiError ? `${err.code}: ${err.message}` : 'cannot search the commands');
    }
  };
  useEffect(() => void load(), []);

  const field = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  return (
    <section aria-labelledby="commands-title">
      <h1 id="commands-title">Commands</h1>
      <form class="filters" onSubmit={(e) => { e.preventDefault(); void load(); }}>
        <label>User<input name="user" maxLength={64} value={f.user} onInput={field('user')} /></label>
        <label>Asset<input name="asset" maxLength={64} value={f.asset} onInput={field('asset')} /></label>
        <label>Text<input name="text" maxLength={150} value={f.text} onInput={field('text')} /></label>
        <label>From<input name="since" type="datetime-local" value={f.since} onInput={field('since')} /></label>
        <label>To<input name="until" type="datetime-local" value={f.until} onInput={field('until')} /></label>
        <label>Limit<input name="limit" type="number" min={1} max={1000} value={f.limit} onInput={field('limit')} /></label>
        <button type="submit">Search</button>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      {rows && (
        <div class="scroll">
          <table data-testid="commands-table">
            <thead>
              <tr><th>Time</th><th>User</th><th>Asset</th><th>Account</th><th>Command</th><th>Tag</th><th>Replay</th></tr>
            </thead>
            <tbody>
              {rows.length === 0 && (
                <tr><td colSpan={7} class="empty">No commands match.</td></tr>
              )}
              {rows.map((c) => (
                <tr key={`${c.session}-${c.at}-${c.offset}`} class={c.tag === 'denied' ? 'warn' : ''}>
                  <td>{clock(c.at)}</td>
                  <td>{visible(c.user, 64)}</td>
                  <td>{visible(c.asset, 64)}</td>
                  <td>{visible(c.account, 64)}</td>
                  <td><code>{visible(c.command, 1024)}</code></td>
                  <td>{c.tag ?? ''}</td>
                  <td>
                    <Link href={`/sessions/${c.session}?channel=${c.channel ?? 1}&t=${c.offset}`}>at {offset(c.offset)}</Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
