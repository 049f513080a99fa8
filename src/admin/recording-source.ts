/**
 * A session's channel recording on this instance's disk, ready to stream: which channel (the
 * one asked for, or the first shell/exec channel), where its file is (only ever under the
 * recordings dir, a regular file, never a symlink), and its hash-chain verdict. The content is
 * the plain asciicast, gunzipped on the fly for finalised recordings; a live recording is sent
 * up to the size it had when it was verified, so the verdict covers what is sent.
 */
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Config } from '../config.js';
import { WardenError } from '../errors.js';
import { recordingFiles, recordingsDir } from '../audit/recording-files.js';
import { verdictOf, verifyRecording, type Verdict } from '../recording/verify.js';
import type { SessionRecord } from '../session-record.js';

export type RecordingsConfig = Pick<Config, 'dataDir' | 'recording'>;

/** The channel to serve: the one asked for, else the first shell or exec channel. */
export function pickChannel(rec: SessionRecord, wanted: number | undefined): number {
  if (wanted !== undefined) {
    const entry = rec.channels.find((c) => c.n === wanted);
    if (entry?.kind === 'sftp') throw new WardenError('RECORDING_NOT_FOUND', `channel ${wanted} of session ${rec.id} is an sftp channel (file transfers are logged, not recorded)`);
    if (!entry && wanted > rec.channelCount) throw new WardenError('RECORDING_NOT_FOUND', `session ${rec.id} has no channel ${wanted} (it opened ${rec.channelCount})`);
    return wanted;
  }
  const first = rec.channels.filter((c) => c.kind !== 'sftp').sort((a, b) => a.n - b.n)[0];
  if (!first) throw new WardenError('RECORDING_NOT_FOUND', `session ${rec.id}: it opened no shell or exec channel`);
  return first.n;
}

/** The recorded channels of a session, for its detail view. */
export function recordedChannels(rec: SessionRecord): Array<{ channel: number; kind: string; command?: string; live: boolean; recording: string }> {
  return rec.channels
    .filter((c) => c.kind !== 'sftp')
    .map((c) => ({ channel: c.n, kind: c.kind, command: c.command, live: c.end === undefined, recording: `/api/sessions/${rec.id}/recording?channel=${c.n}` }));
}

export interface LocalRecording {
  channel: number;
  verdict: Verdict;
  live: boolean;
  open(): Readable;
}

/** The recording of `channel` on this machine, verified; RECORDING_NOT_FOUND when absent. */
export async function localRecording(cfg: RecordingsConfig, rec: SessionRecord, channel: number): Promise<LocalRecording> {
  const found = recordingFiles(cfg, rec).find((r) => r.channel === channel);
  if (!found) {
    const failed = rec.channels.find((c) => c.n === channel)?.recordingError;
    throw new WardenError('RECORDING_NOT_FOUND', `channel ${channel} of session ${rec.id}${failed ? `: recording failed (${failed})` : ''}`);
  }
  const root = resolve(recordingsDir(cfg));
  const file = resolve(found.file);
  // The path can come from the registry (a finalised recording): never follow it out of the dir.
  if (!file.startsWith(root + sep)) throw new WardenError('RECORDING_NOT_FOUND', `channel ${channel} of session ${rec.id} is outside the recordings dir`);
  const st = await lstat(file);
  if (!st.isFile()) throw new WardenError('RECORDING_NOT_FOUND', `channel ${channel} of session ${rec.id} is not a regular file`);
  const verdict = verdictOf(await verifyRecording(file, { expectedHead: found.chainHead }), found.chainHead, found.recordingError);
  const gz = file.endsWith('.gz');
  const size = st.size;
  return {
    channel,
    verdict,
    live: rec.state !== 'finished',
    open: () => {
      if (size === 0) return Readable.from([]);
      const raw = createReadStream(file, { start: 0, end: size - 1 });
      return gz ? pipeline(raw, createGunzip(), () => {}) : raw;
    },
  };
}

/** Header-safe text: printable ASCII only, bounded. */
export function headerText(s: string, max = 300): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}
