/**
 * The golden bash transcripts of test/fixtures/terminal (recorded by record.py) and the
 * command log each must produce, shared by the replays key by key and in bursts.
 */
import { readFileSync } from 'node:fs';

export type Event = ['i' | 'o', number, string];
export interface Fixture {
  cols: number;
  rows: number;
  events: Event[];
}

export function load(name: string): Fixture {
  return JSON.parse(readFileSync(new URL(`../fixtures/terminal/${name}.json`, import.meta.url), 'utf8')) as Fixture;
}

export const EXPECTED: Record<string, Array<string | { command: string; fullscreen: true }>> = {
  plain: ['echo hello'],
  'tab-completion': ['cat warden-notes.txt', 'ls warden-plan.txt'],
  history: ['echo first', 'echo first again', 'echo first again'],
  edit: ['echo hello world'],
  'ctrl-c': ['echo start', 'echo kept'],
  multi: ['echo one; echo two && echo three'],
  paste: ['echo pasted | tr a-z A-Z', 'echo line1\necho line2'],
  fullscreen: [
    { command: 'vim -u NONE -N notes.txt', fullscreen: true },
    { command: 'less notes.txt', fullscreen: true },
    'echo after',
  ],
  password: ["read -s -p 'Password: ' pw; echo; echo got ${#pw}", "read -s -p 'PIN: ' pin", 'echo done'],
  'secret-shown': ['read -s -p \'Secret: \' s; echo "[$s]"', 'echo ok'],
  'secret-echoed': ['read -s -p \'Token: \' tok; echo "$tok"', 'echo ok'],
  'long-line': [`echo ${'abcdefghij'.repeat(9)} end`],
  fast: ['echo fast', 'echo typed ahead'],
  'type-ahead': ['sleep 1', 'echo next'],
  'type-ahead-same-row': ['sleep 1', 'echo next'],
  'clear-screen': ['echo one', 'echo two'],
};
