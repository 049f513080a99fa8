/**
 * The README's benchmark table is generated from bench/results.md (written only by full runs),
 * never edited by hand: the run's date, machine and load lines and its table are copied
 * between two markers. A full `npm run bench` does this itself; `npm run bench:readme` redoes it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const README = path.join(HERE, '..', 'README.md');
export const RESULTS = path.join(HERE, 'results.md');

export const BEGIN = '<!-- bench-table:begin — generated from bench/results.md by `npm run bench:readme`; edits here are overwritten -->';
export const END = '<!-- bench-table:end -->';

/** The machine/run lines (a list before the table) and the table itself. */
export function readmeBlock(results: string): string {
  const lines = results.split('\n');
  const tableStart = lines.findIndex((l) => l.startsWith('| metric'));
  if (tableStart === -1) throw new Error('bench/results.md has no table');
  let tableEnd = tableStart;
  while (tableEnd < lines.length && lines[tableEnd]!.startsWith('|')) tableEnd++;
  const facts = lines.slice(0, tableStart).filter((l) => l.startsWith('- '));
  if (!facts.some((l) => l.startsWith('- date: '))) throw new Error('bench/results.md has no date line');
  return [BEGIN, '', 'From [bench/results.md](bench/results.md):', '', ...facts, '', ...lines.slice(tableStart, tableEnd), '', END].join('\n');
}

/** README text with the block between the markers replaced (the markers must be there once). */
export function withTable(readme: string, block: string): string {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a === -1 || b === -1 || b < a || readme.indexOf(BEGIN, a + 1) !== -1) {
    throw new Error('README.md: expected one pair of bench-table markers in the Benchmark section');
  }
  return readme.slice(0, a) + block + readme.slice(b + END.length);
}

export function updateReadme(resultsPath = RESULTS, readmePath = README): void {
  const block = readmeBlock(readFileSync(resultsPath, 'utf8'));
  writeFileSync(readmePath, withTable(readFileSync(readmePath, 'utf8'), block));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  updateReadme();
  console.log(`README.md: benchmark table regenerated from ${path.relative(process.cwd(), RESULTS)}`);
}
