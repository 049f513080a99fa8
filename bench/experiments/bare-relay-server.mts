/**
 * A bare ssh2 relay in its own process, for idle-pieces.mts: accepts any login, dials the target
 * at once (as Warden does after authentication) and pipes a pty shell through, nothing else. Its
 * per-session memory is the floor any ssh2-based relay pays (two connections, two channels).
 *
 *   node --import tsx bench/experiments/bare-relay-server.mts <targetPort> <targetUser> <keyFile>
 * Prints {"port": N} once listening.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { PseudoTtyInfo } from 'ssh2';
import { Client, Server, utils } from '../../src/ssh2.js';

const [targetPort, targetUser, keyFile] = process.argv.slice(2);
const privateKey = readFileSync(keyFile!);
const hostKey = utils.generateKeyPairSync('ed25519').private;

const server = new Server({ hostKeys: [hostKey] }, (client) => {
  client.on('error', () => {});
  client.on('authentication', (ctx) => ctx.accept());
  client.on('ready', () => {
    const target = new Client();
    target.on('error', () => client.end());
    target.on('close', () => client.end());
    client.on('close', () => target.end());
    let ready = false;
    const waiting: Array<() => void> = [];
    target.once('ready', () => {
      ready = true;
      for (const w of waiting.splice(0)) w();
    });
    target.connect({ host: '127.0.0.1', port: Number(targetPort), username: targetUser, privateKey });
    client.on('session', (accept) => {
      const s = accept();
      let pty: PseudoTtyInfo | undefined;
      s.on('pty', (a, _r, info) => {
        pty = info;
        a?.();
      });
      s.on('shell', (a) => {
        const down = a();
        const open = () =>
          target.shell(pty ?? false, (err, up) => {
            if (err) return down.end();
            down.pipe(up);
            up.pipe(down);
          });
        if (ready) open();
        else waiting.push(open);
      });
    });
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`));
