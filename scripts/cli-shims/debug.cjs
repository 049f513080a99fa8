// `debug` as the CLI bundle sees it (ioredis logs through it; scripts/build-cli.js swaps it in).
// The real module, loaded, asks the terminal for its colour support and opens stderr for every
// logger it makes, ~8 ms of a cold `warden kill`, for output that only DEBUG=... turns on. Without
// DEBUG the loggers are silent stubs; with it, the real module does what it always does.
'use strict';

function silent(namespace) {
  const log = () => {};
  return Object.assign(log, { namespace, enabled: false, log, destroy: () => false, extend: (sub, sep = ':') => silent(`${namespace}${sep}${sub}`) });
}
silent.default = silent;
silent.enabled = () => false;

module.exports = process.env.DEBUG ? require('debug') : silent;
