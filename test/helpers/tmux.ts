/**
 * A real terminal for interactive tests: the command (usually the real `ssh -tt ...`) runs
 * in a pane of a private tmux server (`tmux -L <unique> -f /dev/null`), so it gets a real
 * pty, real SIGWINCH on resize, and a screen we can read with capture-pane.
 *
 * `remain-on-exit on` keeps the pane after the command exits, so the exit status and the
 * final screen can still be read; `window-size manual` lets resize-window set an exact size
 * (with no client attached tmux would otherwise keep the size fixed).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { killTmuxServerSync, readText, sleep, trackChild, trackTmuxServer, untrackTmuxServer } from './processes.js';

export type KeyName =
  | 'Enter' | 'Escape' | 'Tab' | 'BSpace' | 'Space'
  | 'Up' | 'Down' | 'Left' | 'Right' | 'Home' | 'End' | 'PageUp' | 'PageDown'
  | 'C-a' | 'C-b' | 'C-c' | 'C-d' | 'C-e' | 'C-l' | 'C-u' | 'C-z' | 'C-\\'
  | 'F1' | 'F2' | 'F3' | 'F4' | 'F5' | 'F6' | 'F7' | 'F8' | 'F9' | 'F10' | 'F11' | 'F12';

export interface TerminalOptions {
  /** argv of the program to run (exec'd: no shell stays in between). */
  command: string[];
  cols: number;
  rows: number;
  /** Extra environment for the program (on top of this process's environment). */
  env?: Record<string, string>;
  /** Working directory (default: this process's). */
  cwd?: string;
}

export interface Terminal {
  /** The private tmux socket name (`tmux -L <name>`), for debugging. */
  socket: string;
  /** Type literal text (send-keys -l: no key-name interpretation). */
  send(keys: string): Promise<void>;
  /** Paste text as a terminal would: wrapped in bracketed-paste markers when the program
   *  asked for them (tmux paste-buffer -p), as if pasted from the clipboard. */
  pasteBracketed(text: string): Promise<void>;
  /** Press a named key (tmux key names, e.g. 'Enter', 'C-c', 'Up'). */
  sendKey(name: KeyName | (string & {})): Promise<void>;
  /** Resize the window; the pty size changes and the program gets SIGWINCH. */
  resize(cols: number, rows: number): Promise<void>;
  /** The visible screen as text, one line per row (capture-pane -p). */
  screen(): Promise<string>;
  /** Poll the screen until it matches; resolve with that screen, or throw with the last one. */
  waitFor(re: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Wait for the program to exit; its exit status, or null if it died from a signal. */
  exited(timeoutMs?: number): Promise<number | null>;
  /** True once the program has exited. */
  isDead(): Promise<boolean>;
  /** Kill the tmux server (and with it the program). Idempotent. */
  kill(): Promise<void>;
}

function tmuxEnv(extra?: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...(extra ?? {}) };
  // Running the tests inside tmux must not make ours a nested client of the user's server.
  delete env.TMUX;
  delete env.TMUX_PANE;
  return env;
}

/**
 * Exit status of a zombie from /proc/PID/stat field 52 (`exit_code`, waitpid format, Linux
 * >= 3.5): the exit code, null if killed by a signal, undefined if PID is not a zombie.
 */
function zombieStatus(pid: number): number | null | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === '') return undefined;
  // Fields after "pid (comm)": comm can contain spaces, so split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).trim().split(' ');
  if (rest[0] !== 'Z') return undefined;
  const raw = Number(rest[49]); // field 52 overall; rest starts at field 3
  if (!Number.isFinite(raw)) return undefined;
  return (raw & 0x7f) === 0 ? (raw >> 8) & 0xff : null;
}

/** tmux splits its argv into commands at any argument ENDING in ';'; "\\;" keeps it literal. */
function literalArg(arg: string): string {
  return arg.endsWith(';') ? `${arg.slice(0, -1)}\\;` : arg;
}

export async function startTerminal(opts: TerminalOptions): Promise<Terminal> {
  const socket = `warden-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  let killed = false;

  const tmux = (args: string[], env?: NodeJS.ProcessEnv): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = execFile(
        'tmux',
        ['-L', socket, '-f', '/dev/null', ...args],
        { env: env ?? tmuxEnv(), cwd: opts.cwd, maxBuffer: 16 * 1024 * 1024, timeout: 10_000 },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`tmux ${args.join(' ')}: ${stderr.trim() || err.message}`));
          else resolve(stdout);
        },
      );
      trackChild(child);
    });

  if (opts.command.length === 0) throw new Error('startTerminal: empty command');
  // Always hand tmux several arguments so it execs directly instead of `$SHELL -c` (bash -c
  // would strip PS1 from the environment, as non-interactive bash does); sh then execs the
  // program, so the pane's process is the program itself.
  const program = ['/bin/sh', '-c', 'exec "$@"', 'warden-terminal', ...opts.command].map(literalArg);
  trackTmuxServer(socket);
  // One tmux invocation: the options are set in the server before the pane's program starts,
  // so even a program that exits at once leaves a dead pane with its status.
  const startServer = (): Promise<string> => tmux(
    [
      'start-server', ';',
      'set-option', '-g', 'remain-on-exit', 'on', ';',
      'set-option', '-g', 'status', 'off', ';',
      'set-option', '-g', 'history-limit', '5000', ';',
      'set-option', '-g', 'escape-time', '0', ';',
      'set-option', '-g', 'default-shell', '/bin/sh', ';',
      'new-session', '-d', '-s', 'main', '-x', String(opts.cols), '-y', String(opts.rows), ...program, ';',
      // Only after a session exists: tmux 3.3a crashes ("server exited unexpectedly") when
      // new-session runs with window-size already set to manual globally.
      'set-option', '-g', 'window-size', 'manual',
    ],
    // The server (started by this command) passes its environment to the pane's program.
    tmuxEnv(opts.env),
  );
  try {
    await startServer();
  } catch (err) {
    killTmuxServerSync(socket);
    untrackTmuxServer(socket);
    throw err;
  }

  const format = async (fmt: string): Promise<string> => (await tmux(['display-message', '-p', '-t', 'main', fmt])).trim();
  const isDead = async (): Promise<boolean> => (await format('#{pane_dead}')) === '1';
  const panePid = Number(await format('#{pane_pid}'));

  const terminal: Terminal = {
    socket,
    async pasteBracketed(text) {
      await tmux(['set-buffer', '-b', 'paste', '--', literalArg(text)]);
      await tmux(['paste-buffer', '-p', '-d', '-b', 'paste', '-t', 'main']);
    },
    async send(keys) {
      if (keys.length === 0) return;
      await tmux(['send-keys', '-t', 'main', '-l', '--', literalArg(keys)]);
    },
    async sendKey(name) {
      await tmux(['send-keys', '-t', 'main', literalArg(name)]);
    },
    async resize(cols, rows) {
      await tmux(['resize-window', '-t', 'main', '-x', String(cols), '-y', String(rows)]);
    },
    async screen() {
      return tmux(['capture-pane', '-p', '-t', 'main']);
    },
    async waitFor(re, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      for (;;) {
        last = await terminal.screen();
        if (typeof re === 'string' ? last.includes(re) : re.test(last)) return last;
        if (Date.now() > deadline) {
          throw new Error(`terminal: timed out after ${timeoutMs} ms waiting for ${String(re)}; screen:\n${last}`);
        }
        await sleep(50);
      }
    },
    async exited(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [dead = '', status = '', signal = ''] = (
          await format('#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}')
        ).split('|');
        if (dead === '1') {
          if (signal !== '' && signal !== '0') return null;
          if (status !== '') return Number(status);
          // tmux 3.3a bug: when the pty reaches EOF before the program exits (ssh closes its
          // tty first), tmux never reaps the child and never learns its status. The zombie
          // still carries it in /proc/PID/stat.
          const fromZombie = zombieStatus(panePid);
          if (fromZombie !== undefined) return fromZombie;
        }
        if (Date.now() > deadline) {
          const state = dead === '1' ? 'exited but its status is unknown' : 'still running';
          throw new Error(`terminal: program ${state} after ${timeoutMs} ms; screen:\n${await terminal.screen()}`);
        }
        await sleep(50);
      }
    },
    isDead,
    async kill() {
      if (killed) return;
      killed = true;
      try {
        await tmux(['kill-server']);
      } catch {
        // server already gone
      }
      killTmuxServerSync(socket); // removes the socket file too
      untrackTmuxServer(socket);
    },
  };
  return terminal;
}
