/** `warden verify` and `warden replay`: every channel recording of a session, found on this machine. */
import { CONFIG, config, withRegistry, type Command } from './cli-common.js';
import type { Config } from './config.js';
import { WardenError } from './errors.js';
import type { Registry } from './registry.js';
import type { ChannelRecording } from './audit/recording-files.js';

/** `ID` (every channel) or `ID.N` (channel N). */
async function channelRecordings(registry: Registry, cfg: Config, arg: string): Promise<{ id: string; recordings: ChannelRecording[] }> {
  const m = /^(.*?)(?:\.(\d+))?$/.exec(arg)!;
  const { recordingFiles, recordingsDir } = await import('./audit/recording-files.js');
  const rec = await registry.get(await registry.resolve(m[1]!));
  if (!rec) throw new WardenError('SESSION_NOT_FOUND', `"${arg}"`);
  const all = recordingFiles(cfg, rec);
  const recordings = m[2] ? all.filter((r) => r.channel === Number(m[2])) : all;
  if (recordings.length === 0) {
    const what = m[2] ? `channel ${m[2]} of session ${rec.id}` : `session ${rec.id}`;
    const failed = rec.recordingError ?? rec.channels.find((c) => c.recordingError)?.recordingError;
    const why = failed ? `: recording failed (${failed})` : rec.channelCount === 0 ? ': it opened no channel' : '';
    throw new WardenError('RECORDING_NOT_FOUND', `${what}${why} (looked in ${recordingsDir(cfg)})`);
  }
  return { id: rec.id, recordings };
}

export const RECORDING_COMMANDS: Record<string, Command> = {
  verify: {
    usage: 'warden verify <id-or-prefix>[.CHANNEL] --config FILE   check recordings against their hash chains',
    options: CONFIG,
    async run(flags, positionals) {
      if (!positionals[0]) throw new WardenError('USAGE', 'give a session id or unique prefix');
      return withRegistry(flags, async (registry, cfg) => {
        const { verifyRecording, verdictOf } = await import('./recording/verify.js');
        const { recordings } = await channelRecordings(registry, cfg, positionals[0]!);
        let code = 0;
        for (const r of recordings) {
          const verdict = verdictOf(await verifyRecording(r.file, { expectedHead: r.chainHead }), r.chainHead, r.recordingError);
          console.log(`channel ${r.channel}: ${verdict.status === 'intact' ? 'OK' : verdict.status.toUpperCase()}: ${r.file}: ${verdict.text}`);
          if (r.sha256 && verdict.status === 'intact') console.log(`  sha256 of the compressed file in the registry: ${r.sha256}`);
          // Tampering wins over an incomplete recording in the exit status.
          if (verdict.status === 'tampered') code = 1;
          else if (verdict.status === 'incomplete' && code === 0) code = 3;
        }
        return code;
      }, config);
    },
  },
  replay: {
    usage: 'warden replay <id-or-prefix>[.CHANNEL] [--speed N] [--max-idle SECONDS] --config FILE',
    options: { ...CONFIG, speed: { type: 'string' }, 'max-idle': { type: 'string' } },
    async run(flags, positionals) {
      if (!positionals[0]) throw new WardenError('USAGE', 'give a session id or unique prefix');
      const speed = Number(flags.speed ?? 1);
      if (!(speed > 0)) throw new WardenError('USAGE', `--speed "${flags.speed}" must be a positive number`);
      return withRegistry(flags, async (registry, cfg) => {
        const { replay } = await import('./recording/replay.js');
        const { id, recordings } = await channelRecordings(registry, cfg, positionals[0]!);
        for (const r of recordings) {
          if (recordings.length > 1) process.stdout.write(`\r\n--- ${id}.${r.channel} ---\r\n`);
          await replay(r.file, { speed, out: process.stdout, maxIdleSeconds: flags['max-idle'] ? Number(flags['max-idle']) : 2 });
        }
        return 0;
      }, config);
    },
  },
};
