/**
 * Reads a command line back from the headless terminal's buffer.
 *
 * A line being edited starts right after the prompt, at the cell where the cursor was when the
 * user pressed the first key of the line (the "prefix"), and runs down through rows that are
 * wrapped continuations (long lines) or that the editor drew below it (multi-line pastes).
 */
import type { IBuffer, IBufferLine, IMarker } from '@xterm/headless';

/** A prompt as seen on screen: `text` fills the cells left of `col`. */
export interface PromptShape {
  col: number;
  text: string;
}

export interface Prefix extends PromptShape {
  /** Tracks the prompt's row as the buffer scrolls; disposed if the row leaves the scrollback. */
  marker: IMarker;
}

/** Longest stretch of rows one command may span; bounds the per-Enter scan. */
const MAX_ROWS = 200;

export function cursorRow(buf: IBuffer): number {
  return buf.baseY + buf.cursorY;
}

/** Last row of the logical line containing `row` (follows wrapped continuations down). */
export function logicalEnd(buf: IBuffer, row: number): number {
  let y = row;
  while (y + 1 < buf.length && buf.getLine(y + 1)?.isWrapped) y++;
  return y;
}

export function capturePrefix(buf: IBuffer, marker: IMarker): Prefix {
  const col = buf.cursorX;
  const line = buf.getLine(cursorRow(buf));
  return { marker, col, text: line ? line.translateToString(false, 0, col) : '' };
}

function showsPrompt(line: IBufferLine | undefined, p: PromptShape): boolean {
  return line !== undefined && line.translateToString(false, 0, p.col) === p.text;
}

/**
 * The command text between the prefix and `lastRow` (extended over wrapped continuations).
 * Readline may redraw prompt and line lower down (after a completion listing, Ctrl-L), so the
 * start is the lowest row at or below the prompt's row that shows the same prompt text and is
 * not a wrapped continuation. When the prompt's row is gone (scrolled out, cleared), we fall
 * back to the logical line of `lastRow`, stripping the prompt only if it is still visible.
 * `known` is a prompt seen on earlier lines: it finds the start when the prefix was captured
 * off the prompt (a key typed before the prompt was displayed, e.g. right after Ctrl-C).
 */
function readCommand(buf: IBuffer, p: Prefix, lastRow: number, known?: PromptShape): string {
  const end = logicalEnd(buf, lastRow);
  const top = p.marker.isDisposed ? -1 : p.marker.line;
  let start = -1;
  let startCol = 0;
  if (top >= 0 && top <= end && end - top <= MAX_ROWS) {
    for (let y = end; y > top && start < 0; y--) {
      const line = buf.getLine(y);
      if (!line || line.isWrapped) continue;
      const match = showsPrompt(line, p) ? p : known && showsPrompt(line, known) ? known : null;
      if (match) [start, startCol] = [y, match.col];
    }
    if (start < 0 && showsPrompt(buf.getLine(top), p)) [start, startCol] = [top, p.col];
  }
  if (start < 0) {
    start = lastRow;
    while (start > 0 && buf.getLine(start)?.isWrapped && lastRow - start < MAX_ROWS) start--;
    startCol = showsPrompt(buf.getLine(start), p) ? p.col : 0;
  }
  return textBetween(buf, start, startCol, end);
}

/** What tells whether a reading is the echo of the line's keys (a KeyLine). */
export interface EchoModel {
  readonly exact: boolean;
  accepts(shown: string): boolean;
}

/**
 * readCommand for a line whose keys are known, including a line typed ahead while the previous
 * command still ran: the terminal driver echoes those keys where the output stopped, and when
 * the shell is back it prints its prompt after them on the same row and redraws the line:
 * `echo nextwarden$ echo next`. The prefix was captured at the start of that row, so the plain
 * reading has the early echo and the prompt in it. When that reading is not what the keys make
 * and the text after the last known prompt on the prefix's rows is exactly what they make, that
 * text is the line; it is what the shell's editor holds. Only for exactly modelled keys: a
 * reading is never shortened to something the keys do not determine.
 */
export function readEchoed(buf: IBuffer, p: Prefix, lastRow: number, known: PromptShape | undefined, keys: EchoModel): string {
  const shown = readCommand(buf, p, lastRow, known);
  if (!known || !keys.exact || keys.accepts(shown) || p.marker.isDisposed || known.text.trim() === '') return shown;
  const end = logicalEnd(buf, lastRow);
  const top = p.marker.line;
  if (top > end || end - top > MAX_ROWS) return shown;
  for (let y = end; y >= top; y--) {
    const line = buf.getLine(y);
    const at = line ? line.translateToString(true).lastIndexOf(known.text) : -1;
    if (!line || at < 0) continue;
    const col = columnOf(line, at + known.text.length);
    if (y === top && col - known.text.length < p.col) break;
    const after = textBetween(buf, y, col, end);
    return keys.accepts(after) ? after : shown;
  }
  return shown;
}

/** The cell column at which the row's text (as translateToString gives it: a blank cell is a
 *  space, a wide character fills two cells) reaches `length` characters. One pass over the row. */
function columnOf(line: IBufferLine, length: number): number {
  let chars = 0;
  const cell = line.getCell(0);
  for (let col = 0; col < line.length; ) {
    if (chars >= length) return col;
    line.getCell(col, cell);
    chars += cell?.getChars().length || 1;
    col += Math.max(1, cell?.getWidth() ?? 1);
  }
  return line.length;
}

/** The text from (start, startCol) to the end of row `end`, rows joined as the editor shows
 *  them: wrapped continuations run on, other rows start a new line. */
function textBetween(buf: IBuffer, start: number, startCol: number, end: number): string {
  let text = '';
  for (let y = start; y <= end; y++) {
    const line = buf.getLine(y);
    if (!line) break;
    const continued = y < end && buf.getLine(y + 1)?.isWrapped === true;
    // Keep trailing blanks of a row that wraps: a space typed at the last column is content.
    const part = line.translateToString(!continued, y === start ? startCol : 0);
    text += y === start ? part : line.isWrapped ? part : '\n' + part;
  }
  return text.trim();
}

/** Whether the prompt captured for a line is still shown on its row (to learn it as `known`). */
export function promptStillShown(buf: IBuffer, p: Prefix): boolean {
  return !p.marker.isDisposed && p.text.trim() !== '' && showsPrompt(buf.getLine(p.marker.line), p);
}
