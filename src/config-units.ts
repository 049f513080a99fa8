/**
 * Durations ("30m") and sizes ("50MiB") as config fields. Apart from config-fields.ts because
 * the CLI's connection-only config (config-connection.ts) needs them without the fields that
 * load ssh2's key parser.
 */
import { parseByteSize } from './byte-size.js';
import { parseDuration } from './duration.js';
import * as z from './zod.js';

export const duration = z.convert(
  z.union([z.string(), z.number()]),
  (value) => parseDuration(value) ?? z.reject(`"${value}" is not a duration (use e.g. 4s, 90s, 30m, 8h)`),
);

export const byteSize = z.convert(
  z.union([z.string(), z.number()]),
  (value) => parseByteSize(value) ?? z.reject(`"${value}" is not a size (use e.g. 512KiB, 50MiB, 1GiB)`),
);
