/**
 * Instances: each Warden process of the fleet, its heartbeat age (ticking), lease, session
 * count and what it has counted since it started (logins, authentication failures, refusals,
 * sessions ended by reason); a lost one (lease expired, or reaped since this page opened) is
 * marked. Above them, the fleet's counters of control events.
 */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { ago, clock, visible } from '../format';
import { useFleet, useNow } from '../fleet';
import type { FleetCounters, Instance } from '../types';

/** `admin_kill 2 · client_closed 5`, most frequent first. */
function byReason(ended: Record<string, number>): string {
  return Object.entries(ended).sort((a, b) => b[1] - a[1]).map(([reason, n]) => `${visible(reason, 32)} ${n}`).join(' · ');
}

export function InstancesPage(): JSX.Element {
  const f = useFleet();
  const now = useNow();
  const [list, setList] = useState<Instance[] | undefined>(undefined);
  const [counters, setCounters] = useState<FleetCounters | undefined>(undefined);
  const [error, setError] = useState('');

  // Read again when the stream says an instance came, left or was lost.
  const lostKey = [...f.lost.keys()].join(',');
  useEffect(() => {
    api<{ instances: Instance[]; counters: FleetCounters }>('/api/instances').then(
      (r) => {
        setList(r.instances);
        setCounters(r.counters);
      },
      (err: unknown) => setError(err instanceof ApiError ? `${err.code}: ${err.message}` : 'cannot list the instances'),
    );
  }, [lostKey]);

  const listed = new Set((list ?? []).map((i) => i.id));
  const reaped = [...f.lost.entries()].filter(([id]) => !listed.has(id));
  return (
    <section aria-labelledby="instances-title">
      <h1 id="instances-title">Instances</h1>
      {error && <p class="error" role="alert">{error}</p>}
      {counters && (
        <p data-testid="fleet-counters">
          Fleet: {counters.kills} kills, {counters.idle_warnings} idle warnings, {counters.idle_timeouts} idle timeouts,{' '}
          {counters.max_duration} at their maximum duration, {counters.reaped} finalised after an instance was lost.
        </p>
      )}
      <div class="scroll">
        <table data-testid="instances-table">
          <thead>
            <tr><th>Instance</th><th>Lease</th><th>Heartbeat</th><th>Sessions</th><th>Logins</th><th>Auth failures</th><th>Refused</th><th>Ended</th><th>Host</th><th>SSH address</th><th>Admin URL</th><th>Started</th><th>Version</th></tr>
          </thead>
          <tbody>
            {(list ?? []).map((i) => {
              const lost = !i.alive || f.lost.has(i.id);
              return (
                <tr key={i.id} data-instance={i.id} class={lost ? 'lost' : ''}>
                  <td>{visible(i.id, 64)}</td>
                  <td>{lost ? <span class="pill bad">lost</span> : <span class="pill ok">held</span>}</td>
                  <td title={clock(i.heartbeat)}>{ago(i.heartbeat, now)}</td>
                  <td>{i.sessions}</td>
                  <td>{i.counts.logins}</td>
                  <td>{i.counts.auth_failures}</td>
                  <td title="targets refused, commands denied, transfers denied, host keys that did not match">
                    {i.counts.refused + i.counts.commands_denied + i.counts.transfers_denied + i.counts.hostkey_mismatches}
                  </td>
                  <td data-testid="ended-by-reason">
                    {i.counts.ended}
                    {i.counts.ended > 0 && <div class="muted">{byReason(i.counts.endedBy)}</div>}
                  </td>
                  <td>{visible(i.host, 64)} (pid {i.pid})</td>
                  <td>{visible(i.address, 64)}</td>
                  <td>{visible(i.adminUrl, 100)}</td>
                  <td>{clock(i.started)}</td>
                  <td>{visible(i.version, 32)}</td>
                </tr>
              );
            })}
            {reaped.map(([id, at]) => (
              <tr key={id} data-instance={id} class="lost">
                <td>{visible(id, 64)}</td>
                <td><span class="pill bad">lost</span></td>
                <td colSpan={11}>lease expired; its sessions were finalised as instance_lost {ago(at, now)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
