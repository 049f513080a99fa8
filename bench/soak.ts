/**
 * `npm run soak [-- --minutes 30 --idle 200 --sample 60]`: a long run that shows Warden stays
 * flat. A Warden process (real redis-server, real sshd, real ssh clients) carries `--idle`
 * idle sessions for the whole run plus steady churn (`ssh ... true` two at a time). Every
 * `--sample` seconds the churn pauses until its sessions are gone, then one row is printed:
 * Warden's RSS and open fds, Redis key count, jobs in the control queue, the live registry and
 * the TCP connections Warden really holds (they must be equal). Exit 1 if anything grows or the
 * registry ever differs from the connections. Not part of CI (it takes as long as you ask).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { RedisKeys } from '../src/redis-keys.js';
import { sleep, trackChild, waitUntil } from '../test/helpers/processes.js';
import { startRedis } from '../test/helpers/redis.js';
import { runSsh, sshCommand } from '../test/helpers/ssh-client.js';
import { startSshd } from '../test/helpers/sshd.js';
import { spawnWarden } from '../test/helpers/warden-process.js';
import { establishedTo } from '../test/helpers/idle-shells.js';
import { GENEROUS_ADMISSION } from '../test/helpers/warden.js';

const { values } = parseArgs({ options: { minutes: { type: 'string' }, idle: { type: 'string' }, sample: { type: 'string' } } });
const minutes = Number(values.minutes ?? 30);
const idleCount = Number(values.idle ?? 200);
const sampleSec = Number(values.sample ?? 60);

const redis = await startRedis();
const sshd = await startSshd({ config: { MaxStartups: '400:30:600', MaxSessions: 400 } });
const prefix = `soak${Date.now().toString(36)}`;
// Every client comes from 127.0.0.1, ten logins at a time: the shipped per-source admission
// limit would refuse some, which is the load generator's shape, not what the soak is about.
const warden = await spawnWarden({
  redisUrl: redis.url, sshd, prefix, instanceId: 'soak-1',
  auth: `{ maxTries: 6, loginGraceTime: 60s, ${GENEROUS_ADMISSION} }`, extraYaml: 'session: { idleTimeout: 12h }',
});
const pid = warden.child.pid!;
const keys = new RedisKeys(prefix);
const r = new Redis(redis.url);
const login = 'alice@target@web1';

function rssMiB(): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}
const fds = () => readdirSync(`/proc/${pid}/fd`).length;
/** Established TCP connections whose local port is Warden's: the sessions that really exist. */
const tcpSessions = (): number => establishedTo(warden.port);
async function controlJobs(): Promise<number> {
  const q = `${keys.bullPrefix}:${keys.controlQueue('soak-1')}`;
  const [delayed, wait, active] = await Promise.all([r.zcard(`${q}:delayed`), r.llen(`${q}:wait`), r.llen(`${q}:active`)]);
  return delayed + wait + active;
}

// The idle sessions: ssh clients that run `sleep` and never type.
const idle: ChildProcess[] = [];
for (let i = 0; i < idleCount; i++) {
  const { argv, env } = sshCommand({ port: warden.port, login, identity: warden.aliceKey, command: 'sleep 86400' });
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', env: { ...process.env, ...env } });
  trackChild(child);
  idle.push(child);
  if (i % 10 === 9) await waitUntil('idle sessions open', async () => (await r.scard(keys.live)) >= i + 1, { timeoutMs: 60_000 });
}

let churned = 0;
let failures = 0;
let paused = false;
let stopping = false;
const inFlight = new Set<Promise<unknown>>();
async function churn(): Promise<void> {
  while (!stopping) {
    if (paused) {
      await sleep(100);
      continue;
    }
    const p = runSsh({ port: warden.port, login, identity: warden.aliceKey, command: 'true' }).then((res) => {
      churned++;
      if (res.code !== 0) failures++;
    });
    inFlight.add(p);
    await p.finally(() => inFlight.delete(p));
  }
}
const churners = [churn(), churn()];

interface Row { min: number; rss: number; fds: number; keys: number; jobs: number; live: number; tcp: number; churned: number }
const rows: Row[] = [];
const started = Date.now();
console.log(`soak: ${minutes} min, ${idleCount} idle sessions, churn 2 at a time; Warden pid ${pid}, port ${warden.port}`);
console.log('min   rss MiB   fds   redis keys   ctl jobs   live   tcp   churned');
while (Date.now() - started < minutes * 60_000) {
  await sleep(Math.min(sampleSec * 1000, minutes * 60_000 - (Date.now() - started)));
  paused = true;
  await Promise.all([...inFlight]);
  // Let the last churned sessions' records be final and their sockets close.
  await waitUntil('registry settled', async () => (await r.scard(keys.live)) === tcpSessions(), { timeoutMs: 15_000 }).catch(() => {});
  const row: Row = {
    min: (Date.now() - started) / 60_000, rss: rssMiB(), fds: fds(), keys: await r.dbsize(), jobs: await controlJobs(),
    live: await r.scard(keys.live), tcp: tcpSessions(), churned,
  };
  rows.push(row);
  console.log(`${row.min.toFixed(1).padStart(4)}  ${row.rss.toFixed(1).padStart(8)}  ${String(row.fds).padStart(4)}  ${String(row.keys).padStart(11)}  ${String(row.jobs).padStart(9)}  ${String(row.live).padStart(5)}  ${String(row.tcp).padStart(4)}  ${String(row.churned).padStart(8)}`);
  paused = false;
}

stopping = true;
await Promise.all(churners);
for (const c of idle) c.kill('SIGTERM');
const first = rows[Math.min(1, rows.length - 1)]!; // the first minute includes warm-up
const last = rows[rows.length - 1]!;
const problems: string[] = [];
if (rows.some((x) => x.live !== x.tcp)) problems.push('the live registry differed from the open TCP connections at some sample');
if (last.fds > first.fds + 10) problems.push(`fds grew ${first.fds} -> ${last.fds}`);
if (last.rss > first.rss * 1.25 + 20) problems.push(`RSS grew ${first.rss.toFixed(1)} -> ${last.rss.toFixed(1)} MiB`);
if (last.jobs > first.jobs + 10) problems.push(`control queue grew ${first.jobs} -> ${last.jobs} jobs`);
if (failures > 0) problems.push(`${failures} of ${churned} churn sessions failed`);
console.log(`\n${churned} churned sessions (${failures} failed); Redis keys ${first.keys} -> ${last.keys} (finished records are kept for the retention, trimmed at historyMax)`);
console.log(problems.length ? `NOT FLAT:\n- ${problems.join('\n- ')}` : 'flat: registry equal to TCP connections at every sample; fds, RSS and control queue steady');
await warden.stop();
r.disconnect();
await Promise.all([sshd.stop(), redis.stop()]);
process.exit(problems.length ? 1 : 0);
