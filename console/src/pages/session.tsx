/**
 * One session: its metadata; live, a read-only terminal watching it; finished, the replay
 * with its commands beside it (a click seeks the player to the moment the command was typed),
 * the hash-chain verdict and the .cast download; and its audit events.
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, request } from '../api';
import { clock, duration, endReason, offset, visible } from '../format';
import { useFleet } from '../fleet';
import { useLocation } from '../router';
import type { Me, SessionDetail } from '../types';
import { AuditTable } from './audit';
import type { ReplayHandle } from '../players/asciinema-view';

/** A finished session's recording is finalised (moved, compressed) by a worker soon after. */
const FINALISE_TRIES = 40;

function Watch({ id }: { id: string }): JSX.Element {
  const el = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState('connecting…');
  useEffect(() => {
    let stop: (() => void) | undefined;
    let gone = false;
    import('../players/xterm-view').then(
      (m) => {
        if (!gone && el.current) stop = m.openWatch(el.current, id, (t) => setStatus(t));
      },
      () => setStatus('cannot load the terminal'),
    );
    return () => {
      gone = true;
      stop?.();
    };
  }, [id]);
  return (
    <section aria-labelledby="watch-title">
      <h2 id="watch-title">Live</h2>
      <p role="status" data-testid="watch-status">{status}</p>
      <div class="terminal" ref={el} data-testid="watch-terminal" />
    </section>
  );
}

interface Verdict {
  status: string;
  detail: string;
}

function Replay({ detail, channel, startAt }: { detail: SessionDetail; channel: number; startAt?: number }): JSX.Element {
  const el = useRef<HTMLDivElement>(null);
  const [verdict, setVerdict] = useState<Verdict | undefined>(undefined);
  const [player, setPlayer] = useState<ReplayHandle | undefined>(undefined);
  const [time, setTime] = useState<number | undefined>(undefined);
  const [error, setError] = useState('');
  const id = detail.session.id;
  const url = `/api/sessions/${id}/recording?channel=${channel}`;

  useEffect(() => {
    let disposed = false;
    let handle: ReplayHandle | undefined;
    setPlayer(undefined);
    setVerdict(undefined);
    (async () => {
      const res = await request(url);
      setVerdict({ status: res.headers.get('x-warden-recording-verdict') ?? 'unknown', detail: res.headers.get('x-warden-recording-detail') ?? '' });
      const cast = await res.text();
      const { openReplay } = await import('../players/asciinema-view');
      if (disposed || !el.current) return;
      handle = openReplay(el.current, cast);
      setPlayer(handle);
      if (startAt !== undefined) await handle.seek(startAt);
      setTime(await handle.currentTime());
    })().catch((err: unknown) => setError(err instanceof ApiError ? `${err.code}: ${err.message}` : 'cannot load the recording'));
    return () => {
      disposed = true;
      handle?.dispose();
    };
  }, [url]);

  // The position readout follows the player (local, no network).
  useEffect(() => {
    if (!player) return;
    const t = setInterval(() => void player.currentTime().then(setTime), 250);
    return () => clearInterval(t);
  }, [player]);

  const warned = new Set(detail.audit.filter((e) => e.event === 'command_warning').map((e) => String(e.command)));
  const commands = detail.commands
    .filter((c) => (c.channel ?? channel) === channel)
    .sort((a, b) => a.at - b.at);

  const seek = async (seconds: number) => {
    if (!player) return;
    await player.seek(seconds);
    setTime(await player.currentTime());
  };

  return (
    <section aria-labelledby="replay-title" class="replay">
      <div class="bar">
        <h2 id="replay-title">Replay, channel {channel}</h2>
        <a href={url} download={`${id}.${channel}.cast`}>Download .cast</a>
      </div>
      {verdict && (
        <p class={`verdict verdict-${verdict.status}`} data-testid="verdict">
          Hash chain: <strong>{visible(verdict.status, 20)}</strong>
          {verdict.detail && verdict.status !== 'intact' ? ` (${visible(verdict.detail, 300)})` : ''}
        </p>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      <div class="replay-grid">
        <div>
          <div class="player" ref={el} data-testid="player" />
          <p class="position">
            Position: <output data-testid="replay-time">{time === undefined ? '' : time.toFixed(2)}</output> s
          </p>
        </div>
        <div class="commands-side">
          <h3>Commands ({commands.length})</h3>
          {commands.length === 0 && <p class="empty">No commands logged on this channel.</p>}
          <ol class="command-list" data-testid="command-list">
            {commands.map((c) => {
              const text = visible(c.command, 1024);
              const tags = [c.tag === 'denied' ? 'denied' : '', warned.has(text) ? 'warned' : '', c.tag && c.tag !== 'denied' ? c.tag : ''].filter(Boolean);
              return (
                <li key={`${c.at}-${c.offset}`} class={tags.map((t) => `cmd-${t}`).join(' ')}>
                  <button type="button" onClick={() => void seek(c.offset)} disabled={!player} data-offset={c.offset}>
                    <span class="at">{offset(c.offset)}</span> <code>{text}</code>
                    {tags.map((t) => (
                      <span key={t} class={`tag tag-${t}`}>{t}</span>
                    ))}
                  </button>
                </li>
              );
            })}
          </ol>
        </div>
      </div>
    </section>
  );
}

function Meta({ d }: { d: SessionDetail }): JSX.Element {
  const s = d.session;
  const rows: Array<[string, string]> = [
    ['Id', s.id],
    ['User', visible(s.user, 64)],
    ['Asset', visible(s.asset, 64)],
    ['Account', visible(s.account, 64)],
    ['Instance', visible(s.instance, 64)],
    ['Source', visible(s.remote, 64)],
    ['Kind', s.kind],
    ['State', s.state],
    ['Started', clock(s.start)],
    ['Ended', s.finish ? `${clock(s.finish)} (after ${duration(s.finish - s.start)})` : ''],
    ['End reason', `${endReason(s)}${s.detail ? `: ${visible(s.detail, 200)}` : ''}`],
    ['Bytes in / out', `${s.bytesIn} / ${s.bytesOut}`],
    ['Command', visible(s.command, 300)],
  ];
  return (
    <dl class="meta" data-testid="session-meta">
      {rows.filter(([, v]) => v !== '').map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

export function SessionPage({ id }: { id: string; me: Me }): JSX.Element {
  const f = useFleet();
  const { params } = useLocation();
  const [detail, setDetail] = useState<SessionDetail | undefined>(undefined);
  const [error, setError] = useState('');
  const [tries, setTries] = useState(0);
  const endedOnStream = f.recent.some((s) => s.id.startsWith(id.toUpperCase()));

  useEffect(() => {
    api<SessionDetail>(`/api/sessions/${id}`).then(setDetail, (err: unknown) => setError(err instanceof ApiError ? `${err.code}: ${err.message}` : 'cannot load the session'));
  }, [id, endedOnStream, tries]);

  const finished = detail?.session.state === 'finished';
  const channels = detail?.channels ?? [];
  const wanted = Number(params.get('channel')) || channels[0]?.channel;
  const finalised = finished && wanted !== undefined && detail?.session.recordings?.[String(wanted)] !== undefined;

  // Finished but not yet finalised: look again shortly, a bounded number of times.
  useEffect(() => {
    if (!finished || finalised || tries >= FINALISE_TRIES) return;
    const t = setTimeout(() => setTries((n) => n + 1), 500);
    return () => clearTimeout(t);
  }, [finished, finalised, tries]);

  if (error) return <p class="error" role="alert">{error}</p>;
  if (!detail) return <p>Loading…</p>;
  const t = params.get('t');
  return (
    <section aria-labelledby="session-title">
      <h1 id="session-title">
        Session <code>{detail.session.id}</code>
      </h1>
      <Meta d={detail} />
      {!finished && <Watch id={detail.session.id} />}
      {finished && channels.length > 1 && (
        <nav class="channels" aria-label="Channels">
          {channels.map((c) => (
            <a key={c.channel} href={`?channel=${c.channel}`} aria-current={c.channel === wanted ? 'page' : undefined}>
              channel {c.channel} ({c.kind}{c.command ? `: ${visible(c.command, 40)}` : ''})
            </a>
          ))}
        </nav>
      )}
      {finished && wanted !== undefined && (finalised || tries >= FINALISE_TRIES) && (
        <Replay key={`${wanted}-${tries}`} detail={detail} channel={wanted} startAt={t !== null && Number.isFinite(Number(t)) ? Number(t) : undefined} />
      )}
      {finished && wanted !== undefined && !finalised && tries < FINALISE_TRIES && <p>The recording is being finalised…</p>}
      {finished && wanted === undefined && <p class="empty">This session opened no shell or exec channel: nothing was recorded.</p>}
      <h2>Audit events</h2>
      <AuditTable events={detail.audit} />
    </section>
  );
}
