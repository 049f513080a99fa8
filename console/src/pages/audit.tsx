/** Audit: the fleet's audit events (GET /api/audit), filterable; also the table the session page uses. */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, query } from '../api';
import { clock, visible } from '../format';
import { Link } from '../router';
import type { AuditEntry } from '../types';

const SHOWN_APART = new Set(['at', 'instance', 'event', 'session', 'msg', 'level', 'time', 'audit', 'pid', 'hostname']);

/** The other fields of an event, as `key=value` text. */
function details(e: AuditEntry): string {
  return Object.entries(e)
    .filter(([k]) => !SHOWN_APART.has(k))
    .map(([k, v]) => `${visible(k, 40)}=${visible(typeof v === 'object' ? JSON.stringify(v) : v, 300)}`)
    .join('  ');
}

export function AuditTable({ events }: { events: AuditEntry[] }): JSX.Element {
  return (
    <div class="scroll">
      <table class="audit" data-testid="audit-table">
        <thead>
          <tr><th>Time</th><th>Instance</th><th>Event</th><th>Session</th><th>Details</th></tr>
        </thead>
        <tbody>
          {events.length === 0 && (
            <tr><td colSpan={5} class="empty">No events.</td></tr>
          )}
          {events.map((e, i) => (
            <tr key={`${e.at}-${i}`} class={/denied|fail|mismatch|refus|kill/.test(e.event) ? 'warn' : ''}>
              <td>{clock(e.at)}</td>
              <td>{visible(e.instance, 64)}</td>
              <td>{visible(e.event, 64)}</td>
              <td>{typeof e.session === 'string' && /^[0-9A-Z]{26}$/.test(e.session) ? <Link href={`/sessions/${e.session}`}>{e.session.slice(0, 10)}…</Link> : ''}</td>
              <td class="details">{details(e)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function AuditPage(): JSX.Element {
  const [filters, setFilters] = useState({ user: '', session: '', event: '', since: '', limit: '200' });
  const [events, setEvents] = useState<AuditEntry[] | undefined>(undefined);
  const [error, setError] = useState('');

  const load = async () => {
    setError('');
    try {
      const since = filters.since ? String(new Date(filters.since).getTime()) : undefined;
      const r = await api<{ events: AuditEntry[] }>(`/api/audit${query({ user: filters.user, session: filters.session, event: filters.event, since, limit: filters.limit })}`);
      setEvents(r.events);
    } catch (err) {
      setError(err instanceof ApiError ? `${err.code}: ${err.message}` : 'cannot read the audit events');
    }
  };
  useEffect(() => void load(), []);

  const field = (k: keyof typeof filters) => (e: Event) => setFilters({ ...filters, [k]: (e.currentTarget as HTMLInputElement).value });
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit</h1>
      <form class="filters" onSubmit={(e) => { e.preventDefault(); void load(); }}>
        <label>User or admin<input name="user" maxLength={64} value={filters.user} onInput={field('user')} /></label>
        <label>Session<input name="session" maxLength={26} value={filters.session} onInput={field('session')} /></label>
        <label>Event<input name="event" maxLength={64} placeholder="e.g. auth_failure" value={filters.event} onInput={field('event')} /></label>
        <label>Since<input name="since" type="datetime-local" value={filters.since} onInput={field('since')} /></label>
        <label>Limit<input name="limit" type="number" min={1} max={1000} value={filters.limit} onInput={field('limit')} /></label>
        <button type="submit">Search</button>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      {events && <AuditTable events={events} />}
    </section>
  );
}
