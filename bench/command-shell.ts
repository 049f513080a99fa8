/**
 * A long-lived /bin/sh that starts commands the way an admin's shell does: fork of a small
 * process, then exec. Timing a command spawned from the benchmark's own Node.js process instead
 * adds that process's fork() to every figure: page tables of a few hundred MB, then
 * copy-on-write faults, 10–30 ms here (and more as its heap grows), which no admin typing
 * `warden kill` pays.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { trackChild } from '../test/helpers/processes.js';

const DONE = 'warden-bench-command-exit';
const DONE_LINE = new RegExp(`^${DONE} (\\d+)$`);
const quote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`;

export class CommandShell {
  private readonly sh: ChildProcess;
  private pending = '';
  private waiter?: { resolve: (r: { code: number; exitedAt: number }) => void; reject: (err: Error) => void };

  constructor(env: NodeJS.ProcessEnv) {
    this.sh = spawn('/bin/sh', [], { stdio: ['pipe', 'pipe', 'inherit'], env });
    trackChild(this.sh);
    this.sh.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.pending += chunk;
      for (let nl = this.pending.indexOf('\n'); nl >= 0; nl = this.pending.indexOf('\n')) {
        const m = DONE_LINE.exec(this.pending.slice(0, nl));
        this.pending = this.pending.slice(nl + 1);
        if (m && this.waiter) {
          const { resolve } = this.waiter;
          this.waiter = undefined;
          resolve({ code: Number(m[1]), exitedAt: performance.now() });
        }
      }
    });
    this.sh.once('exit', (code, signal) => this.waiter?.reject(new Error(`the benchmark's /bin/sh ended (${signal ?? code})`)));
  }

  /** Run one command (output discarded); resolves with its exit code and when it ended. */
  run(argv: string[]): Promise<{ code: number; exitedAt: number }> {
    if (this.waiter) throw new Error('CommandShell runs one command at a time');
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.sh.stdin!.write(`${argv.map(quote).join(' ')} </dev/null >/dev/null 2>&1; echo "${DONE} $?"\n`);
    });
  }

  close(): void {
    this.sh.stdin!.end();
  }
}
