/**
 * What a grant lets a user do with files (`transfer:` in the config), compiled once at load.
 *
 * - upload: opening a file for writing, mkdir, symlink/hardlink, changing attributes;
 * - download: opening a file for reading;
 * - delete: remove, rmdir, rename (a rename removes the old name and may replace the new one);
 * - maxFileSize: no upload or download past this many bytes;
 * - deny: globs; a path matching one is refused for every operation. A glob without `/`
 *   matches the last path component (`*.key`); one with `/` matches the whole absolute path
 *   (`/etc/**`). `*` and `?` stay within a component, `**` crosses them.
 *
 * Paths are matched lexically, after `.`/`..` are resolved against the session's working
 * directory (as the server reported it): a symlink on the target can still lead elsewhere.
 */
import { posix } from 'node:path';

export type TransferOp = 'upload' | 'download' | 'delete' | 'rename' | 'mkdir' | 'rmdir' | 'setstat' | 'symlink' | 'link' | 'list' | 'stat';

export interface TransferPolicyConfig {
  upload: boolean;
  download: boolean;
  delete: boolean;
  maxFileSize?: number;
  deny: string[];
}

export interface Refusal {
  message: string;
  rule: string;
}

export interface TransferPolicy {
  readonly maxFileSize?: number;
  /** True when nothing is restricted: parse for the log only. */
  readonly permissive: boolean;
  /** Some deny pattern names a whole path: relative paths need the working directory. */
  readonly anchored: boolean;
  /** Whether `op` may touch `paths` (absolute or already resolved). */
  check(op: TransferOp, paths: readonly string[]): Refusal | undefined;
}

/** Which switch each operation needs; `list` and `stat` need none (only `deny`). */
const NEEDS: Partial<Record<TransferOp, 'upload' | 'download' | 'delete'>> = {
  upload: 'upload', mkdir: 'upload', setstat: 'upload', symlink: 'upload', link: 'upload',
  download: 'download', delete: 'delete', rmdir: 'delete', rename: 'delete',
};

/** A glob as a RegExp over a whole string. Throws on an empty pattern. */
export function globToRegExp(glob: string): RegExp {
  if (glob === '') throw new Error('empty pattern');
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      // "/**" at the end also matches the directory itself; "**/" matches zero or more dirs.
      if (glob[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        if (re.endsWith('/') && i + 2 === glob.length) re = `${re.slice(0, -1)}(?:/.*)?`;
        else re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[\\^$.+()|{}[\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

export function compileTransferPolicy(cfg: TransferPolicyConfig): TransferPolicy {
  const deny = cfg.deny.map((pattern) => ({ pattern, re: globToRegExp(pattern), base: !pattern.includes('/') }));
  return {
    maxFileSize: cfg.maxFileSize,
    permissive: cfg.upload && cfg.download && cfg.delete && cfg.maxFileSize === undefined && deny.length === 0,
    anchored: deny.some((d) => !d.base),
    check(op, paths) {
      const needs = NEEDS[op];
      if (needs && !cfg[needs]) return { message: `${needs === 'delete' ? 'deleting or renaming' : `${needs}ing`} files is not allowed on this grant`, rule: needs };
      for (const path of paths) {
        for (const d of deny) {
          if (d.re.test(d.base ? posix.basename(path) : path)) return { message: `${path} matches a denied pattern (${d.pattern})`, rule: `deny ${d.pattern}` };
        }
      }
      return undefined;
    },
  };
}

/** `path` made absolute against `cwd` (when known) with `.` and `..` resolved. */
export function resolvePath(path: string, cwd: string | undefined): string {
  if (path.startsWith('/')) return posix.normalize(path).replace(/(.)\/$/, '$1');
  const joined = cwd ? posix.join(cwd, path) : posix.normalize(path || '.');
  return joined.replace(/(.)\/$/, '$1');
}
