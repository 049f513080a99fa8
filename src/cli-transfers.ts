/**
 * `warden transfers`: who moved which files from where, and when (the fleet's transfer log,
 * newest last in the table, one JSON object per line with --json).
 */
import { isoTime, table } from './cli-table.js';
import { CONFIG, withRegistry, type Command } from './cli-common.js';
import { WardenError } from './errors.js';

export const transfers: Command = {
  usage: 'warden transfers [--session ID] [--user U] [--asset A] [--path GLOB] [--limit N] [--json] --config FILE',
  options: { ...CONFIG, session: { type: 'string' }, user: { type: 'string' }, asset: { type: 'string' }, path: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
  async run(flags) {
    const limit = Number(flags.limit ?? 100);
    if (!Number.isInteger(limit) || limit < 1) throw new WardenError('USAGE', `--limit "${flags.limit}" must be a positive integer`);
    if (flags.path === '') throw new WardenError('USAGE', '--path needs a glob, e.g. "/srv/**" or "*.csv"');
    return withRegistry(flags, async (registry) => {
      const { queryTransfers } = await import('./transfers/transfer-log.js');
      const str = (k: string) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
      const entries = await queryTransfers(registry.redis, registry.keys, { session: str('session'), user: str('user'), asset: str('asset'), path: str('path'), limit });
      if (flags.json) for (const e of entries) console.log(JSON.stringify(e));
      else
        console.log(entries.length ? table(
          ['TIME', 'SESSION', 'USER', 'ASSET', 'ACCOUNT', 'PROTO', 'OPERATION', 'PATH', 'BYTES', 'RESULT'],
          entries.reverse().map((e) => [isoTime(e.at), e.session, e.user, e.asset, e.account, e.protocol, e.operation, e.path2 ? `${e.path} -> ${e.path2}` : e.path, e.bytes, e.message ? `${e.result}: ${e.message}` : e.result]),
        ) : 'No transfers match.');
      return 0;
    });
  },
};
