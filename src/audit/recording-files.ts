/** Where a session's recording is: the finalised .cast.gz named in its record, or the .cast
 *  still being written (or never finalised) under the recordings directory. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { SessionRecord } from '../registry.js';

export function recordingFile(cfg: Config, rec: SessionRecord): string | undefined {
  if (rec.recording && existsSync(rec.recording)) return rec.recording;
  const dir = cfg.recording.dir ?? join(cfg.dataDir, 'recordings');
  const day = new Date(rec.start).toISOString().slice(0, 10);
  for (const name of [`${rec.id}.cast`, `${rec.id}.cast.gz`]) {
    const file = join(dir, day, name);
    if (existsSync(file)) return file;
  }
  // A session that started just before midnight UTC may sit in the previous day's folder.
  if (!existsSync(dir)) return undefined;
  for (const d of readdirSync(dir)) {
    for (const name of [`${rec.id}.cast.gz`, `${rec.id}.cast`]) if (existsSync(join(dir, d, name))) return join(dir, d, name);
  }
  return undefined;
}
