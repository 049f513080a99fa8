#!/usr/bin/env node
/**
 * `npm run build`, second step: the CLI bundle in dist/cli/ (esbuild), from tsc's output in
 * dist/src/. bin/warden.js runs every command but `start` from it.
 *
 * Why: a cold `warden kill` spent ~1 s of CPU opening, resolving and compiling ~570 module
 * files before sending one Redis command. One bundle per command path (code splitting keeps
 * each command's `await import()` a separate chunk) reads a handful of files, and only the
 * packages the CLI's commands use are bundled: everything else stays an ordinary import of
 * node_modules, so server-only and native packages (ssh2 and its crypto binding, pino's worker
 * transports, Fastify, the terminal emulator) are never rewritten and never loaded by a CLI
 * command. `warden start` keeps running dist/src, exactly as tsc emitted it.
 *
 * Warden's modules import zod as a namespace (`import * as z from 'zod'`): esbuild then keeps
 * the parts in use (~140 KB) instead of all of zod (~730 KB) that `import { z }` drags in.
 *
 * Writes dist/cli/meta.json (esbuild's metafile): which input went into which output file. The
 * architecture test reads it to check that `warden kill` stays off the server's code.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'cli');

/** Packages Warden's CLI code imports and that are bundled (with all they import in turn). */
const BUNDLED_PACKAGES = ['zod', 'yaml', 'ioredis', 'bullmq', 'ulid'];
/** Native addons: loaded from node_modules even when a bundled package asks for them. */
const NATIVE = ['ssh2', 'cpu-features', 'msgpackr-extract'];

const packageOf = (spec) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
const isBare = (spec) => !spec.startsWith('.') && !path.isAbsolute(spec) && !spec.startsWith('node:');

/** Bare imports from Warden's own modules are bundled only for BUNDLED_PACKAGES. */
const packagesAtTheBoundary = {
  name: 'warden-cli-packages',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (!isBare(args.path) || args.kind === 'entry-point') return undefined;
      const pkg = packageOf(args.path);
      if (NATIVE.includes(pkg)) return { path: args.path, external: true };
      const fromWarden = !args.importer.split(path.sep).includes('node_modules');
      if (fromWarden && !BUNDLED_PACKAGES.includes(pkg)) return { path: args.path, external: true };
      return undefined;
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: { warden: path.join(root, 'dist', 'src', 'cli.js') },
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Less source to parse is most of what a cold start costs; identifiers keep their names so
  // stack traces and class names read as before.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  absWorkingDir: root,
  // CommonJS packages (ioredis) call require() for Node's built-ins; an ES module has none.
  banner: { js: 'import { createRequire as __wardenCreateRequire } from "node:module"; const require = __wardenCreateRequire(import.meta.url);' },
  plugins: [packagesAtTheBoundary],
});
writeFileSync(path.join(outdir, 'meta.json'), JSON.stringify(result.metafile));
