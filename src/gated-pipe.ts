/**
 * A pipe with a gate in the middle: every chunk read from `src` is handed to `gate`, which
 * forwards what may pass (now or later, possibly changed). Backpressure works as in a pipe: a
 * full `dst` pauses `src` until it drains, and a gate that decides asynchronously pauses `src`
 * until it has decided, so order is kept.
 */
import type { Readable, Writable } from 'node:stream';

/** Decides what of a chunk goes on; may be async (the command filter waits for the echo). */
export type Gate = (data: Buffer, forward: (data: Buffer) => void) => void | Promise<void>;

export function pipeThroughGate(src: Readable, dst: Writable, gate: Gate, opts: { end: boolean }): void {
  const forward = (d: Buffer) => {
    if (!dst.write(d)) {
      src.pause();
      dst.once('drain', () => src.resume());
    }
  };
  src.on('data', (d: Buffer) => {
    const pending = gate(d, forward);
    if (pending) {
      src.pause();
      void pending.finally(() => src.resume());
    }
  });
  if (opts.end) src.once('end', () => dst.end());
}
