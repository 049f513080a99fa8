/**
 * Where recordings live: `<recordings dir>/<UTC day of the session's start>/<session>.<channel>.cast`
 * while written, `.cast.gz` once finalised (the record names the .gz). The writer and every
 * reader (verify, replay) get paths from here only.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { SessionRecord } from '../session-record.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function recordingsDir(cfg: Pick<Config, 'dataDir' | 'recording'>): string {
  return cfg.recording.dir ?? join(cfg.dataDir, 'recordings');
}

/** The .cast a channel's recorder writes. */
export function recordingPath(dir: string, sessionId: string, channel: number, sessionStart: number): string {
  return join(dir, new Date(sessionStart).toISOString().slice(0, 10), `${sessionId}.${channel}.cast`);
}

export interface ChannelRecording {
  channel: number;
  file: string;
  /** From the registry, when the recording was finalised: tamper evidence kept apart from the file. */
  chainHead?: string;
  sha256?: string;
  /** Why the recorder stopped early, when it did (from the session record). */
  recordingError?: string;
}

/** Every channel recording of a session that exists on this machine, by channel number. */
export function recordingFiles(cfg: Pick<Config, 'dataDir' | 'recording'>, rec: SessionRecord): ChannelRecording[] {
  const dir = recordingsDir(cfg);
  const found = new Map<number, ChannelRecording>();
  for (const [n, ref] of Object.entries(rec.recordings ?? {})) {
    if (existsSync(ref.file)) found.set(Number(n), { channel: Number(n), file: ref.file, chainHead: ref.chainHead, sha256: ref.sha256 });
  }
  // Not finalised yet (live, or the instance died): the plain .cast. A session that started
  // just before midnight UTC may sit in the previous day's folder, hence the scan.
  const day = new Date(rec.start).toISOString().slice(0, 10);
  const others = existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && DAY.test(d.name) && d.name !== day) : [];
  const days = [day, ...others.map((d) => d.name)];
  const name = new RegExp(`^${rec.id}\\.(\\d+)\\.cast(\\.gz)?$`);
  for (const d of days) {
    const folder = join(dir, d);
    if (!existsSync(folder)) continue;
    for (const f of readdirSync(folder)) {
      const m = name.exec(f);
      if (m && !found.has(Number(m[1]))) found.set(Number(m[1]), { channel: Number(m[1]), file: join(folder, f) });
    }
    if (found.size) break;
  }
  const errors = new Map(rec.channels.map((c) => [c.n, c.recordingError]));
  return [...found.values()].map((r) => ({ ...r, recordingError: errors.get(r.channel) })).sort((a, b) => a.channel - b.channel);
}
