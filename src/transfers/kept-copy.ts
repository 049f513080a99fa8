/**
 * `transfer.keep`: a copy of each uploaded or downloaded file, hashed as its bytes pass and
 * written under the keep dir as `SESSION-SHA256` (0600, in a 0700 dir, whatever the umask).
 * A file over keep.maxFileSize is not kept, but its hash is still computed and logged.
 *
 * Writes are queued to a file stream (never waited for on the data path); bytes are copied
 * because the relay's chunk may be reused once forwarded.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { chmod, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileTap } from './sftp-files.js';

export interface KeepOptions {
  dir: string;
  maxFileSize: number;
  session: string;
  onError(err: Error): void;
}

/** Make the keep dir private once per channel (not per file). */
export function prepareKeepDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

export class KeptCopy implements FileTap {
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private out?: WriteStream;
  private readonly part: string;
  private aborted = false;

  constructor(private readonly o: KeepOptions) {
    this.part = join(o.dir, `${o.session}-${randomBytes(6).toString('hex')}.part`);
    this.out = createWriteStream(this.part, { flags: 'wx', mode: 0o600 });
    this.out.on('error', (err) => {
      this.o.onError(err);
      this.drop();
    });
  }

  write(data: Buffer): void {
    if (this.aborted) return;
    this.hash.update(data);
    this.bytes += data.length;
    if (!this.out) return;
    if (this.bytes > this.o.maxFileSize) this.drop();
    else this.out.write(Buffer.from(data));
  }

  /** Stop keeping the file (too big, or a write failed); the hash goes on. */
  private drop(): void {
    const out = this.out;
    if (!out) return;
    this.out = undefined;
    out.destroy();
    out.once('close', () => void unlink(this.part).catch(() => {}));
  }

  abort(): void {
    this.aborted = true;
    this.drop();
  }

  async finish(): Promise<{ sha256?: string; kept?: string }> {
    if (this.aborted) return {};
    const sha256 = this.hash.digest('hex');
    const out = this.out;
    if (!out) return { sha256 };
    this.out = undefined;
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const kept = join(this.o.dir, `${this.o.session}-${sha256}`);
    await rename(this.part, kept);
    await chmod(kept, 0o600);
    return { sha256, kept };
  }
}
