#!/usr/bin/env node
/**
 * `npm run build`, third step: the web console (console/) into dist/console with esbuild.
 *
 *   node scripts/build-console.js [--outdir DIR]
 *
 * One minified ES module entry (main.js + main.css, fixed names: the admin listener serves
 * them with ETags and `no-cache`), code-split so the two players (xterm.js for live watch,
 * asciinema-player for replay) are chunks of their own that the page loads only when it shows
 * one, and players.css for their styles. Every .js/.css/.html also gets a .gz sibling that the
 * listener sends to browsers accepting gzip. No CDN, nothing fetched at run time.
 *
 * Writes manifest.json: every output with its size, gzipped size and kind: `player` (a chunk
 * the page loads on demand holding code or styles of @xterm/xterm or asciinema-player) or
 * `own` (everything else, and anything the page loads at once: the 150 KiB gzip budget).
 * test/unit/console-bundle.test.ts checks it.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'console');

/** Inputs from these packages make an output a player's. */
const PLAYER_PACKAGES = ['node_modules/@xterm/xterm/', 'node_modules/asciinema-player/'];

const isPlayerInput = (input) => PLAYER_PACKAGES.some((p) => input.split(path.sep).join('/').includes(p));

export async function buildConsole(outdir = path.join(root, 'dist', 'console')) {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const common = {
    bundle: true,
    minify: true,
    sourcemap: false,
    metafile: true,
    logLevel: 'warning',
    absWorkingDir: root,
    outdir,
    target: ['chrome109', 'firefox115', 'safari16'],
    // Fonts or images a style sheet names are inlined (img-src allows data:), never fetched elsewhere.
    loader: { '.woff2': 'dataurl', '.woff': 'dataurl', '.ttf': 'dataurl', '.svg': 'dataurl', '.png': 'dataurl' },
  };
  const app = await build({
    ...common,
    entryPoints: { main: path.join(src, 'src', 'main.tsx') },
    entryNames: '[name]',
    chunkNames: 'chunk-[hash]',
    splitting: true,
    format: 'esm',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: path.join(src, 'tsconfig.json'),
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const css = await build({ ...common, entryPoints: { players: path.join(src, 'src', 'players.css') }, entryNames: '[name]' });
  copyFileSync(path.join(src, 'index.html'), path.join(outdir, 'index.html'));

  const outputs = { ...app.metafile.outputs, ...css.metafile.outputs };
  const rel = (out) => path.relative(outdir, path.resolve(root, out));
  // What the page loads at once: main.js, what it imports statically, and main.css.
  const eager = new Set();
  const visit = (out) => {
    if (eager.has(out) || !outputs[out]) return;
    eager.add(out);
    const meta = outputs[out];
    for (const imp of meta.imports) if (imp.kind === 'import-statement') visit(imp.path);
    if (meta.cssBundle) visit(meta.cssBundle);
  };
  for (const [out, meta] of Object.entries(outputs)) if (meta.entryPoint?.endsWith('main.tsx')) visit(out);
  const files = [{ file: 'index.html', kind: 'own', eager: true, holdsPlayer: false }];
  for (const [out, meta] of Object.entries(outputs)) {
    const holdsPlayer = Object.keys(meta.inputs).some(isPlayerInput);
    // A player's code loaded at once counts against the budget like the console's own.
    files.push({ file: rel(out), kind: holdsPlayer && !eager.has(out) ? 'player' : 'own', eager: eager.has(out), holdsPlayer });
  }
  const manifest = files.map(({ file, ...rest }) => {
    const body = readFileSync(path.join(outdir, file));
    const gz = gzipSync(body, { level: 9 });
    writeFileSync(path.join(outdir, `${file}.gz`), gz);
    return { file, ...rest, bytes: body.length, gzipBytes: gz.length };
  });
  writeFileSync(path.join(outdir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--outdir');
  const manifest = await buildConsole(i > 0 ? path.resolve(process.argv[i + 1]) : undefined);
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  const sum = (kind) => manifest.filter((f) => f.kind === kind).reduce((a, f) => a + f.gzipBytes, 0);
  console.error(`console: own ${kib(sum('own'))} gzipped, players ${kib(sum('player'))} gzipped (${manifest.length} files)`);
}
