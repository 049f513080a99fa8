/** The Markdown report: machine lines, the table, then each measurement's notes. */
import type { Row } from './types.js';

const HEADER = ['metric', 'recorded?', 'direct', 'warden', 'proxyjump', 'ratio', 'target', 'ok?'];

const cell = (s: string | undefined): string => (s === undefined || s === '' ? '—' : s.replace(/\|/g, '\\|'));

export function markdownTable(rows: Row[]): string {
  const lines = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const ok = r.ok === undefined ? '—' : r.ok ? 'yes' : '**NO**';
    lines.push(`| ${[r.metric, r.recorded, r.direct, r.warden, r.proxyjump, r.ratio, r.target].map(cell).join(' | ')} | ${ok} |`);
  }
  return lines.join('\n');
}

export interface Section {
  title: string;
  seconds: number;
  notes: string[];
}

export function renderReport(opts: { machine: string[]; checks: string[]; rows: Row[]; sections: Section[]; totalSeconds: number; args: string }): string {
  const out: string[] = ['# Warden benchmark', ''];
  out.push(...opts.machine.map((l) => `- ${l}`));
  out.push(`- run: \`npm run bench${opts.args ? ` -- ${opts.args}` : ''}\`, ${opts.totalSeconds.toFixed(0)} s in total`, '');
  out.push(markdownTable(opts.rows), '');
  out.push('Paths: **direct** = OpenSSH client → sshd; **warden** = client → Warden (separate process) → sshd; ' +
    '**proxyjump** = client → jump sshd (`ssh -W`) → sshd. Ratios are of medians; "added" is warden − direct.', '');
  out.push('## Checks', '', ...opts.checks.map((l) => `- ${l}`), '');
  for (const s of opts.sections) {
    out.push(`## ${s.title} (${s.seconds.toFixed(0)} s)`, '', ...s.notes.map((l) => `- ${l}`), '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}
