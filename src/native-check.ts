/**
 * ssh2's native crypto binding is ~15x faster than its JavaScript fallback. npm 11+ may skip
 * its install script unless package.json approves it (allowScripts), so check at start-up.
 */
import { createRequire } from 'node:module';
import type { Logger } from './logger.js';

export function nativeCryptoAvailable(): boolean {
  const require = createRequire(import.meta.url);
  try {
    return (require('ssh2/lib/protocol/crypto.js') as { bindingAvailable?: boolean }).bindingAvailable === true;
  } catch {
    return false;
  }
}

export function checkNativeCrypto(log: Logger): void {
  if (nativeCryptoAvailable()) return;
  log.warn(
    'ssh2 native crypto binding is MISSING: relaying will be ~15x slower. Rebuild it with `npm rebuild ssh2` ' +
      '(needs python3, make and g++) and make sure package.json "allowScripts" approves ssh2.',
  );
}
