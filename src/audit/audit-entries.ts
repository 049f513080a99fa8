/** What the audit pipeline carries: command-log entries and finished recordings. */
export interface CommandLogEntry {
  session: string;
  user: string;
  asset: string;
  account: string;
  command: string;
  /** ms since epoch. */
  at: number;
  /** The channel it was typed on (its recording is `<session>.<channel>.cast`). */
  channel?: number;
  /** Seconds into that channel's recording. */
  offset: number;
  /** fullscreen: a full-screen program was launched (its keys are not parsed); exec: the
   *  command of an exec channel; no_pty: a shell without a terminal (input not parsed);
   *  denied: refused by a command rule. */
  tag?: 'fullscreen' | 'exec' | 'no_pty' | 'denied' | 'unverified';
}

export interface RecordingJob {
  session: string;
  /** The channel within the session's connection (1, 2, ...). */
  channel: number;
  file: string;
  chainHead: string;
  bytes: number;
}
