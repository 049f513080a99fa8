#!/usr/bin/env node
/**
 * `npm run build`, second step: the CLI bundle in dist/cli/ (esbuild), from tsc's output in
 * dist/src/. bin/warden.js runs every command but `start` from it.
 *
 * Why: a cold `warden kill` spent ~1 s of CPU opening, resolving and compiling ~570 module
 * files before sending one Redis command. The bundle is one CommonJS file, so that
 * bin/warden.js can compile it with V8's code cache (vm.Script cachedData: Node 20 has no code
 * cache for ES modules) and skip Node's ES module loader altogether. Modules that a command
 * imports lazily stay lazy: esbuild wraps each one in an initialiser that runs at its first
 * `import()`, so `warden kill` evaluates none of the code that `check-config` or `verify` need.
 *
 * Only the packages the CLI's commands use are bundled; every other package stays an ordinary
 * require() of node_modules, so server-only and native packages (ssh2 and its crypto binding,
 * pino's worker transports, Fastify, the terminal emulator) are never rewritten, and a trace
 * of the files a command opens shows whether it reached them. BullMQ, which `warden kill`
 * needs only when a kill falls back to the owner's queue, is a bundle of its own
 * (dist/cli/bullmq.cjs) that is read only then. `warden start` is not in the bundle: it runs
 * dist/src, exactly as tsc emitted it.
 *
 * Warden's modules take zod/mini as a namespace (`import * as z from './zod.js'`): esbuild then
 * keeps the parts in use (~70 KB) instead of all of zod.
 *
 * Writes dist/cli/meta.json (esbuild's metafile): which input went into which output file. A
 * test reads it to check that the server's modules are not in the bundle.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'cli');

/** Packages Warden's CLI code imports and that are bundled (with all they import in turn). */
const BUNDLED_PACKAGES = ['zod', 'js-yaml', 'ioredis', 'ulid'];
/** Native addons: loaded from node_modules even when a bundled package asks for them. */
const NATIVE = ['ssh2', 'cpu-features', 'msgpackr-extract'];
/** `debug` for the bundled packages: silent unless DEBUG is set (see the file). */
const DEBUG_SHIM = path.join(root, 'scripts', 'cli-shims', 'debug.cjs');
/** The server, which the bundle never runs (bin/warden.js starts it from dist/src). */
const SERVER_ENTRY = './cluster/start-command.js';

const packageOf = (spec) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
const isBare = (spec) => !spec.startsWith('.') && !path.isAbsolute(spec) && !spec.startsWith('node:');

/** What stays outside the bundle, and where the bundle finds it at run time. */
const boundary = {
  name: 'warden-cli-boundary',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      if (args.path === SERVER_ENTRY) return { path: args.path, namespace: 'warden-server' };
      if (args.path === 'debug' && args.importer !== DEBUG_SHIM) return { path: DEBUG_SHIM };
      if (!isBare(args.path)) return undefined;
      const pkg = packageOf(args.path);
      if (NATIVE.includes(pkg)) return { path: args.path, external: true };
      const fromWarden = !args.importer.split(path.sep).includes('node_modules');
      if (fromWarden && pkg === 'bullmq') return { path: './bullmq.cjs', external: true };
      if (fromWarden && !BUNDLED_PACKAGES.includes(pkg)) return { path: args.path, external: true };
      return undefined;
    });
    // `warden start` from the bundle would be a second, untested way to run the server.
    b.onLoad({ filter: /.*/, namespace: 'warden-server' }, () => ({
      contents: 'export function startCommand() { throw new Error("warden start runs from dist/src (bin/warden.js), not from the CLI bundle"); }',
      loader: 'js',
    }));
  },
};

const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // A script compiled by vm.Script cannot import() (Node 20 asks for a flag): every lazy
  // import becomes a require() of the bundled module, or of the external package.
  supported: { 'dynamic-import': false },
  // Less source to read is what a cold start without the code cache costs; identifiers keep
  // their names so stack traces and class names read as before.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  absWorkingDir: root,
};

rmSync(outdir, { recursive: true, force: true });
const cli = await build({
  ...common,
  entryPoints: [path.join(root, 'dist', 'src', 'cli.js')],
  outfile: path.join(outdir, 'warden.cjs'),
  sourcemap: 'linked',
  metafile: true,
  // ES module code asks import.meta.url for its own file (to find the package root, to
  // require ssh2's key parser); in the bundle that is the bundle's file.
  define: { 'import.meta.url': '__wardenBundleUrl' },
  banner: { js: 'var __wardenBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  plugins: [boundary],
});
await build({ ...common, entryPoints: ['bullmq'], outfile: path.join(outdir, 'bullmq.cjs'), external: NATIVE });
writeFileSync(path.join(outdir, 'meta.json'), JSON.stringify(cli.metafile));
// bin/warden.js reads the bundle as latin1, which equals utf8 only for ASCII (esbuild's default
// charset escapes everything else).
const nonAscii = readFileSync(path.join(outdir, 'warden.cjs')).findIndex((byte) => byte > 0x7f);
if (nonAscii >= 0) throw new Error(`dist/cli/warden.cjs is not ASCII (byte ${nonAscii}): bin/warden.js reads it as latin1`);
