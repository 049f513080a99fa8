/**
 * ssh2's key parser on its own. Config validation and host-key pins only parse key lines, and
 * ssh2's index loads its client, server, SFTP and agent code as well: ~90 ms of every CLI
 * call (`warden kill`) for code the CLI never runs. The parser is the very function ssh2
 * exports as `utils.parseKey`; the server side keeps using src/ssh2.ts.
 */
import { createRequire } from 'node:module';
import type { utils } from 'ssh2';

const require = createRequire(import.meta.url);

export const { parseKey } = require('ssh2/lib/protocol/keyParser.js') as { parseKey: typeof utils.parseKey };
