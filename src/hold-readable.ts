/**
 * Holds readable streams paused until a promise settles, whoever else resumes them: a pipe
 * resumes its source on every 'drain' of its destination, which let output through at the
 * client's pace while the recorder was stalled. While held, any resume is undone at once
 * (Readable emits 'resume' before it starts flowing).
 */
import type { Readable } from 'node:stream';

function keepPaused(this: Readable): void {
  this.pause();
}

export function holdReadables(streams: readonly Readable[], until: Promise<void>, released: () => void): void {
  for (const s of streams) {
    s.pause();
    s.on('resume', keepPaused);
  }
  void until.finally(() => {
    released();
    for (const s of streams) {
      s.removeListener('resume', keepPaused);
      s.resume();
    }
  });
}
