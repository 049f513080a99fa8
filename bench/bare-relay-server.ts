/**
 * The floor under Warden's keystroke figure: a bare ssh2 relay, the least an ssh2 bastion can
 * do. It accepts any client without checking, opens one connection to the target per client,
 * and pipes a pty shell both ways, with TCP no-delay on both sockets and Warden's algorithm
 * lists. No registry, no actor, no recorder, no command tracker. Never run it outside the bench.
 *
 *   node bench/bare-relay-server.ts TARGET_PORT TARGET_USER TARGET_KEY_FILE
 * prints `listening PORT` once it listens on 127.0.0.1.
 */
import { readFileSync } from 'node:fs';
import type { PseudoTtyInfo, ServerChannel } from 'ssh2';
import { Client, rawServer, Server, utils } from '../src/ssh2.js';
import { clientAlgorithms, serverAlgorithms } from '../src/ssh-algorithms.js';

const [port, username, keyFile] = process.argv.slice(2);
if (!port || !username || !keyFile) throw new Error('usage: bare-relay-server.ts TARGET_PORT TARGET_USER TARGET_KEY_FILE');
const privateKey = readFileSync(keyFile);
const hostKey = utils.generateKeyPairSync('ed25519').private;

const server = new Server({ hostKeys: [hostKey], algorithms: serverAlgorithms() }, (conn) => {
  conn.on('authentication', (ctx) => ctx.accept());
  conn.on('error', () => undefined);
  conn.on('ready', () => {
    const target = new Client();
    target.on('error', () => conn.end());
    const ready = new Promise<void>((resolve) =>
      target.once('ready', () => {
        target.setNoDelay(true);
        resolve();
      }),
    );
    target.connect({ host: '127.0.0.1', port: Number(port), username, privateKey, algorithms: clientAlgorithms() });
    conn.on('close', () => target.end());
    conn.on('session', (accept) => {
      const session = accept();
      let pty: PseudoTtyInfo | undefined;
      session.on('pty', (ok, _no, info) => {
        pty = info;
        ok?.();
      });
      session.on('shell', (ok) => {
        const ch: ServerChannel = ok();
        void ready.then(() =>
          target.shell(pty ? { term: pty.term, rows: pty.rows, cols: pty.cols, width: pty.width, height: pty.height, modes: pty.modes } : false, (err, t) => {
            if (err) return ch.close();
            ch.pipe(t);
            t.pipe(ch);
            t.stderr.pipe(ch.stderr);
            t.on('close', () => ch.end());
          }),
        );
      });
    });
  });
});
rawServer(server).on('connection', (s: import('node:net').Socket) => s.setNoDelay(true));
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(rawServer(server).address() as { port: number }).port}\n`);
});
