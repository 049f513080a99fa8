/**
 * A real bash in a real pty, driven over pipes: what the command tracker and the filter gate
 * see from a target, without ssh in between. Same shell setup as the golden transcripts
 * (test/fixtures/terminal/record.py): `bash --norc --noprofile -i`, 80x24, PS1 'warden$ ',
 * readline defaults.
 *
 * `delayMs` holds every output chunk that long before passing it on (in order): a target that
 * echoes late, as over a slow link or from a loaded host.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { makeTempDir, removeTempDir, sleep, trackChild, waitUntil } from './processes.js';

const RELAY = String.raw`
import os, pty, select, sys, time, fcntl, termios, struct
delay = float(sys.argv[1]) / 1000.0
pid, fd = pty.fork()
if pid == 0:
    os.chdir(sys.argv[2])
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": sys.argv[2], "TERM": "xterm-256color", "LANG": "C.UTF-8",
           "PS1": "warden$ ", "INPUTRC": "/dev/null", "HISTFILE": "/dev/null"}
    os.execve("/bin/bash", ["bash", "--norc", "--noprofile", "-i"], env)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
queue = []
stdin = sys.stdin.fileno()
stdout = sys.stdout.fileno()
open_in = True
while True:
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        os.write(stdout, queue.pop(0)[1])
    timeout = max(0.0, queue[0][0] - now) if queue else 1.0
    watch = [fd] + ([stdin] if open_in else [])
    ready, _, _ = select.select(watch, [], [], timeout)
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            break
        queue.append((time.monotonic() + delay, data))
    if open_in and stdin in ready:
        data = os.read(stdin, 65536)
        if data:
            os.write(fd, data)
        else:
            open_in = False
            os.kill(pid, 9)
for due, data in queue:
    time.sleep(max(0.0, due - time.monotonic()))
    os.write(stdout, data)
`;

export interface PtyShell {
  /** The shell's working directory (a fresh temp dir). */
  dir: string;
  write(data: string | Buffer): void;
  /** Called with every output chunk, in order (first with everything received so far). */
  onOutput(fn: (data: Buffer) => void): void;
  /** Resolves once no output has come for `quietMs`. */
  quiet(quietMs: number): Promise<void>;
  /** Everything the shell has written so far. */
  output(): string;
  stop(): Promise<void>;
}

export async function startPtyShell(opts: { delayMs?: number } = {}): Promise<PtyShell> {
  const dir = makeTempDir('warden-pty-');
  for (const name of ['warden-notes.txt', 'warden-plan.txt']) writeFileSync(`${dir}/${name}`, `${name}\n`);
  const child: ChildProcess = spawn('python3', ['-c', RELAY, String(opts.delayMs ?? 0), dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  trackChild(child);
  const listeners: Array<(d: Buffer) => void> = [];
  const chunks: Buffer[] = [];
  let all = '';
  let lastOutput = Date.now();
  child.stdout!.on('data', (d: Buffer) => {
    lastOutput = Date.now();
    chunks.push(d);
    all += d.toString('utf8');
    for (const fn of listeners) fn(d);
  });
  const shell: PtyShell = {
    dir,
    write: (data) => void child.stdin!.write(data),
    onOutput(fn) {
      if (chunks.length) fn(Buffer.concat(chunks));
      listeners.push(fn);
    },
    async quiet(quietMs) {
      while (Date.now() - lastOutput < quietMs) await sleep(Math.max(5, quietMs - (Date.now() - lastOutput)));
    },
    output: () => all,
    async stop() {
      child.stdin!.end();
      if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
      removeTempDir(dir);
    },
  };
  await waitUntil('bash prompt', async () => all.includes('warden$ '), { timeoutMs: 20_000 });
  return shell;
}
