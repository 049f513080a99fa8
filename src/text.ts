/**
 * User-supplied text (login names, commands, env values) goes into logs, menus and terminal
 * messages. Control characters there can forge log lines or repaint a terminal, so every such
 * string passes through `printable` first.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function printable(value: string, maxLength = 256): string {
  const escaped = value.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return escaped.length > maxLength ? `${escaped.slice(0, maxLength)}…` : escaped;
}

/** Terminal lines need CRLF: with a pty in raw mode a bare LF does not return the carriage. */
export function crlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

/** "ENOSPC: no space left on device, write 'x'" -> "no space left on device": for users. */
export function describeFsError(err: Error): string {
  const m = /^E[A-Z]+: ([^,]+)/.exec(err.message);
  return m ? m[1]! : err.message;
}
