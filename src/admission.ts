/**
 * Pre-auth admission, as OpenSSH's MaxStartups and PerSourceMaxStartups: every TCP connection
 * counts from accept until it authenticates or closes (a peer that never sends its version line
 * holds a socket too). Past `start` unauthenticated connections, new ones are dropped at random
 * with a probability rising linearly from `rate`% to 100% at `full`; one source address may hold
 * at most `perSource` of them, so a single address cannot crowd everybody else out.
 *
 * Pure bookkeeping: the front door asks, and tells the client the reason.
 */

export interface MaxStartups {
  start: number;
  /** Drop probability at `start`, in percent. */
  rate: number;
  full: number;
}

export const DEFAULT_MAX_STARTUPS = '10:30:100';
/**
 * Below `start`, so one address leaves other users slots that are never dropped at random.
 * A NAT with many users typing passwords at once may need more.
 */
export const DEFAULT_PER_SOURCE_MAX_STARTUPS = 5;

export const REFUSED_PER_SOURCE = 'Too many unauthenticated connections from your address; try again later.';
export const REFUSED_BUSY = 'Warden is busy (too many unauthenticated connections); try again later.';

/** "start:rate:full" or a single number N (= N:100:N, refuse from N on). */
export function parseMaxStartups(value: string): MaxStartups | undefined {
  const single = /^\d+$/.exec(value);
  if (single) {
    const n = Number(value);
    return n >= 1 ? { start: n, rate: 100, full: n } : undefined;
  }
  const m = /^(\d+):(\d+):(\d+)$/.exec(value);
  if (!m) return undefined;
  const [start, rate, full] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (start < 1 || rate > 100 || full < start) return undefined;
  return { start, rate, full };
}

/** OpenSSH's drop decision for the (n+1)th unauthenticated connection. `roll` is in [0, 100). */
export function shouldDrop(n: number, m: MaxStartups, roll: number): boolean {
  if (n >= m.full) return true;
  if (n < m.start) return false;
  const p = m.rate + ((100 - m.rate) * (n - m.start)) / (m.full - m.start || 1);
  return roll < p;
}

/** An IPv4 peer on a dual-stack listener is "::ffff:a.b.c.d": one address, one count. */
export function sourceOf(remoteAddress: string | undefined): string {
  const a = remoteAddress ?? '?';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

export type Admit = { ok: true; release: () => void } | { ok: false; why: string };

export class Admission {
  private total = 0;
  private readonly bySource = new Map<string, number>();

  constructor(
    private readonly o: { maxStartups: MaxStartups; perSource: number | 'none'; random?: () => number },
  ) {}

  /** Unauthenticated connections held now. */
  get count(): number {
    return this.total;
  }

  admit(source: string): Admit {
    const mine = this.bySource.get(source) ?? 0;
    if (this.o.perSource !== 'none' && mine >= this.o.perSource) return { ok: false, why: REFUSED_PER_SOURCE };
    if (shouldDrop(this.total, this.o.maxStartups, (this.o.random ?? Math.random)() * 100)) return { ok: false, why: REFUSED_BUSY };
    this.total++;
    this.bySource.set(source, mine + 1);
    let held = true;
    return {
      ok: true,
      release: () => {
        if (!held) return;
        held = false;
        this.total--;
        const left = (this.bySource.get(source) ?? 1) - 1;
        if (left > 0) this.bySource.set(source, left);
        else this.bySource.delete(source);
      },
    };
  }
}
