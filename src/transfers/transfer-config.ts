/**
 * The `transfer:` config (top level: defaults for every grant, whether transfers are parsed at
 * all, kept copies; per grant: its own rules), and a grant's compiled policy.
 */
import { section } from '../config-sections.js';
import { byteSize } from '../config-units.js';
import * as z from '../zod.js';
import { compileTransferPolicy, type TransferPolicy } from './transfer-policy.js';

const ruleFields = {
  upload: z.optional(z.boolean()),
  download: z.optional(z.boolean()),
  delete: z.optional(z.boolean()),
  maxFileSize: z.optional(byteSize),
  deny: z.optional(z.array(z.string().check(z.minLength(1)))),
};

/** A grant's `transfer:` rules. */
export const transferRules = z.strictObject(ruleFields);

/** The top-level `transfer:` section: the rules every grant starts from, and how transfers are audited. */
export const transferDefaults = section({
  ...ruleFields,
  /** Parse sftp/scp to log each file operation (false: bytes pass untouched, no policy). */
  audit: z._default(z.boolean(), true),
  /** Add the target rsync's per-file log to `rsync --server` (false: a target that refuses
   *  extra options, e.g. rrsync, still works; each rsync run is then one entry). */
  rsyncFileLog: z._default(z.boolean(), true),
  keep: section({ enabled: z._default(z.boolean(), false), maxFileSize: z._default(byteSize, 50 * 1024 ** 2), dir: z.optional(z.string()) }),
});

type Rules = { upload?: boolean; download?: boolean; delete?: boolean; maxFileSize?: number; deny?: string[] };

/** A grant's rules over the top-level ones (everything allowed by default), compiled. */
export function grantTransferPolicy(top: Rules, grant: Rules | undefined): TransferPolicy {
  const t = { ...top, ...grant };
  return compileTransferPolicy({ upload: t.upload ?? true, download: t.download ?? true, delete: t.delete ?? true, maxFileSize: t.maxFileSize, deny: t.deny ?? [] });
}
