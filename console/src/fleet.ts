/**
 * The fleet as the console knows it: live sessions, recently finished ones, acknowledgements
 * and lost instances, kept current by the API's event stream (GET /api/events). Nothing is
 * polled: on every (re)connect the lists are read once, then events patch them.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import type { FleetEvent, KillReport, Session } from './types';

export interface Fleet {
  live: Session[];
  recent: Session[];
  connected: boolean;
  /** Acknowledgements seen on the stream, by session id (kills from any admin or the CLI). */
  acks: Map<string, { outcome: string; by: string; ms: number }>;
  /** Instances reported lost (reaped) since the page opened, with when. */
  lost: Map<string, number>;
  /** Bumped on every event: pages showing one session re-read it when it changes. */
  version: number;
}

type Listener = (f: Fleet) => void;

const RECENT = 100;
const EVENT_TYPES: FleetEvent['type'][] = ['session_opened', 'session_state', 'session_ended', 'kill_acknowledged', 'instance_up', 'instance_down', 'instance_lost'];

class FleetStore {
  private state: Fleet = { live: [], recent: [], connected: false, acks: new Map(), lost: new Map(), version: 0 };
  private source: EventSource | undefined;
  private readonly listeners = new Set<Listener>();

  get snapshot(): Fleet {
    return this.state;
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  start(): void {
    if (this.source) return;
    const es = new EventSource('/api/events');
    this.source = es;
    es.onopen = () => {
      this.set({ connected: true });
      // Signed out meanwhile: the API's 401 has already sent the page to the sign-in form.
      this.reload().catch(() => {});
    };
    es.onerror = () => this.set({ connected: false });
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (m: MessageEvent<string>) => {
        try {
          this.apply(JSON.parse(m.data) as FleetEvent);
        } catch {
          // a malformed frame changes nothing
        }
      });
    }
  }

  stop(): void {
    this.source?.close();
    this.source = undefined;
    this.state = { live: [], recent: [], connected: false, acks: new Map(), lost: new Map(), version: 0 };
  }

  /** Read both lists (on connect, and after a kill to show its outcome at once). */
  async reload(): Promise<void> {
    const [live, recent] = await Promise.all([
      api<{ sessions: Session[] }>('/api/sessions?state=live&limit=1000'),
      api<{ sessions: Session[] }>(`/api/sessions?state=recent&limit=${RECENT}`),
    ]);
    this.set({ live: live.sessions, recent: recent.sessions });
  }

  /** Someone's kill report (from the page's own kill request). */
  acknowledged(r: KillReport, by: string): void {
    const acks = new Map(this.state.acks);
    acks.set(r.sessionId, { outcome: r.outcome, by, ms: r.ms ?? r.totalMs });
    this.set({ acks });
  }

  private set(patch: Partial<Fleet>): void {
    this.state = { ...this.state, ...patch, version: this.state.version + 1 };
    for (const l of this.listeners) l(this.state);
  }

  /** The full record of a session the stream announced (remote address, kind, start). */
  private async enrich(id: string): Promise<void> {
    try {
      const { session } = await api<{ session: Session }>(`/api/sessions/${encodeURIComponent(id)}`);
      if (session.state === 'finished') return;
      this.set({ live: this.state.live.map((s) => (s.id === id ? { ...s, ...session, idleDeadline: s.idleDeadline ?? session.idleDeadline } : s)) });
    } catch {
      // gone already: its end event says so
    }
  }

  private apply(e: FleetEvent): void {
    const { live, recent } = this.state;
    switch (e.type) {
      case 'session_opened': {
        if (live.some((s) => s.id === e.session)) return;
        const row: Session = {
          id: e.session, user: e.user, asset: e.asset, account: e.account, instance: e.instance, state: e.state,
          remote: '', kind: 'pending', start: e.at, lastActivity: e.at, bytesIn: 0, bytesOut: 0, channels: [],
        };
        this.set({ live: [...live, row] });
        void this.enrich(e.session);
        return;
      }
      case 'session_state':
        this.set({
          live: live.map((s) =>
            s.id !== e.session ? s : { ...s, state: e.state, idleDeadline: e.idleDeadline, lastActivity: e.state === 'proxying' ? Math.max(s.lastActivity, e.at) : s.lastActivity },
          ),
        });
        if (!live.some((s) => s.id === e.session)) void this.enrich(e.session);
        return;
      case 'session_ended': {
        const was = live.find((s) => s.id === e.session);
        const ended: Session = { ...(was ?? emptySession(e.session, e.instance)), state: 'finished', reason: e.reason, by: e.by, finish: e.at };
        this.set({ live: live.filter((s) => s.id !== e.session), recent: [ended, ...recent.filter((s) => s.id !== e.session)].slice(0, RECENT) });
        return;
      }
      case 'kill_acknowledged': {
        const acks = new Map(this.state.acks);
        acks.set(e.session, { outcome: e.outcome, by: e.by, ms: e.ms });
        this.set({ acks });
        return;
      }
      case 'instance_lost': {
        const lost = new Map(this.state.lost);
        lost.set(e.instance, e.at);
        this.set({ lost });
        return;
      }
      case 'instance_up': {
        const lost = new Map(this.state.lost);
        lost.delete(e.instance);
        this.set({ lost });
        return;
      }
      default:
        this.set({});
    }
  }
}

function emptySession(id: string, instance: string): Session {
  return { id, user: '', asset: '', account: '', remote: '', instance, kind: '', state: 'finished', start: 0, lastActivity: 0, bytesIn: 0, bytesOut: 0, channels: [] };
}

export const fleet = new FleetStore();

export function useFleet(): Fleet {
  const [state, setState] = useState(fleet.snapshot);
  useEffect(() => {
    setState(fleet.snapshot);
    return fleet.subscribe(setState);
  }, []);
  return state;
}

/** The current time, re-rendering every `everyMs` (relative times and countdowns tick). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
