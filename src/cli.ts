/**
 * `warden` command line. Each command is one entry in COMMANDS; errors are WardenErrors with
 * a message that says what to do, printed without a stack trace.
 *
 * Modules are imported inside each command: an admin's `warden kill` should not pay for
 * loading the terminal emulator, the SSH server and the actor runtime it never uses.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import type { Config } from './config.js';
import { WardenError } from './errors.js';
import type { Registry, SessionRecord } from './registry.js';
import { age, isoTime, table } from './cli-table.js';
import { parseDuration } from './duration.js';
import { printable } from './text.js';

type Flags = Record<string, string | boolean | undefined>;
interface Command {
  usage: string;
  options?: Record<string, { type: 'string' | 'boolean'; short?: string }>;
  run(flags: Flags, positionals: string[]): Promise<number>;
}

const CONFIG = { config: { type: 'string' as const, short: 'c' } };

async function config(flags: Flags): Promise<Config> {
  if (typeof flags.config !== 'string') throw new WardenError('USAGE', '--config FILE is required');
  const { loadConfig } = await import('./config.js');
  return loadConfig(flags.config);
}

async function withRegistry<T>(flags: Flags, fn: (registry: Registry, cfg: Config) => Promise<T>): Promise<T> {
  const cfg = await config(flags);
  const [{ connectRedisForCli }, { RedisKeys }, { Registry }] = await Promise.all([import('./redis.js'), import('./redis-keys.js'), import('./registry.js')]);
  const redis = await connectRedisForCli(cfg);
  try {
    return await fn(new Registry(redis, new RedisKeys(cfg.redisPrefix), { retentionMs: cfg.registry.retention, historyMax: cfg.registry.historyMax }), cfg);
  } finally {
    redis.disconnect();
  }
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d) => (data += d));
    process.stdin.on('end', () => resolve(data));
    process.stdin.on('error', reject);
  });
}

function sessionRows(records: SessionRecord[]): string {
  return table(
    ['ID', 'USER', 'ASSET', 'ACCOUNT', 'INSTANCE', 'REMOTE', 'KIND', 'STARTED', 'LAST ACTIVITY', 'STATE', 'REASON'],
    records.map((r) => [r.id, r.user || undefined, r.asset || undefined, r.account || undefined, r.instance, r.remote, r.kind, isoTime(r.start), age(r.lastActivity), r.state, r.reason && (r.by ? `${r.reason} by ${r.by}` : r.reason)]),
  );
}

const COMMANDS: Record<string, Command> = {
  start: {
    usage: 'warden start --config FILE [--pretty]',
    options: { ...CONFIG, pretty: { type: 'boolean' } },
    async run(flags) {
      const cfg = await config(flags);
      const [{ createLogger }, { startInstance }] = await Promise.all([import('./logger.js'), import('./instance.js')]);
      const log = createLogger({ pretty: flags.pretty === true });
      const instance = await startInstance(cfg, log);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info({ signal }, 'shutting down: closing sessions');
          void instance.stop().then(resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      log.flush?.();
      // Clients that ignore the disconnect must not keep a stopped Warden alive.
      setTimeout(() => process.exit(0), 1_000).unref();
      return 0;
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
      return withRegistry(flags, async (registry) => {
        const ids = target ? [await registry.resolve(target)] : (await registry.listLive()).filter((r) => r.user === flags.user).map((r) => r.id);
        if (ids.length === 0) {
          console.log(`No live sessions of user ${printable(String(flags.user))}.`);
          return 0;
        }
        const { ControlClient, describeKill } = await import('./control-client.js');
        const client = new ControlClient(registry.redis, registry, registry.keys);
        try {
          const reports = await Promise.all(ids.map((id) => client.kill(id, { by, reason, timeoutMs })));
          for (const r of reports) console.log(flags.json ? JSON.stringify(r) : describeKill(r, by));
          return reports.some((r) => r.outcome === 'timeout' || r.outcome === 'not_found') ? 1 : 0;
        } finally {
          await client.close();
        }
      });
    },
  },
  terminals: {
    usage: 'warden terminals [--json] --config FILE',
    options: { ...CONFIG, json: { type: 'boolean' } },
    async run(flags) {
      return withRegistry(flags, async (registry) => {
        const { redis } = registry;
        const [{ InstanceRegistry }, { Counters }] = await Promise.all([import('./instances.js'), import('./counters.js')]);
        const list = await new InstanceRegistry(redis, registry.keys).list();
        const counters = await new Counters(redis, registry.keys).read();
        if (flags.json) console.log(JSON.stringify({ instances: list, counters }, null, 2));
        else {
          console.log(list.length ? table(
            ['INSTANCE', 'ADDRESS', 'HOST', 'PID', 'VERSION', 'STARTED', 'HEARTBEAT', 'SESSIONS', 'LEASE'],
            list.map((i) => [i.id, i.address, i.host, i.pid, i.version, isoTime(i.started), age(i.heartbeat), i.sessions, i.alive ? 'held' : 'EXPIRED']),
          ) : 'No instances registered.');
          console.log(`\nCounters: ${Object.entries(counters).map(([k, v]) => `${k}=${v}`).join(' ')}`);
        }
        return 0;
      });
    },
  },
  verify: {
    usage: 'warden verify <id-or-prefix> --config FILE',
    options: CONFIG,
    async run(flags, positionals) {
      if (!positionals[0]) throw new WardenError('USAGE', 'give a session id or unique prefix');
      return withRegistry(flags, async (registry, cfg) => {
        const [{ recordingFile }, { verifyRecording }] = await Promise.all([import('./audit/recording-files.js'), import('./recording/verify.js')]);
        const rec = (await registry.get(await registry.resolve(positionals[0]!)))!;
        const file = recordingFile(cfg, rec);
        if (!file) throw new WardenError('RECORDING_NOT_FOUND', `session ${rec.id} (looked in ${cfg.recording.dir ?? `${cfg.dataDir}/recordings`})`);
        const res = await verifyRecording(file, { expectedHead: rec.recordingChainHead });
        if (res.ok) {
          console.log(`OK: ${file} is intact (${res.chunks} chunks, ${res.bytes} bytes, chain head ${res.chainHead.slice(0, 16)}…${rec.recordingChainHead ? ', matches the registry' : ''}).`);
          if (rec.recordingSha256) console.log(`sha256 of the compressed file in the registry: ${rec.recordingSha256}`);
          return 0;
        }
        console.log(`TAMPERED: ${file}: chunk ${res.chunk} ${res.problem}: ${res.detail}`);
        return 1;
      });
    },
  },
  replay: {
    usage: 'warden replay <id-or-prefix> [--speed N] [--max-idle SECONDS] --config FILE',
    options: { ...CONFIG, speed: { type: 'string' }, 'max-idle': { type: 'string' } },
    async run(flags, positionals) {
      if (!positionals[0]) throw new WardenError('USAGE', 'give a session id or unique prefix');
      const speed = Number(flags.speed ?? 1);
      if (!(speed > 0)) throw new WardenError('USAGE', `--speed "${flags.speed}" must be a positive number`);
      return withRegistry(flags, async (registry, cfg) => {
        const [{ recordingFile }, { replay }] = await Promise.all([import('./audit/recording-files.js'), import('./recording/replay.js')]);
        const rec = (await registry.get(await registry.resolve(positionals[0]!)))!;
        const file = recordingFile(cfg, rec);
        if (!file) throw new WardenError('RECORDING_NOT_FOUND', `session ${rec.id}`);
        await replay(file, { speed, out: process.stdout, maxIdleSeconds: flags['max-idle'] ? Number(flags['max-idle']) : 2 });
        return 0;
      });
    },
  },
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
        else console.log(entries.length ? table(['TIME', 'SESSION', 'USER', 'ASSET', 'ACCOUNT', 'AT (s)', 'TAG', 'COMMAND'], entries.reverse().map((e) => [isoTime(e.at), e.session, e.user, e.asset, e.account, e.offset.toFixed(1), e.tag, e.command])) : 'No commands match.');
        return 0;
      });
    },
  },
  hostkeys: {
    usage: 'warden hostkeys [--forget ASSET] --config FILE',
    options: { ...CONFIG, forget: { type: 'string' }, json: { type: 'boolean' } },
    async run(flags) {
      const cfg = await config(flags);
      const [{ connectRedisForCli }, { RedisKeys }, { HostKeyStore, fingerprint, parseHostKeyLine }] = await Promise.all([import('./redis.js'), import('./redis-keys.js'), import('./hostkeys.js')]);
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
