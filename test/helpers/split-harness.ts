/**
 * Feeding a two-way protocol transcript to a tracker in every possible chunking: each run of
 * same-direction messages arrives whole, cut at any one byte, or byte by byte; the outcome
 * (bytes each side received, what was recorded) must not depend on it.
 */
import { expect } from 'vitest';

export type Step = ['c' | 't', Buffer];
type Push = (d: Buffer, forward: (d: Buffer) => void) => void;

export interface Tracked {
  fromClient: Push;
  fromTarget: Push;
  close(): void;
}

export interface Outcome {
  toTarget: Buffer;
  toClient: Buffer;
  events: unknown[];
  abandoned: string[];
}

export function groups(steps: Step[]): Array<{ dir: 'c' | 't'; bytes: Buffer }> {
  const out: Array<{ dir: 'c' | 't'; bytes: Buffer }> = [];
  for (const [dir, b] of steps) {
    const last = out[out.length - 1];
    if (last && last.dir === dir) last.bytes = Buffer.concat([last.bytes, b]);
    else out.push({ dir, bytes: b });
  }
  return out;
}

/** Run `steps` through a fresh tracker (made by `make`, which reports into `events`/`abandoned`). */
export function runTranscript(steps: Step[], make: (events: unknown[], abandoned: string[]) => Tracked, cut: (bytes: Buffer, group: number) => Buffer[] = (b) => [b]): Outcome {
  const toTarget: Buffer[] = [];
  const toClient: Buffer[] = [];
  const events: unknown[] = [];
  const abandoned: string[] = [];
  const t = make(events, abandoned);
  groups(steps).forEach((g, i) => {
    for (const chunk of cut(g.bytes, i)) {
      // The relay may reuse a chunk once forwarded: keep copies of what the tracker passes on.
      if (g.dir === 'c') t.fromClient(chunk, (d) => toTarget.push(Buffer.from(d)));
      else t.fromTarget(chunk, (d) => toClient.push(Buffer.from(d)));
    }
  });
  t.close();
  return { toTarget: Buffer.concat(toTarget), toClient: Buffer.concat(toClient), events, abandoned };
}

const same = (a: Outcome, b: Outcome) =>
  a.toTarget.equals(b.toTarget) && a.toClient.equals(b.toClient) && JSON.stringify([a.events, a.abandoned]) === JSON.stringify([b.events, b.abandoned]);

/** The outcome of `steps` whole, after checking every other chunking gives the same. */
export function expectSplitInvariant(steps: Step[], make: (events: unknown[], abandoned: string[]) => Tracked): Outcome {
  const whole = runTranscript(steps, make);
  groups(steps).forEach((g, gi) => {
    for (let s = 1; s < g.bytes.length; s++) {
      const cut = runTranscript(steps, make, (b, i) => (i === gi ? [b.subarray(0, s), b.subarray(s)] : [b]));
      // Cheap comparison first (thousands of cuts); the full diff only on a mismatch.
      if (!same(cut, whole)) expect(cut, `group ${gi} cut at ${s}`).toEqual(whole);
    }
  });
  const bytewise = runTranscript(steps, make, (b) => [...b].map((x) => Buffer.from([x])));
  if (!same(bytewise, whole)) expect(bytewise, 'byte by byte').toEqual(whole);
  return whole;
}

export const cat = (steps: Step[], dir: 'c' | 't') => Buffer.concat(steps.filter((s) => s[0] === dir).map((s) => s[1]));
