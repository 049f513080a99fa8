/**
 * Durations ("30m") and sizes ("50MiB") as config fields. Apart from config-fields.ts because
 * the CLI's connection-only config (config-connection.ts) needs them without the fields that
 * load ssh2's key parser.
 */
import * as z from 'zod';
import { parseByteSize } from './byte-size.js';
import { parseDuration } from './duration.js';

export const duration = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use e.g. 4s, 90s, 30m, 8h)` });
      return z.NEVER;
    }
    return ms;
  });

export const byteSize = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const bytes = parseByteSize(value);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a size (use e.g. 512KiB, 50MiB, 1GiB)` });
      return z.NEVER;
    }
    return bytes;
  });
