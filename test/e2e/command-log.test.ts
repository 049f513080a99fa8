/**
 * The command log with NO rules on the grant, end to end: a real ssh client in a tmux pane,
 * through Warden, to a real sshd running bash. Lines edited with Backspace, arrows, Home/End,
 * Ctrl-A/E/U/W/K, Ctrl-R and Tab are sent as one burst each (tmux send-keys of a whole string,
 * as a paste or a fast typist does), so their echo reaches Warden after the Enter; without a
 * filter nothing holds that Enter, and the log must still be exactly what ran.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandLogEntry } from '../../src/audit/audit-queues.js';
import { makeTempDir, removeTempDir, waitUntil } from '../helpers/processes.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startTerminal } from '../helpers/tmux.js';
import { aliceSsh, startWarden, type WardenHandle } from '../helpers/warden.js';
import { runCli } from '../helpers/warden-process.js';

let redis: RedisHandle;
let sshd: SshdHandle;
let warden: WardenHandle;
const workDir = makeTempDir('warden-cmdlog-', 0o777);

beforeAll(async () => {
  [redis, sshd] = await Promise.all([startRedis(), startSshd()]);
  warden = await startWarden({ redisUrl: redis.url, sshd });
  for (const name of ['warden-notes.txt', 'warden-plan.txt']) writeFileSync(`${workDir}/${name}`, `${name}\n`);
});

afterAll(async () => {
  await warden?.stop();
  await Promise.all([sshd?.stop(), redis?.stop()]);
  removeTempDir(workDir);
});

const LEFT = '\x1b[D';
const RIGHT = '\x1b[C';
const LONG_TAIL = '0123456789'.repeat(10);

/** [burst sent as one string, output that shows it ran, command it must log (none: erased)]. */
const BURSTS: Array<[string, RegExp, string?]> = [
  ['echo deltX\x7fa\r', /^delta$/m, 'echo delta'],
  [`echo wrld${LEFT.repeat(3)}o${RIGHT.repeat(3)}.\r`, /^world\.$/m, 'echo world.'],
  ['cho x\x1b[He\x1b[F y\r', /^x y$/m, 'echo x y'],
  ['cho z\x01e\x05 w\r', /^z w$/m, 'echo z w'],
  ['echo wrong\x15echo right\r', /^right$/m, 'echo right'],
  ['echo erased-line\x15\r', /^\$\s*\n\$\s*$/m],
  ['echo one two\x17three\r', /^one three$/m, 'echo one three'],
  [`echo keep drop${LEFT.repeat(5)}\x0b\r`, /^keep$/m, 'echo keep'],
  ['\x12one th\r', /^one three$/m, 'echo one three'],
  ['cat warden-n\t\r', /^warden-notes\.txt$/m, 'cat warden-notes.txt'],
  ['ls warden-\t\tp\t\r', /^warden-plan\.txt$/m, 'ls warden-plan.txt'],
  [`echo ${'abcdefghij'.repeat(9)}X\x7f end\x1b[H${RIGHT.repeat(5)}\x0bwrapped ${LONG_TAIL}\r`, /^wrapped 0123456789/m, `echo wrapped ${LONG_TAIL}`],
  // Two edited lines in ONE chunk: the second is read while the first runs.
  ['echo multi-X\x7f1\recho multi-2\x15echo multi-two\r', /^multi-two$/m, 'echo multi-1'],
];

describe('command log without rules', () => {
  it('logs burst-typed edited lines exactly as they ran, and never a line erased with Ctrl-U', async () => {
    const term = await startTerminal({ command: aliceSsh(warden, 'alice@target@web1'), cols: 100, rows: 40 });
    await term.waitFor(/@[\w.-]+:~\$\s*$/m);
    await term.send(`PS1='$ '; HISTFILE=/dev/null; cd ${workDir}; clear`);
    await term.sendKey('Enter');
    await term.waitFor(/^\$\s*$/m);
    let id = '';
    await waitUntil('live shell', async () => {
      id = (await warden.instance.registry.listLive()).find((r) => r.kind === 'shell')?.id ?? '';
      return id !== '';
    });
    for (const [burst, ran] of BURSTS) {
      await term.send('clear\r');
      await term.waitFor(/^\$\s*$/);
      await term.send(burst);
      await term.waitFor(ran);
      await term.waitFor(/^\$\s*$/m);
    }
    await term.send('exit\r');
    await term.exited();
    await term.kill();

    const expected = [`PS1='$ '; HISTFILE=/dev/null; cd ${workDir}; clear`];
    for (const [, , command] of BURSTS) {
      expected.push('clear');
      if (command) expected.push(command);
    }
    expected.push('echo multi-two', 'exit');
    let logged: string[] = [];
    await waitUntil('warden commands lists the session', async () => {
      const res = await runCli(['commands', '--session', id, '--json', '--limit', '200', '--config', warden.configFile]);
      logged = res.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as CommandLogEntry)
        .reverse().map((e) => (e.tag ? `${e.tag}: ${e.command}` : e.command));
      return logged.length >= expected.length;
    }, { timeoutMs: 30_000, details: () => JSON.stringify(logged, null, 1) });
    expect(logged).toEqual(expected);
    expect(logged.join('\n')).not.toContain('erased-line');
    expect(logged.join('\n')).not.toMatch(/wrong|deltX|drop/);
  }, 120_000);
});
