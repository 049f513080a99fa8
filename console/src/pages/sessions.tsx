/**
 * Sessions: the fleet's live sessions (kept current by the event stream, relative times
 * ticking, idle countdowns) and the recently finished ones with their end reason; a filter;
 * Terminate (one session, or all of a user) for operators.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ago, clock, duration, endReason, visible } from '../format';
import { useFleet, useNow } from '../fleet';
import { Link } from '../router';
import type { Me, Session } from '../types';
import { TerminateDialog, type Outcome, type Target } from './terminate';

function matches(s: Session, q: string): boolean {
  if (!q) return true;
  const needle = q.toLowerCase();
  return [s.id, s.user, s.asset, s.account, s.remote, s.instance, s.kind, s.command ?? '', s.reason ?? '', s.by ?? ''].some((f) => f.toLowerCase().includes(needle));
}

function State({ s, now }: { s: Session; now: number }): JSX.Element {
  if (s.state === 'idle' && s.idleDeadline) {
    // The clock of this render, not the last tick's (up to 1 s old), and whole seconds rounded
    // down: a countdown to a disconnect must never promise more time than is left.
    const left = Math.floor(Math.max(0, s.idleDeadline - Math.max(now, Date.now())) / 1000) * 1000;
    return (
      <span class="state state-idle" data-testid="idle-countdown">
        idle: cut in {duration(left)}
      </span>
    );
  }
  return <span class={`state state-${s.state}`}>{s.state}</span>;
}

export function SessionsPage({ me }: { me: Me }): JSX.Element {
  const f = useFleet();
  const now = useNow();
  const [q, setQ] = useState('');
  const [target, setTarget] = useState<Target | undefined>(undefined);
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  const operator = me.role === 'operator';
  const live = f.live.filter((s) => matches(s, q)).sort((a, b) => b.start - a.start);
  const recent = f.recent.filter((s) => matches(s, q));
  const users = [...new Set(f.live.map((s) => s.user).filter(Boolean))].sort();

  return (
    <section aria-labelledby="sessions-title">
      <div class="bar">
        <h1 id="sessions-title">Sessions</h1>
        <span class={f.connected ? 'pill ok' : 'pill bad'} data-testid="stream">
          {f.connected ? 'live' : 'reconnecting…'}
        </span>
        <label class="filter">
          Filter
          <input type="search" value={q} placeholder="user, asset, instance, address…" onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
      </div>
      <p class={outcome ? (outcome.ok ? 'notice ok' : 'notice bad') : 'notice'} role="status" data-testid="kill-outcome">
        {outcome?.text ?? ''}
      </p>

      <h2>Live ({live.length})</h2>
      <div class="scroll">
        <table class="sessions" data-testid="live-sessions">
          <thead>
            <tr>
              <th>User</th><th>Asset</th><th>Account</th><th>Instance</th><th>Source</th><th>Started</th><th>Last activity</th><th>State</th><th>Kind</th><th><span class="sr">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {live.length === 0 && (
              <tr><td colSpan={10} class="empty">No live sessions.</td></tr>
            )}
            {live.map((s) => (
              <tr key={s.id} data-session={s.id}>
                <td>{visible(s.user, 64)}</td>
                <td>{visible(s.asset, 64)}</td>
                <td>{visible(s.account, 64)}</td>
                <td>{visible(s.instance, 64)}</td>
                <td>{visible(s.remote, 64)}</td>
                <td title={clock(s.start)}>{ago(s.start, now)}</td>
                <td title={clock(s.lastActivity)}>{ago(s.lastActivity, now)}</td>
                <td><State s={s} now={now} /></td>
                <td>{s.kind}</td>
                <td class="actions">
                  <Link href={`/sessions/${s.id}`}>Watch</Link>
                  {operator && (
                    <button type="button" class="danger" onClick={() => setTarget({ kind: 'session', id: s.id, label: `${s.id.slice(0, 10)}… (${visible(s.user, 32)}@${visible(s.asset, 32)})` })}>
                      Terminate
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {operator && users.length > 0 && (
        <div class="by-user">
          Terminate all sessions of:{' '}
          {users.map((u) => (
            <button key={u} type="button" class="danger small" onClick={() => setTarget({ kind: 'user', user: u, count: f.live.filter((s) => s.user === u).length })}>
              {visible(u, 64)}
            </button>
          ))}
        </div>
      )}

      <h2>Recently finished</h2>
      <div class="scroll">
        <table class="sessions" data-testid="recent-sessions">
          <thead>
            <tr>
              <th>User</th><th>Asset</th><th>Instance</th><th>Started</th><th>Ended</th><th>Duration</th><th>End reason</th><th>Kind</th><th><span class="sr">Replay</span></th>
            </tr>
          </thead>
          <tbody>
            {recent.length === 0 && (
              <tr><td colSpan={9} class="empty">None yet.</td></tr>
            )}
            {recent.map((s) => (
              <tr key={s.id} data-session={s.id}>
                <td>{visible(s.user, 64)}</td>
                <td>{visible(s.asset, 64)}</td>
                <td>{visible(s.instance, 64)}</td>
                <td title={clock(s.start)}>{clock(s.start)}</td>
                <td title={clock(s.finish)}>{ago(s.finish, now)}</td>
                <td>{s.finish && s.start ? duration(s.finish - s.start) : ''}</td>
                <td class="reason">{endReason(s)}</td>
                <td>{s.kind}</td>
                <td><Link href={`/sessions/${s.id}`}>Replay</Link></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {target && (
        <TerminateDialog
          target={target}
          by={me.name}
          onCancel={() => setTarget(undefined)}
          onDone={(o) => {
            setOutcome(o);
            setTarget(undefined);
          }}
        />
      )}
    </section>
  );
}
