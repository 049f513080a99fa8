#!/usr/bin/env node
// Entry point for `warden` / `npx warden`. Runs the compiled CLI (npm ci builds it via the
// `prepare` script; `npm run build` rebuilds it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error('warden: not built yet. Run `npm ci` (or `npm run build`) in the Warden checkout first.');
  process.exit(1);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
