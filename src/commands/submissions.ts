/**
 * Lines submitted with Enter that the target has not answered yet, and the rule that pairs each
 * newline the target sends with the line it answers (step 3 in command-tracker.ts).
 *
 * A newline answers the oldest submission if its echo had caught up at Enter. One whose echo
 * had not (a burst, a paste, a slow link) is answered by the first newline at which the screen
 * shows what its keys should show; until then the newlines are part of its echo (completion
 * listings, wrapped redraws) or of an earlier line's output. A submission answered drops the
 * older ones still waiting; a line typed slowly with nothing echoed is no-echo input (a secret)
 * and is dropped at the next newline.
 */
import type { IBuffer } from '@xterm/headless';
import type { KeyLine } from './key-line.js';
import { cursorRow, logicalEnd, promptStillShown, readEchoed, type Prefix, type PromptShape } from './screen-text.js';

interface Submission {
  prefix: Prefix;
  at: number;
  /** The screen at Enter: showed what the keys should show, something else, or nothing. */
  echo: 'matches' | 'partial' | 'none';
  /** Typed for longer than the no-echo threshold. */
  slow: boolean;
  keys: KeyLine;
  /** Line feeds seen while waiting for the echo (bounds the work a pending line costs). */
  feeds: number;
  /** Last row of the line at Enter, relative to the prompt's row (multi-line pastes). */
  endOffset: number;
}

/** Unresolved submissions kept at most (a program reading lines with echo off and never
 *  printing a newline would otherwise grow the queue). */
const MAX_PENDING = 32;
/** Line feeds a submission waits for its echo before it is dropped. */
const MAX_FEEDS = 64;

export class Submissions {
  private list: Submission[] = [];
  /** The prompt of the last answered line, to recognise it when a prefix was captured off it. */
  lastPrompt: PromptShape | undefined;

  get size(): number {
    return this.list.length;
  }

  /** Enter on a line whose first key captured `prefix`; the buffer is as the key found it. */
  add(buf: IBuffer, prefix: Prefix, keys: KeyLine, at: number, slow: boolean): void {
    const end = logicalEnd(buf, cursorRow(buf));
    const shown = readEchoed(buf, prefix, end, this.lastPrompt, keys);
    // An empty screen matches an erased line only once the erasing keys' echo is in.
    const echo = shown === '' && keys.anyText ? 'none' : keys.accepts(shown) ? 'matches' : shown === '' ? 'none' : 'partial';
    this.list.push({ prefix, at, echo, slow, keys, feeds: 0, endOffset: end - prefix.marker.line });
    if (this.list.length > MAX_PENDING) this.drop(this.list.length - MAX_PENDING);
  }

  /** A newline was just parsed: the command it answers, if any ('' for an empty line). */
  onLineFeed(buf: IBuffer): { command: string; at: number } | undefined {
    const left = cursorRow(buf) - 1; // the row the newline just left
    for (let i = 0; i < this.list.length; i++) {
      const s = this.list[i]!;
      if (s.echo === 'none' && s.slow && s.keys.anyText) {
        this.dropAt(i--);
        continue;
      }
      const marker = s.prefix.marker;
      const last = marker.isDisposed ? left : Math.max(left, marker.line + s.endOffset);
      const command = readEchoed(buf, s.prefix, last, this.lastPrompt, s.keys);
      if ((s.echo === 'matches' && i === 0) || s.keys.accepts(command)) {
        if (promptStillShown(buf, s.prefix)) this.lastPrompt = { col: s.prefix.col, text: s.prefix.text };
        this.drop(i + 1);
        return { command, at: s.at };
      }
      if (++s.feeds > MAX_FEEDS) this.dropAt(i--);
    }
    return undefined;
  }

  /** Drop the oldest `n` (all by default). */
  drop(n = this.list.length): void {
    for (const s of this.list.splice(0, n)) s.prefix.marker.dispose();
  }

  private dropAt(i: number): void {
    this.list.splice(i, 1)[0]?.prefix.marker.dispose();
  }
}
