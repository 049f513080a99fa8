/**
 * `warden` command line. Each command is one entry in COMMANDS; errors are WardenErrors with
 * a message that says what to do, printed without a stack trace.
 *
 * Modules are imported inside each command: an admin's `warden kill` should not pay for
 * loading the terminal emulator, the SSH server and the actor runtime it never uses.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { WardenError } from './errors.js';
import type { SessionRecord } from './registry.js';
import { CONFIG, config, readStdin, withRegistry, type Command, type Flags } from './cli-common.js';
import { RECORDING_COMMANDS } from './cli-recordings.js';
import { transfers } from './cli-transfers.js';
import { age, isoTime, table } from './cli-table.js';
import { parseDuration } from './duration.js';
import { printable } from './text.js';
import { KILL_BY_MAX, KILL_REASON_MAX } from './kill-channel.js';


/** "exec+sftp+shell" for a connection that carried several kinds of channel. */
function channelKinds(r: SessionRecord): string {
  const kinds = [...new Set(r.channels.map((c) => c.kind))].sort();
  return kinds.length > 1 ? kinds.join('+') : r.kind;
}

function sessionRows(records: SessionRecord[]): string {
  return table(
    ['ID', 'USER', 'ASSET', 'ACCOUNT', 'INSTANCE', 'REMOTE', 'KIND', 'CH', 'STARTED', 'LAST ACTIVITY', 'STATE', 'REASON'],
    records.map((r) => [
      r.id, r.user || undefined, r.asset || undefined, r.account || undefined, r.instance, r.remote, channelKinds(r), r.channelCount,
      isoTime(r.start), age(r.lastActivity), r.state, r.reason && (r.by ? `${r.reason} by ${r.by}` : r.reason),
    ]),
  );
}

const COMMANDS: Record<string, Command> = {
  start: {
    usage: 'warden start --config FILE [--workers N] [--pretty]   (N processes share the port; default one per core)',
    options: { ...CONFIG, pretty: { type: 'boolean' }, workers: { type: 'string' } },
    async run(flags) {
      const cfg = await config(flags);
      const { startCommand } = await import('./cluster/start-command.js');
      return startCommand(cfg, { pretty: flags.pretty === true, workers: flags.workers as string | undefined });
    },
  },
  'check-config': {
    usage: 'warden check-config --config FILE',
    options: CONFIG,
    async run(flags) {
      const cfg = await config(flags);
      const missingKeys = Object.entries(cfg.assets).filter(([, a]) => !a.hostKey).map(([n]) => n);
      console.log(`${cfg.file}: OK (${Object.keys(cfg.users).length} users, ${Object.keys(cfg.assets).length} assets, ${Object.keys(cfg.accounts).length} accounts, ${cfg.grants.length} grants)`);
      if (missingKeys.length) console.log(`warning: assets without hostKey are refused until one is set: ${missingKeys.join(', ')}`);
      return 0;
    },
  },
  'hash-password': {
    usage: 'warden hash-password   (reads the password on stdin)',
    async run() {
      const { hashPassword } = await import('./password.js');
      const input = (await readStdin()).replace(/\r?\n$/, '');
      if (!input) throw new WardenError('USAGE', 'empty password on stdin (try: printf %s "$PW" | warden hash-password)');
      console.log(await hashPassword(input));
      return 0;
    },
  },
  'hash-token': {
    usage: 'warden hash-token [--new]   (reads the token on stdin; --new makes one and prints both)',
    options: { new: { type: 'boolean' } },
    async run(flags) {
      const { hashToken, newToken } = await import('./admin/tokens.js');
      const token = flags.new ? newToken() : (await readStdin()).replace(/\r?\n$/, '');
      if (token.length < 16) throw new WardenError('USAGE', 'a token needs at least 16 characters (or use --new)');
      if (flags.new) console.log(`token: ${token}`);
      console.log(flags.new ? `hash:  ${hashToken(token)}` : hashToken(token));
      return 0;
    },
  },
  sessions: {
    usage: 'warden sessions [--all] [--json] --config FILE',
    options: { ...CONFIG, all: { type: 'boolean' }, json: { type: 'boolean' }, limit: { type: 'string' } },
    async run(flags) {
      return withRegistry(flags, async (registry) => {
        const live = await registry.listLive();
        const recent = flags.all ? await registry.listRecent(Number(flags.limit ?? 50)) : [];
        if (flags.json) console.log(JSON.stringify({ live, recent }, null, 2));
        else {
          console.log(live.length ? sessionRows(live) : 'No live sessions.');
          if (flags.all) console.log(`\nRecently finished:\n${recent.length ? sessionRows(recent) : 'none'}`);
        }
        return 0;
      });
    },
  },
  kill: {
    usage: 'warden kill <id-or-prefix> | --user NAME [--reason TEXT] [--by NAME] [--timeout 5s] --config FILE',
    options: { ...CONFIG, user: { type: 'string' }, reason: { type: 'string' }, by: { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean' } },
    async run(flags, positionals) {
      const target = positionals[0];
      if (!target === !flags.user) throw new WardenError('USAGE', 'give a session id (or unique prefix) or --user NAME');
      const timeoutMs = parseDuration(String(flags.timeout ?? '5s'));
      if (timeoutMs === undefined) throw new WardenError('USAGE', `--timeout "${flags.timeout}" is not a duration`);
      const by = typeof flags.by === 'string' ? flags.by : userInfo().username;
      const reason = typeof flags.reason === 'string' ? flags.reason : undefined;
      if (!by || by.length > KILL_BY_MAX) throw new WardenError('USAGE', `--by takes 1-${KILL_BY_MAX} characters`);
      if (reason !== undefined && (!reason || reason.length > KILL_REASON_MAX)) throw new WardenError('USAGE', `--reason takes 1-${KILL_REASON_MAX} characters (the user reads it)`);
      return withRegistry(flags, async (registry) => {
        const { ControlClient, describeKill } = await import('./control-client.js');
        const client = new ControlClient(registry.redis, registry, registry.keys);
        client.prepare(); // the acknowledgement subscription opens while the session is looked up
        try {
          const ids = target ? [await registry.resolve(target)] : (await registry.listLive()).filter((r) => r.user === flags.user).map((r) => r.id);
          if (ids.length === 0) {
            console.log(`No live sessions of user ${printable(String(flags.user))}.`);
            return 0;
          }
          const reports = await Promise.all(ids.map((id) => client.kill(id, { by, reason, timeoutMs })));
          for (const r of reports) console.log(flags.json ? JSON.stringify(r) : describeKill(r, by));
          return reports.some((r) => r.outcome === 'timeout' || r.outcome === 'not_found') ? 1 : 0;
        } finally {
          await client.close();
        }
      });
    },
  },
  watch: {
    usage: 'warden watch <id-or-prefix> --config FILE   (read-only; q or Ctrl-C leaves)',
    options: { ...CONFIG },
    async run(flags, positionals) {
      const target = positionals[0];
      if (!target) throw new WardenError('USAGE', 'give a session id (or unique prefix)');
      return withRegistry(flags, async (registry) => {
        const id = await registry.resolve(target);
        const { watchInTerminal } = await import('./watch/watch-terminal.js');
        return watchInTerminal(registry, id);
      });
    },
  },
  terminals: {
    usage: 'warden terminals [--json] --config FILE',
    options: { ...CONFIG, json: { type: 'boolean' } },
    async run(flags) {
      return withRegistry(flags, async (registry) => {
        const { redis } = registry;
        const [{ InstanceRegistry }, { Counters }] = await Promise.all([import('./instance-registry.js'), import('./counters.js')]);
        const list = await new InstanceRegistry(redis, registry.keys).list();
        const counters = await new Counters(redis, registry.keys).read();
        if (flags.json) console.log(JSON.stringify({ instances: list, counters }, null, 2));
        else {
          console.log(list.length ? table(
            ['INSTANCE', 'WORKER', 'ADDRESS', 'HOST', 'PID', 'VERSION', 'STARTED', 'HEARTBEAT', 'SESSIONS', 'LOGINS', 'AUTH FAILED', 'ENDED', 'LEASE'],
            // By id: the workers of one `warden start` (`<id>-w1`, `-w2`, ...) sit together.
            list.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true })).map((i) => [
              i.id, i.worker || undefined, i.address, i.host, i.pid, i.version, isoTime(i.started), age(i.heartbeat), i.sessions, i.counts.logins, i.counts.auth_failures, i.counts.ended, i.alive ? 'held' : 'EXPIRED',
            ]),
          ) : 'No instances registered.');
          console.log(`\nCounters: ${Object.entries(counters).map(([k, v]) => `${k}=${v}`).join(' ')}`);
        }
        return 0;
      });
    },
  },
  ...RECORDING_COMMANDS,
  commands: {
    usage: 'warden commands [--session ID] [--user U] [--asset A] [--grep RE] [--limit N] [--json] --config FILE',
    options: { ...CONFIG, session: { type: 'string' }, user: { type: 'string' }, asset: { type: 'string' }, grep: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
    async run(flags) {
      let grep: RegExp | undefined;
      try {
        grep = typeof flags.grep === 'string' ? new RegExp(flags.grep) : undefined;
      } catch (err) {
        throw new WardenError('USAGE', `--grep: ${(err as Error).message}`);
      }
      return withRegistry(flags, async (registry) => {
        const { queryCommands } = await import('./audit/audit-queues.js');
        const entries = await queryCommands(registry.redis, registry.keys, {
          session: flags.session as string | undefined, user: flags.user as string | undefined, asset: flags.asset as string | undefined, grep, limit: Number(flags.limit ?? 100),
        });
        if (flags.json) for (const e of entries) console.log(JSON.stringify(e));
        else console.log(entries.length ? table(['TIME', 'SESSION.CHANNEL', 'USER', 'ASSET', 'ACCOUNT', 'AT (s)', 'TAG', 'COMMAND'], entries.reverse().map((e) => [isoTime(e.at), e.channel ? `${e.session}.${e.channel}` : e.session, e.user, e.asset, e.account, e.offset.toFixed(1), e.tag, e.command])) : 'No commands match.');
        return 0;
      });
    },
  },
  transfers,
  hostkeys: {
    usage: 'warden hostkeys [--forget ASSET] --config FILE',
    options: { ...CONFIG, forget: { type: 'string' }, json: { type: 'boolean' } },
    async run(flags) {
      const cfg = await config(flags);
      const [{ connectRedisForCli }, { RedisKeys }, { HostKeyStore, fingerprint, parseHostKeyLine }] = await Promise.all([import('./redis-connection.js'), import('./redis-keys.js'), import('./hostkeys.js')]);
      const fingerprintOf = (line: string) => fingerprint(parseHostKeyLine(line).blob);
      const redis = await connectRedisForCli(cfg);
      try {
        const store = new HostKeyStore(redis, new RedisKeys(cfg.redisPrefix));
        if (typeof flags.forget === 'string') {
          const gone = await store.forget(flags.forget);
          console.log(gone ? `Forgot the trusted key of ${flags.forget}; the next connection trusts the key it sees.` : `No trusted key stored for ${flags.forget}.`);
          return gone ? 0 : 1;
        }
        const trusted = await store.list();
        const rows = Object.entries(cfg.assets).map(([name, a]) => {
          const mode = a.hostKey === 'tofu' ? 'tofu' : a.hostKey ? 'pinned' : 'none (refused)';
          const line = a.hostKey && a.hostKey !== 'tofu' ? a.hostKey : trusted[name];
          return [name, `${a.host}:${a.port}`, mode, line ? fingerprintOf(line) : undefined];
        });
        if (flags.json) console.log(JSON.stringify(rows.map(([asset, address, mode, fp]) => ({ asset, address, mode, fingerprint: fp })), null, 2));
        else console.log(table(['ASSET', 'ADDRESS', 'MODE', 'FINGERPRINT'], rows));
        return 0;
      } finally {
        redis.disconnect();
      }
    },
  },
};


function usage(): string {
  return `Usage:\n${Object.values(COMMANDS).map((c) => `  ${c.usage}`).join('\n')}`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`warden: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  try {
    const { values, positionals } = parseArgs({ args: rest, options: command.options ?? {}, allowPositionals: true, strict: true });
    return await command.run(values as Flags, positionals);
  } catch (err) {
    if (err instanceof WardenError) {
      console.error(`warden ${name}: ${err.message} [${err.code}]`);
      return 1;
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`warden ${name}: ${(err as Error).message}\nusage: ${command.usage}`);
      return 2;
    }
    console.error(`warden ${name}: unexpected error: ${(err as Error).stack ?? err}`);
    return 1;
  }
}
