import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandLogEntry } from '../../src/audit/audit-queues.js';
import { Journal, type FinalRecord, type JournalEntry } from '../../src/journal.js';
import { makeTempDir, removeTempDir } from '../helpers/processes.js';

const log = pino({ level: 'silent' });
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeTempDir));

function journal(max?: number): { j: Journal; file: string } {
  const dir = makeTempDir('journal-');
  dirs.push(dir);
  const file = join(dir, 'journal.jsonl');
  return { j: new Journal(file, log, max), file };
}

const final = (id: string, finish: number): JournalEntry => ({ kind: 'final', record: { id, finish, reason: 'shutdown' } as FinalRecord });
const command = (n: number): JournalEntry => ({ kind: 'command', entry: { command: `cmd-${n}` } as CommandLogEntry });

describe('Journal', () => {
  it('writes held entries in order through the sink, and keeps what the sink cannot take', async () => {
    const { j } = journal();
    j.hold(command(1));
    j.hold(final('A', 5));
    j.hold(command(2));
    const seen: string[] = [];
    expect(await j.flush({ final: async (e) => seen.push(`final ${e.record.id} at ${e.record.finish}`) })).toBe(1);
    expect(j.size).toBe(2);
    expect(j.holding('command')).toBe(true);
    await j.flush({ command: async (e) => seen.push(e.entry.command) });
    expect(seen).toEqual(['final A at 5', 'cmd-1', 'cmd-2']);
    expect(j.size).toBe(0);
  });

  it('stops at the first failed write and keeps the rest for the next flush', async () => {
    const { j } = journal();
    for (let i = 0; i < 3; i++) j.hold(command(i));
    await j.flush({ command: async () => Promise.reject(new Error('redis gone')) });
    expect(j.size).toBe(3);
  });

  it('is bounded for command entries, never for final records', () => {
    const { j } = journal(2);
    for (let i = 0; i < 5; i++) j.hold(command(i));
    j.hold(final('B', 1));
    expect(j.size).toBe(3);
  });

  it('a failed write is held; saved (0600) with writes still in flight; loaded by the next run', async () => {
    const { j, file } = journal();
    j.track(command(1), Promise.reject(new Error('gave up')));
    j.track(final('C', 7), new Promise(() => {})); // still in flight at shutdown
    await new Promise((r) => setImmediate(r));
    expect(j.size).toBe(1);
    expect(j.save()).toBe(2);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const next = new Journal(file, log);
    expect(next.load()).toBe(2);
    const written: string[] = [];
    await next.flush({ command: async (e) => written.push(e.entry.command), final: async (e) => written.push(e.record.id) });
    expect(written.sort()).toEqual(['C', 'cmd-1']);
    expect(existsSync(file), 'file removed once everything is written').toBe(false);
  });
});
