/**
 * Every patch in patches/ (applied by patch-package at `npm ci`) is present in node_modules:
 * each line a patch adds is in the installed file. A lost patch fails here by name, before the
 * behaviour it fixes is missed somewhere else (the ssh2 patch also has behavioural tests in
 * test/e2e/protocol-parity.test.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const patches = readdirSync(path.join(root, 'patches')).filter((f) => f.endsWith('.patch'));

/** For each file a patch changes: the lines it adds (trimmed, non-empty). */
function addedLines(patch: string): Map<string, string[]> {
  const files = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of patch.split('\n')) {
    const target = /^\+\+\+ b\/(.+)$/.exec(line);
    if (target) files.set(target[1]!, (current = []));
    else if (current && line.startsWith('+') && line.slice(1).trim()) current.push(line.slice(1).trim());
  }
  return files;
}

describe('dependency patches are installed', () => {
  it('has the patches Warden relies on', () => {
    expect(patches.some((p) => p.startsWith('ssh2+'))).toBe(true);
    expect(patches.some((p) => p.startsWith('ioredis+'))).toBe(true);
  });

  it.each(patches)('%s: every added line is in the installed file', (name) => {
    const files = addedLines(readFileSync(path.join(root, 'patches', name), 'utf8'));
    expect(files.size).toBeGreaterThan(0);
    for (const [file, lines] of files) {
      expect(lines.length, file).toBeGreaterThan(0);
      const installed = new Set(readFileSync(path.join(root, file), 'utf8').split('\n').map((l) => l.trim()));
      const missing = lines.filter((l) => !installed.has(l));
      expect(missing, `${file}: lines of ${name} not installed (run \`npx patch-package\`)`).toEqual([]);
    }
  });
});
