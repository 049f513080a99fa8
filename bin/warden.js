#!/usr/bin/env node
// What `warden` runs: bin/warden, the launcher, execs it (CommonJS: bin/package.json says so,
// and Node's ES module loader alone costs a cold start ~25 ms). Runs the compiled CLI: `npm ci`
// builds it via the `prepare` script, `npm run build` rebuilds it.
//
// `warden start` runs tsc's output (dist/src) as it is. Every other command is an admin's
// one-shot call that pays Node's cold start, so it runs from the CLI bundle (dist/cli/warden.cjs,
// built by scripts/build-cli.js), compiled with V8's code cache: the cache (warden.cjs.cache
// beside it) holds the compiled functions of an earlier run, so a call skips most parsing and
// compiling. The first run, or one whose cache V8 rejects (another Node version, other V8
// flags), compiles from source and leaves a fresh cache; a directory it may not write to
// only means no cache. A bundle older than tsc's output (a `tsc` without the bundling step)
// is not used.
'use strict';
const { existsSync, readFileSync, renameSync, statSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const vm = require('node:vm');

const compiled = path.join(__dirname, '../dist/src/cli.js');
const bundle = path.join(__dirname, '../dist/cli/warden.cjs');

/** Load the bundle as require() would, but with V8's code cache. */
function loadBundle() {
  const cacheFile = `${bundle}.cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  // The bundle is ASCII (esbuild escapes the rest; scripts/build-cli.js checks), so latin1
  // reads it as utf8 would, without Node's utf8 decoding copies (~200 fresh pages of memory).
  const script = new vm.Script(Module.wrap(readFileSync(bundle).latin1Slice()), { filename: bundle, cachedData });
  const mod = new Module(bundle, module);
  mod.filename = bundle;
  mod.paths = Module._nodeModulePaths(path.dirname(bundle));
  Module._cache[bundle] = mod;
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, path.dirname(bundle));
  mod.loaded = true;
  if (cachedData === undefined || script.cachedDataRejected) {
    // After the command: the cache then also holds the functions it compiled while running.
    process.once('exit', () => {
      const tmp = `${cacheFile}.${process.pid}`;
      try {
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch {
        // A read-only install: the next run compiles from source, as this one did.
      }
    });
  }
  return mod.exports;
}

async function run() {
  if (!existsSync(compiled)) {
    console.error('warden: not built yet. Run `npm ci` (or `npm run build`) in the Warden checkout first.');
    return { code: 1, done: false };
  }
  const argv = process.argv.slice(2);
  const mtime = (file) => statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? -1;
  if (argv[0] !== 'start' && mtime(bundle) >= mtime(compiled)) return { code: await loadBundle().main(argv), done: true };
  const { main } = await import(pathToFileURL(compiled).href);
  return { code: await main(argv), done: false };
}

run().then(({ code, done }) => {
  // A CLI command is over when main returns: exit now instead of waiting for Node to tear down
  // the heap (~30 ms of a cold `warden kill`), unless output is still queued: Node queues what
  // a full pipe does not take (`warden sessions --json | less`), and process.exit would drop
  // it. `warden start` returns while its server runs, and ends when the server does.
  const queued = process.stdout.writableLength > 0 || process.stderr.writableLength > 0;
  if (done && !queued) process.exit(code);
  process.exitCode = code;
});
