#!/usr/bin/env node
/**
 * `npm test`: everything needed to run the whole suite from a clean clone.
 *
 *   1. system programs (redis-server, sshd, ssh/scp/sftp, tmux, asciinema), installed with
 *      apt-get when running as root, otherwise a clear message and exit 1;
 *   2. node_modules (`npm ci` if absent);
 *   3. `tsc -p tsconfig.json`, scripts/build-cli.js and scripts/build-console.js: e2e tests
 *      spawn `node bin/warden.js`, which runs the build (the CLI's commands from its bundle,
 *      the web console from dist/console);
 *      then `tsc -p tsconfig.test.json` type-checks the tests (vitest itself does not), and
 *      console/ and bench/ are checked too;
 *   4. `vitest run`, with any extra arguments (`npm test -- test/unit -t idle`), exiting with
 *      vitest's code.
 *
 * After vitest it prints one plain "Tests: N passed, N failed, N skipped" line (from vitest's
 * JSON report) so CI logs carry a count, unless a --reporter was given explicitly.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSystemDeps } from './ensure-system-deps.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

function step(title) {
  console.error(`\n== ${title}`);
}

function run(cmd, args) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (res.error) throw res.error;
  return res.status ?? (res.signal ? 128 : 1);
}

function must(cmd, args) {
  const code = run(cmd, args);
  if (code !== 0) {
    console.error(`${cmd} ${args.join(' ')} failed with exit code ${code}`);
    process.exit(code);
  }
}

step('system dependencies');
try {
  ensureSystemDeps({ purpose: 'test' });
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}

step('node modules');
if (!existsSync(path.join(root, 'node_modules', '.package-lock.json')) || !existsSync(path.join(root, 'node_modules', 'vitest'))) {
  must(npm, ['ci', '--no-audit', '--no-fund']);
} else {
  console.error('node_modules present');
}

step('build (tsc -p tsconfig.json, then the CLI bundle and the web console)');
must(npx, ['--no-install', 'tsc', '-p', 'tsconfig.json']);
must(process.execPath, [path.join(root, 'scripts', 'build-cli.js')]);
must(process.execPath, [path.join(root, 'scripts', 'build-console.js')]);
step('type-check the tests, the console and the benchmark (tsconfig.test.json, console/, bench/)');
must(npx, ['--no-install', 'tsc', '-p', 'tsconfig.test.json']);
must(npx, ['--no-install', 'tsc', '-p', 'console/tsconfig.json']);
// The benchmark runs under tsx, which strips types without checking them.
must(npx, ['--no-install', 'tsc', '-p', 'bench/tsconfig.json']);

step('vitest run');
const extra = process.argv.slice(2);
const wantsSummary = !extra.some((a) => a === '--reporter' || a.startsWith('--reporter='));
const reportDir = wantsSummary ? mkdtempSync(path.join(os.tmpdir(), 'warden-vitest-')) : undefined;
const reportFile = reportDir ? path.join(reportDir, 'report.json') : undefined;
const reporterArgs = reportFile ? ['--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`] : [];
const code = run(npx, ['--no-install', 'vitest', 'run', ...reporterArgs, ...extra]);

if (reportFile) {
  try {
    const report = JSON.parse(readFileSync(reportFile, 'utf8'));
    const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    console.log(`Tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`);
  } catch {
    // no report (vitest failed before running tests): its own output says why
  } finally {
    rmSync(reportDir, { recursive: true, force: true });
  }
}
process.exit(code);
