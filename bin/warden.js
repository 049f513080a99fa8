#!/usr/bin/env node
// Entry point for `warden` / `npx warden`. Runs the compiled CLI (npm ci builds it via the
// `prepare` script; `npm run build` rebuilds it).
//
// `warden start` runs tsc's output (dist/src) as it is. Every other command is an admin's
// one-shot call that pays Node's cold start, so it runs from the CLI bundle (dist/cli, built by
// scripts/build-cli.js), which loads in a fraction of the time: same code, fewer files. A
// bundle older than tsc's output (a `tsc` without the bundling step) is not used.
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/src/cli.js', import.meta.url);
const bundle = new URL('../dist/cli/warden.js', import.meta.url);
if (!existsSync(fileURLToPath(compiled))) {
  console.error('warden: not built yet. Run `npm ci` (or `npm run build`) in the Warden checkout first.');
  process.exit(1);
}
const argv = process.argv.slice(2);
const mtime = (url) => statSync(fileURLToPath(url), { throwIfNoEntry: false })?.mtimeMs ?? -1;
const cli = argv[0] !== 'start' && mtime(bundle) >= mtime(compiled) ? bundle : compiled;
const { main } = await import(cli.href);
process.exitCode = await main(argv);
