/**
 * The exec command line of rsync's remote end, as rsync's client sends it over ssh:
 * `rsync --server [--sender] -flags [--options] . PATH...` (paths backslash-escaped by rsync
 * ≥ 3.2.4). Warden adds the target rsync's own per-file log to it (rsync-log.ts) instead of
 * parsing rsync's wire protocol, so the command is parsed strictly: anything a shell would
 * read differently from a plain word list is left alone (and logged as one run).
 */

export interface RsyncCommand {
  /** The target sends (`--sender`): the user downloads. */
  sender: boolean;
  /** The words after the `.` separator, unescaped: sources of a download, the destination of an upload. */
  paths: string[];
  /** Why the per-file log cannot be added; undefined when `withFileLog` may be used. */
  unloggable?: string;
}

/** Shell syntax that would make the words mean something else than they look. */
const SHELL_SPECIAL = /["'`$;&|<>(){}\n\r]/;
const PROGRAM = /^(?:[\w.+-]*\/)*rsync$/;

/** Split on blanks, honouring backslash escapes; undefined on unescaped shell syntax. */
function words(command: string): string[] | undefined {
  const out: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === '\\') {
      if (i + 1 >= command.length || command[i + 1] === '\n') return undefined;
      word = (word ?? '') + command[++i];
    } else if (c === ' ' || c === '\t') {
      if (word !== undefined) out.push(word);
      word = undefined;
    } else if (SHELL_SPECIAL.test(c) || (c === '#' && word === undefined)) return undefined;
    else word = (word ?? '') + c;
  }
  if (word !== undefined) out.push(word);
  return out;
}

/** `rsync --server ...`; undefined when the command is not rsync's server end at all. */
export function parseRsyncCommand(command: string, opts: { pty: boolean }): RsyncCommand | undefined {
  const loose = /^\s*(\S*)\s+--server(?:\s|$)/.exec(command);
  if (!loose || !PROGRAM.test(loose[1]!.replace(/\\(.)/g, '$1'))) return undefined;
  const w = words(command);
  if (!w || w[1] !== '--server') {
    // Checked against the policy as plain words, as far as they can be told apart.
    const raw = command.trim().split(/\s+/);
    const dot = raw.indexOf('.', 2);
    return { sender: raw.slice(0, dot < 0 ? undefined : dot).includes('--sender'), paths: dot < 0 ? [] : raw.slice(dot + 1), unloggable: 'the command line uses shell syntax' };
  }
  const dot = w.indexOf('.', 2);
  const options = dot >= 0 ? w.slice(2, dot) : w.slice(2);
  const paths = dot >= 0 ? w.slice(dot + 1) : [];
  const unloggable =
    dot < 0 ? 'no "." separator in the command line'
    : options.includes('--daemon') ? 'rsync daemon mode over ssh'
    : options.some((o) => /^--log-file/.test(o)) ? 'the command sets its own --log-file'
    : opts.pty ? 'a terminal was requested (stderr and the protocol would mix)'
    : undefined;
  return { sender: options.includes('--sender'), paths, ...(unloggable ? { unloggable } : {}) };
}

/**
 * The command with rsync's per-file log to stderr added right after `--server`. `marker`
 * must be [A-Za-z0-9-] only: the format word then needs no quoting in any shell. The sender
 * logs `%f` (its full path), the receiver `%n` (relative to the destination).
 */
export function withFileLog(command: string, sender: boolean, marker: string): string {
  if (!/^[A-Za-z0-9-]+$/.test(marker)) throw new Error('marker must be alphanumeric');
  const at = command.indexOf('--server') + '--server'.length;
  return `${command.slice(0, at)} --log-file=/dev/stderr --log-file-format=${marker}:%o:%l:${sender ? '%f' : '%n'}${command.slice(at)}`;
}
