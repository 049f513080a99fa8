/**
 * The audit trail end to end, through Warden to a real sshd running bash: the command log of
 * a golden set of interactions, recordings that stock asciinema plays, `warden verify`
 * catching tampering, and the command filter stopping a command before the target runs it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryCommands, type CommandLogEntry } from '../../src/audit/audit-queues.js';
import { makeTempDir, waitUntil } from '../helpers/processes.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';
import { BASE_OPTIONS, runSsh } from '../helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startTerminal, type Terminal } from '../helpers/tmux.js';
import { aliceSsh, startWarden, type WardenHandle } from '../helpers/warden.js';
import { runCli } from '../helpers/warden-process.js';

let redis: RedisHandle;
let sshd: SshdHandle;
let warden: WardenHandle;
const markerDir = makeTempDir('warden-marker-', 0o777);
/** A file name of this run only (vi leaves a swap file next to it). */
const viFile = `${markerDir}/vi-test.txt`;

const rules = `commands: [{ deny: '^touch .*forbidden', message: "no forbidden files" }, { warn: '^sudo\\b' }]`;

beforeAll(async () => {
  [redis, sshd] = await Promise.all([startRedis(), startSshd()]);
  warden = await startWarden({ redisUrl: redis.url, sshd, extraYaml: process.env.WARDEN_TEST_RECORD_INPUT ? 'recording: { input: true }' : undefined, extraGrants: `  - { users: [alice], assets: [audit1], accounts: [target], ${rules} }` });
});

afterAll(async () => {
  await warden?.stop();
  await Promise.all([sshd?.stop(), redis?.stop()]);
  rmSync(markerDir, { recursive: true, force: true });
});

async function shell(login = 'alice@target@audit1'): Promise<Terminal> {
  const term = await startTerminal({
    command: aliceSsh(warden, login),
    cols: 100,
    rows: 30,
  });
  // Type at the shell's own prompt, as a person does (keys typed before the prompt has reached
  // the bastion are a documented limitation of reading commands from the screen).
  await term.waitFor(/@[\w.-]+:~\$\s*$/m);
  await term.send("PS1='$ '; HISTFILE=/dev/null; cd /tmp");
  await term.sendKey('Enter');
  await term.waitFor(/^\$\s*$/m);
  return term;
}

async function enter(term: Terminal, text: string, expect?: RegExp): Promise<void> {
  if (text) await term.send(text);
  await term.sendKey('Enter');
  if (expect) await term.waitFor(expect);
}

async function commandsOf(sessionPrefix: string, count: number): Promise<CommandLogEntry[]> {
  let got: CommandLogEntry[] = [];
  await waitUntil(`${count} commands logged`, async () => {
    got = (await queryCommands(warden.instance.redis, warden.instance.keys, { session: sessionPrefix, limit: 100 })).reverse();
    return got.length >= count;
  }, { timeoutMs: 30_000, details: () => JSON.stringify(got.map((e) => [e.tag, e.command])) });
  return got;
}

async function liveShellId(): Promise<string> {
  let id = '';
  await waitUntil('live shell', async () => {
    id = (await warden.instance.registry.listLive()).find((r) => r.kind === 'shell')?.id ?? '';
    return id !== '';
  });
  return id;
}

describe('command log', () => {
  it('logs what the user ran, as displayed, for the golden interactions', async () => {
    const term = await shell('alice@target@web1');
    const id = await liveShellId();
    await enter(term, 'echo plain-one', /^plain-one$/m);
    await term.send('ech');
    await term.sendKey('Tab');
    await enter(term, 'tab-completed', /^tab-completed$/m);
    await term.sendKey('Up');
    await term.sendKey('Up');
    await enter(term, '', /plain-one\n[\s\S]*plain-one/);
    await term.send('echo helo');
    await term.sendKey('Left');
    await term.send('l');
    await term.sendKey('End');
    await term.send('X');
    await term.sendKey('BSpace');
    await enter(term, '', /^hello$/m);
    await term.send('echo never-run');
    await term.sendKey('C-c');
    await enter(term, 'echo a; echo b && echo c', /^c$/m);
    await term.pasteBracketed('echo pasted-$((6*7))');
    await enter(term, '', /^pasted-42$/m);
    await enter(term, `vi ${viFile}`, /^~\s*$/m);
    await term.send(':q!');
    await enter(term, '', /^\$\s*$/m);
    await enter(term, "read -s -p 'Password: ' pw; echo; echo got-${#pw}", /Password:/);
    await enter(term, 'hunter2-secret', /got-14/);
    await enter(term, 'exit');
    await term.exited();
    await term.kill();

    const log = await commandsOf(id, 10);
    const lines = log.map((e) => (e.tag ? `${e.tag}: ${e.command}` : e.command));
    expect(lines).toEqual([
      "PS1='$ '; HISTFILE=/dev/null; cd /tmp",
      'echo plain-one',
      'echo tab-completed',
      'echo plain-one',
      'echo hello',
      'echo a; echo b && echo c',
      'echo pasted-$((6*7))',
      `fullscreen: vi ${viFile}`,
      "read -s -p 'Password: ' pw; echo; echo got-${#pw}",
      'exit',
    ]);
    expect(JSON.stringify(log)).not.toContain('hunter2');
    expect(JSON.stringify(log)).not.toContain('never-run');
    expect(log.every((e) => e.user === 'alice' && e.asset === 'web1')).toBe(true);
    // The JSONL file carries the same entries.
    const day = new Date().toISOString().slice(0, 10);
    const file = readFileSync(`${warden.dir}/data/commands/${day}.jsonl`, 'utf8');
    expect(file).toContain('"command":"echo hello"');
  });

  it("stamps each command with its offset into the recording: the moment its Enter was typed", async () => {
    const term = await shell('alice@target@web1');
    const id = await liveShellId();
    const marks = ['offset-one', 'offset-two'];
    for (const mark of marks) {
      // A pause at the prompt, so "typed" and "shown" are apart in the recording.
      await new Promise((r) => setTimeout(r, 600));
      await enter(term, `sleep 1; echo ${mark}`, new RegExp(`^${mark}$`, 'm'));
    }
    await enter(term, 'exit');
    await term.exited();
    await term.kill();
    const log = await commandsOf(id, 4);
    const channel = log.find((e) => e.command.includes(marks[0]!))?.channel;
    expect(channel, JSON.stringify(log)).toBeTypeOf('number');
    expect(log.every((e) => e.channel === channel)).toBe(true);
    await waitUntil('recording finalised', async () => Boolean((await warden.instance.registry.get(id))?.recordings?.[channel!]));
    const file = (await warden.instance.registry.get(id))!.recordings![channel!]!.file;
    const events = gunzipSync(readFileSync(file)).toString('utf8').trim().split('\n').slice(1)
      .map((l) => JSON.parse(l) as [number, string, string]).filter((e) => e[1] === 'o');
    // Character offset in the whole output -> time of the event that carried it.
    const starts: number[] = [];
    let text = '';
    for (const [, , data] of events) {
      starts.push(text.length);
      text += data;
    }
    const timeAt = (pos: number): number => {
      if (pos < 0) throw new Error(`not in the recording's output: ${JSON.stringify(text)}`);
      let i = 0;
      while (i + 1 < starts.length && starts[i + 1]! <= pos) i++;
      return events[i]![0];
    };
    for (const mark of marks) {
      const typed = `sleep 1; echo ${mark}`;
      const entry = log.find((e) => e.command === typed);
      expect(entry, JSON.stringify(log)).toBeDefined();
      const echoAt = text.indexOf(typed);
      const newlineAt = text.indexOf('\n', echoAt + typed.length);
      const resultAt = text.indexOf(`${mark}\r\n`, newlineAt);
      expect(echoAt).toBeGreaterThan(0);
      // Enter was typed after its line was echoed (give or take the echo's trip), before the
      // shell answered it with a newline, and a whole second before the result.
      expect(entry!.offset).toBeGreaterThanOrEqual(timeAt(echoAt) - 0.25);
      expect(entry!.offset).toBeLessThanOrEqual(timeAt(newlineAt) + 0.05);
      expect(timeAt(resultAt) - entry!.offset).toBeGreaterThanOrEqual(0.9);
    }
  });

  it('logs exec commands as such', async () => {
    const res = await runSsh({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, command: 'echo exec-logged' });
    expect(res.code).toBe(0);
    await waitUntil('exec logged', async () => (await queryCommands(warden.instance.redis, warden.instance.keys, { grep: /exec-logged/, limit: 5 })).some((e) => e.tag === 'exec'));
  });
});

describe('recordings', () => {
  it('are asciicast v2 that stock asciinema plays, and warden replay plays too', async () => {
    const res = await runSsh({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, command: 'echo recorded-output-$((20+3))' });
    expect(res.stdout.toString()).toBe('recorded-output-23\n');
    let rec = (await warden.instance.registry.listRecent(20)).find((r) => r.command?.includes('recorded-output'));
    await waitUntil('record finished', async () => Boolean((rec = (await warden.instance.registry.listRecent(20)).find((r) => r.command?.includes('recorded-output')))));
    if (!rec) throw new Error('no record');
    await waitUntil('recording finalised', async () => Boolean((await warden.instance.registry.get(rec!.id))?.recordings?.[1]));
    const stored = (await warden.instance.registry.get(rec.id))!;
    expect(stored.recordings![1]!.file).toMatch(new RegExp(`${rec.id}\\.1\\.cast\\.gz$`));
    const cast = gunzipSync(readFileSync(stored.recordings![1]!.file)).toString('utf8');
    const header = JSON.parse(cast.split('\n')[0]!) as { version: number; title: string; command: string };
    expect(header).toMatchObject({ version: 2, command: 'echo recorded-output-$((20+3))' });
    expect(header.title).toContain(rec.id);

    const plain = `${makeTempDir('cast-')}/session.cast`;
    writeFileSync(plain, cast);
    const play = spawnSync('asciinema', ['play', '-s', '20', plain], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, TERM: 'xterm' } });
    expect(play.status).toBe(0);
    expect(play.stdout).toContain('recorded-output-23');

    const replayed = await runCli(['replay', rec.id, '--speed', '50', '--config', warden.configFile]);
    expect(replayed.code).toBe(0);
    expect(replayed.stdout).toContain('recorded-output-23');
  });

  it('leaves binary output of a non-terminal channel out, with a marker', async () => {
    const res = await runSsh({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, command: 'echo text-first; head -c 300000 /dev/zero' });
    expect(res.stdout.length).toBe('text-first\n'.length + 300_000);
    let rec = (await warden.instance.registry.listRecent(20)).find((r) => r.command?.includes('text-first'));
    await waitUntil('recording finalised', async () => {
      rec = (await warden.instance.registry.listRecent(20)).find((r) => r.command?.includes('text-first'));
      return Boolean(rec?.recordings?.[1]);
    });
    const cast = gunzipSync(readFileSync(rec!.recordings![1]!.file)).toString('utf8');
    expect(cast).toContain('text-first');
    expect(cast).toContain('"m","warden: binary output from here on is not recorded"');
    expect(cast).toMatch(/"m","warden: \d+ bytes of binary output were not recorded"/);
    expect(cast).not.toContain('\\u0000');
    expect(rec!.bytesOut).toBeGreaterThanOrEqual(300_000);
  });

  it('warden verify passes an intact recording and names the tampered chunk', async () => {
    const res = await runSsh({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, command: 'for i in 1 2 3; do echo line-$i; sleep 1.1; done' });
    expect(res.code).toBe(0);
    let rec = (await warden.instance.registry.listRecent(20)).find((r) => r.command?.includes('line-$i'));
    await waitUntil('record finished', async () => Boolean((rec = (await warden.instance.registry.listRecent(20)).find((r) => r.command?.includes('line-$i')))));
    if (!rec) throw new Error('no record');
    await waitUntil('recording finalised', async () => Boolean((await warden.instance.registry.get(rec!.id))?.recordings?.[1]));
    const ok = await runCli(['verify', rec.id.slice(0, 14), '--config', warden.configFile]);
    expect(ok.stdout).toMatch(/^channel 1: OK: .*: intact \(\d+ chunks, \d+ bytes, chain head matches the registry\)/);
    expect(ok.code).toBe(0);

    const file = (await warden.instance.registry.get(rec.id))!.recordings![1]!.file;
    const chain = readFileSync(file.replace(/\.gz$/, '.chain'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; offset: number; length: number });
    expect(chain.length).toBeGreaterThanOrEqual(3);
    const victim = chain[2]!;
    const cast = Buffer.from(gunzipSync(readFileSync(file)));
    const pos = cast.indexOf('line-', victim.offset);
    expect(pos).toBeGreaterThan(-1);
    cast[pos] = 'X'.charCodeAt(0);
    writeFileSync(file, gzipSync(cast));
    const bad = await runCli(['verify', rec.id, '--config', warden.configFile]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`channel 1: TAMPERED: ${file}: chunk ${victim.seq} modified`);
  });
});

describe('command filter', () => {
  it('a denied command never reaches the target, and the user is told why', async () => {
    const marker = `${markerDir}/forbidden-marker`;
    const term = await shell();
    const id = await liveShellId();
    await term.send(`touch ${marker}`);
    await enter(term, '', /Command refused by policy: no forbidden files/).catch((err) => {
      throw new Error(`${(err as Error).message}\n${JSON.stringify(warden.logs().filter((l) => /filter|audit started/.test(String(l.msg))))}`);
    });
    await enter(term, `echo allowed-ran`, /^allowed-ran$/m);
    await enter(term, 'sudo -n true 2>/dev/null; echo warned', /^warned$/m);
    await enter(term, 'exit');
    await term.exited();
    await term.kill();
    expect(existsSync(marker)).toBe(false);
    const log = await commandsOf(id, 3);
    expect(log.find((e) => e.tag === 'denied')?.command).toBe(`touch ${marker}`);
    await waitUntil('audit lines', async () => warden.logs().some((l) => l.event === 'command_warning'));
    expect(warden.logs().find((l) => l.event === 'command_denied')).toMatchObject({ session: id, rule: '^touch .*forbidden' });
  });

  it('a denied command is refused in exec too', async () => {
    const marker = `${markerDir}/forbidden-exec`;
    const res = await runSsh({ port: warden.port, login: 'alice@target@audit1', identity: warden.aliceKey, command: `touch ${marker}` });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('Command refused by policy: no forbidden files');
    expect(existsSync(marker)).toBe(false);
    void execFileSync;
  });
});
