/**
 * Everything under dataDir is private: files 0600, directories 0700, whatever the umask.
 * Modes are given explicitly at creation (a umask can only take bits away, so an explicit
 * 0600/0700 is exact under any umask) rather than by changing the process umask, which would
 * also change what Warden's libraries and children create elsewhere.
 */
import { lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const PRIVATE_FILE = 0o600;
export const PRIVATE_DIR = 0o700;

/** mkdir -p with 0700 for every directory it creates (existing ones are left as they are). */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
}

/**
 * Entries under `root` that group or others can read, write or enter, for the start-up
 * warning. Bounded: recordings can number in the millions, so at most `limit` entries are
 * looked at.
 */
export function widerThanPrivate(root: string, limit = 10_000): { paths: string[]; scanned: number } {
  const paths: string[] = [];
  const queue = [root];
  let scanned = 0;
  while (queue.length && scanned < limit) {
    const path = queue.shift()!;
    let st;
    try {
      st = lstatSync(path);
    } catch {
      continue;
    }
    scanned++;
    if (st.isSymbolicLink()) continue;
    if ((st.mode & 0o077) !== 0) paths.push(path);
    if (st.isDirectory()) {
      try {
        for (const name of readdirSync(path)) queue.push(join(path, name));
      } catch {
        // unreadable: reported by its mode already
      }
    }
  }
  return { paths, scanned };
}
