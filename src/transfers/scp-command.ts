/** The exec command line of legacy scp's remote end, as OpenSSH's `scp -O` sends it. */

export interface ScpCommand {
  mode: 'upload' | 'download';
  /** DEST of `scp -t`, SRC of `scp -f`, as given. */
  path: string;
  /** -d or -r: DEST is a directory. */
  dir: boolean;
}

/** `scp [-v -r -p -d -q] -t|-f [--] PATH` as OpenSSH's scp sends it; anything else: undefined. */
export function parseScpCommand(command: string): ScpCommand | undefined {
  const m = /^\s*scp((?:\s+-[a-zA-Z]+)*)\s+(?:--\s+)?(.+?)\s*$/.exec(command);
  if (!m) return undefined;
  const flags = m[1]!.replace(/[\s-]/g, '');
  const t = flags.includes('t');
  if (t === flags.includes('f')) return undefined;
  let path = m[2]!;
  if (/^'[^']*'$/.test(path)) path = path.slice(1, -1);
  return { mode: t ? 'upload' : 'download', path, dir: flags.includes('d') || flags.includes('r') };
}
