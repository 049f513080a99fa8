/**
 * Experiment (not part of npm run bench): where Warden's CPU goes while N sessions sit idle (the
 * idle-rss row's "CPU while 1000 sessions idle", target < 5% of a core). A Warden with
 * `--cpu-prof` (shipped defaults, as the bench's), N idle pty shells opened as that row opens
 * them, a settle, then an idle window: its CPU per thread from /proc, and the main thread's
 * samples in the window by bucket and by function.
 *
 *   npx tsx bench/experiments/idle-cpu.mts [N=1000] [SECONDS=20]
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { openIdleShells, type IdleShell, type IdleShellEndpoint } from '../../test/helpers/idle-shells.js';
import { makeTempDir, sleep } from '../../test/helpers/processes.js';
import { CRYPTO } from '../crypto.js';
import { threadCpuSeconds } from '../proc-stats.js';
import { startRedisAndTarget, Teardown, wardenLogin } from '../setup.js';
import { startBenchWarden } from '../warden-process.js';
import { monoUs, printSplit, splitProfile, topFunctions } from './cpu-profile-split.mjs';

const n = Number(process.argv[2] ?? 1000);
const seconds = Number(process.argv[3] ?? 20);

const teardown = new Teardown();
const open: IdleShell[] = [];
try {
  const { redis, target } = await startRedisAndTarget(teardown);
  const prof = makeTempDir('prof-idle');
  const warden = await startBenchWarden({ redisUrl: redis.url, target, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', prof] });
  teardown.push('warden', () => warden.stop());
  const endpoint = { port: warden.port, username: wardenLogin('web1'), privateKey: readFileSync(warden.aliceKey), algorithms: CRYPTO.equal.ssh2 as IdleShellEndpoint['algorithms'] };
  await openIdleShells(endpoint, n, open, { sources: 2, perSource: 4 });
  console.log(`${open.length} idle shells open; settling 15 s`);
  await sleep(15_000);
  const th0 = threadCpuSeconds(warden.pid);
  const t0 = monoUs();
  await sleep(seconds * 1000);
  const window: [number, number] = [t0, monoUs()];
  const th1 = threadCpuSeconds(warden.pid);
  const perThread = [...th1].map(([k, v]) => [k, ((v - (th0.get(k) ?? 0)) / seconds) * 100] as const).filter(([, pct]) => pct > 0);
  const total = perThread.reduce((a, [, pct]) => a + pct, 0);
  console.log(`Warden CPU over ${seconds} s idle: ${total.toFixed(1)}% of a core (/proc, 10 ms ticks): ${perThread.map(([k, pct]) => `${k} ${pct.toFixed(1)}%`).join(', ')}`);
  for (const s of open.splice(0)) s.close();
  // Let the sessions end before the stop: a Warden still ending 1000 sessions at SIGTERM can
  // outlast the helper's 10 s wait and be killed before it writes its profile.
  await sleep(25_000);
  await warden.stop();
  const main = readdirSync(prof).filter((f) => f.endsWith('.cpuprofile') && f.split('.')[4] === '0');
  if (main.length === 0) console.log(`no main-thread profile in ${prof}: ${readdirSync(prof).join(', ') || 'empty'}`);
  for (const f of main) {
    const file = path.join(prof, f);
    printSplit('main thread in the idle window', splitProfile(file, [window]));
    console.log('top self time in the window (ms per second):');
    for (const [ms, fn] of topFunctions(file, [window], 20)) console.log(`  ${(ms / seconds).toFixed(2).padStart(6)}  ${fn}`);
  }
} finally {
  for (const s of open) s.close();
  await teardown.run();
}
