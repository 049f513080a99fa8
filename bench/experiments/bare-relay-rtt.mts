/**
 * Experiment (not part of npm run bench): keystroke round trip direct, through a bare ssh2
 * relay (server piped to client, nothing else) and through Warden, to separate what ssh2 and
 * Node cost per keystroke from what Warden adds. Run: npx tsx bench/experiments/bare-relay-rtt.mts
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Client, Server, utils } from '../../src/ssh2.js';
import { startRedis } from '../../test/helpers/redis.js';
import { startSshd } from '../../test/helpers/sshd.js';
import { startWarden } from '../../test/helpers/warden.js';

const [redis, sshd] = await Promise.all([startRedis(), startSshd()]);
const rec = process.env.REC ?? 'false';
const w = await startWarden({ redisUrl: redis.url, sshd, extraYaml: `recording: { enabled: ${rec} }` });
const targetKey = readFileSync(sshd.clientKeyPath);

// A bare relay: ssh2 server -> ssh2 client, shell piped, nothing else.
const hostKey = utils.generateKeyPairSync('ed25519').private;
const bare = new Server({ hostKeys: [hostKey] }, (client) => {
  client.on('authentication', (ctx) => ctx.accept());
  client.on('ready', () => {
    (client as any)._sock.setNoDelay(true);
    client.on('session', (accept) => {
      const s = accept();
      let pty: any;
      s.on('pty', (a, _r, info) => { pty = info; a?.(); });
      s.on('shell', (a) => {
        const down = a();
        const t = new Client();
        t.on('ready', () => { t.setNoDelay(true); t.shell(pty, (err, up) => { down.pipe(up); up.pipe(down); }); });
        t.connect({ host: '127.0.0.1', port: sshd.port, username: sshd.user, privateKey: targetKey });
      });
    });
  });
});
await new Promise<void>((r) => bare.listen(0, '127.0.0.1', () => r()));
const barePort = (bare.address() as any).port;

function shell(port: number, username: string, key?: Buffer): Promise<any> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('error', reject);
    c.on('ready', () => { c.setNoDelay(true); c.shell({ term: 'xterm', rows: 24, cols: 80 }, (err, st) => {
      if (err) return reject(err);
      st.write("stty raw -echo; PS1=; cat\n");
      setTimeout(() => resolve(st), 800);
    }); });
    c.connect({ host: '127.0.0.1', port, username, privateKey: key ?? targetKey, password: 'x' });
  });
}
async function rtt(st: any, n: number): Promise<number[]> {
  st.removeAllListeners('data');
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((r) => { st.once('data', () => r()); st.write('a'); });
    out.push(performance.now() - t0);
    await new Promise((r) => setImmediate(r));
  }
  return out.sort((a, b) => a - b);
}
const direct = await shell(sshd.port, sshd.user);
const viaBare = await shell(barePort, 'x');
const viaWarden = await shell(w.port, 'alice@target@web1', readFileSync(w.aliceKey));
for (let round = 0; round < 3; round++) {
  for (const [name, st] of [['direct', direct], ['bare', viaBare], ['warden', viaWarden]] as const) {
    const s = await rtt(st, 500);
    console.log(round, name, 'median', s[250]!.toFixed(3), 'p90', s[450]!.toFixed(3));
  }
}
process.exit(0);
