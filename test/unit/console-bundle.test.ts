/**
 * The web console's size budget: its own JS and CSS (everything the page loads at once, and
 * any chunk that is not a player's) at most 150 KiB gzipped; the two players (xterm.js,
 * asciinema-player) are chunks loaded on demand and never part of the first load. Builds the
 * console into a temp dir with the real build script and gzips the outputs itself.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/redis.js';

const BUDGET = 150 * 1024;

interface Output {
  file: string;
  kind: 'own' | 'player';
  eager: boolean;
  holdsPlayer: boolean;
}

let out: string;
let manifest: Output[];

beforeAll(() => {
  out = mkdtempSync(path.join(os.tmpdir(), 'warden-console-build-'));
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build-console.js'), '--outdir', out], { cwd: REPO_ROOT, stdio: 'pipe' });
  manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Output[];
}, 120_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

const gz = (file: string) => gzipSync(readFileSync(path.join(out, file)), { level: 9 }).length;

describe('console bundle', () => {
  it('keeps its own JS and CSS within 150 KiB gzipped, the players out of the first load', () => {
    const own = manifest.filter((f) => f.kind === 'own');
    const players = manifest.filter((f) => f.kind === 'player');
    const ownBytes = own.reduce((sum, f) => sum + gz(f.file), 0);
    const playerBytes = players.reduce((sum, f) => sum + gz(f.file), 0);
    console.log(`console bundle: own ${(ownBytes / 1024).toFixed(1)} KiB gzipped (${own.map((f) => f.file).join(', ')}); players ${(playerBytes / 1024).toFixed(1)} KiB gzipped`);
    expect(ownBytes).toBeLessThanOrEqual(BUDGET);
    // The page's first load: main.js, main.css, index.html and what main.js imports statically.
    expect(own.filter((f) => f.eager).map((f) => f.file)).toEqual(expect.arrayContaining(['index.html', 'main.js', 'main.css']));
    expect(manifest.filter((f) => f.eager && f.holdsPlayer)).toEqual([]);
    // Both players exist as on-demand chunks (xterm.js and asciinema-player, and their styles).
    const playerText = players.map((f) => readFileSync(path.join(out, f.file), 'utf8')).join('\n');
    expect(playerText).toContain('xterm-helper-textarea');
    expect(playerText).toMatch(/asciinema-player|ap-player/);
    expect(players.some((f) => f.file === 'players.css')).toBe(true);
  });

  it('has no inline script or style in its HTML', () => {
    const html = readFileSync(path.join(out, 'index.html'), 'utf8');
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag).toMatch(/\bsrc="\/assets\/[\w.-]+\.js"/);
    expect(html).not.toMatch(/<script\b[^>]*>\s*[^<\s]/);
    expect(html).not.toMatch(/<style\b|\sstyle=|\son\w+=/i);
  });
});
