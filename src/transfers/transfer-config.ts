/**
 * The `transfer:` config (top level: defaults for every grant, whether transfers are parsed at
 * all, kept copies; per grant: its own rules), and a grant's compiled policy.
 */
import * as z from 'zod';
import { compileTransferPolicy, type TransferPolicy } from './transfer-policy.js';

/** The schemas, given the config's size type ("1GiB", "50MiB" or a number of bytes). */
export function transferSchemas(size: z.ZodType<number, string | number>) {
  const rules = z
    .object({
      upload: z.boolean().optional(),
      download: z.boolean().optional(),
      delete: z.boolean().optional(),
      maxFileSize: size.optional(),
      deny: z.array(z.string().min(1)).optional(),
    })
    .strict();
  const defaults = rules
    .extend({
      /** Parse sftp/scp to log each file operation (false: bytes pass untouched, no policy). */
      audit: z.boolean().default(true),
      /** Add the target rsync's per-file log to `rsync --server` (false: a target that refuses
       *  extra options, e.g. rrsync, still works; each rsync run is then one entry). */
      rsyncFileLog: z.boolean().default(true),
      keep: z
        .object({ enabled: z.boolean().default(false), maxFileSize: size.default(50 * 1024 ** 2), dir: z.string().optional() })
        .strict()
        .prefault({}),
    })
    .strict()
    .prefault({});
  return { rules, defaults };
}

type Rules = { upload?: boolean; download?: boolean; delete?: boolean; maxFileSize?: number; deny?: string[] };

/** A grant's rules over the top-level ones (everything allowed by default), compiled. */
export function grantTransferPolicy(top: Rules, grant: Rules | undefined): TransferPolicy {
  const t = { ...top, ...grant };
  return compileTransferPolicy({ upload: t.upload ?? true, download: t.download ?? true, delete: t.delete ?? true, maxFileSize: t.maxFileSize, deny: t.deny ?? [] });
}
