/**
 * Experiment (not part of npm run bench): why the 128 MiB throughput rows flatter every relay.
 * The real OpenSSH client (straight to a target sshd, no Warden) streams the bench text file
 * into /dev/null, into a pipe read by `cat`, and into a pipe read by this Node process (as the
 * bench reads it), and prints how many MiB have arrived every 200 ms of the last case.
 *
 *   npx tsx bench/experiments/pipe-ramp.mts [MiB=128]
 *
 * On the 2-core VM of the README, 2026-12-02: 128 MiB take ~0.27 s into /dev/null but ~1.5 s
 * into a pipe, because the first ~1.2 s deliver only 20-30 MiB before the rate jumps to
 * 300+ MiB/s. The ramp is the same for every path (the client and its pipe are the same), so
 * it adds ~1.2 s to each transfer: at 128 MiB that pulls every ratio toward 1, at 512 MiB
 * much less.
 */
import { execFileSync, spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { sshCommand } from '../../test/helpers/ssh-client.js';
import { startSshd } from '../../test/helpers/sshd.js';
import { makeTextFile } from '../text-file.js';

const mib = Number(process.argv[2] ?? 128);
const target = await startSshd();
const text = makeTextFile(mib * 1048576);
try {
  const inv = sshCommand({ port: target.port, login: target.user, identity: target.clientKeyPath, command: `cat ${text.path}`, extraArgs: ['-c', 'aes128-gcm@openssh.com'] });
  const env = { ...process.env, ...inv.env };
  const quoted = inv.argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  for (const [label, sink] of [['/dev/null', '> /dev/null'], ['a pipe read by cat', '| cat > /dev/null']] as const) {
    const t0 = performance.now();
    execFileSync('sh', ['-c', `${quoted} ${sink}`], { env });
    console.log(`into ${label}: ${(performance.now() - t0).toFixed(0)} ms (connection setup included, ~0.27 s here)`);
  }
  const child = spawn(inv.argv[0]!, inv.argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env });
  let first = 0;
  let got = 0;
  let next = 0;
  const marks: string[] = [];
  child.stdout.on('data', (d: Buffer) => {
    const now = performance.now();
    if (!first) first = now;
    got += d.length;
    if (now - first >= next) {
      marks.push(`${(now - first).toFixed(0)} ms ${(got / 1048576).toFixed(1)} MiB`);
      next += 200;
    }
  });
  await new Promise((resolve) => child.once('close', resolve));
  console.log(`into a pipe read by Node, first byte to last ${(performance.now() - first).toFixed(0)} ms; arrived by then: ${marks.join(' · ')}`);
} finally {
  await target.stop();
}
