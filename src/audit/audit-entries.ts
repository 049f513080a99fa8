/** What the audit pipeline carries: command-log entries and finished recordings. */
import * as z from '../zod.js';

/** A command-log entry; the schema decodes it from the Redis stream (all fields strings there). */
export const commandLogEntrySchema = z.object({
  session: z.string(),
  user: z.string(),
  asset: z.string(),
  account: z.string(),
  command: z.string(),
  /** ms since epoch. */
  at: z.coerce.number(),
  /** The channel it was typed on (its recording is `<session>.<channel>.cast`). */
  channel: z.optional(z.coerce.number().check(z.int())),
  /** Seconds into that channel's recording. */
  offset: z.coerce.number(),
  /** fullscreen: a full-screen program was launched (its keys are not parsed); exec: the
   *  command of an exec channel; no_pty: a shell without a terminal (input not parsed);
   *  denied: refused by a command rule; unverified: the filter could not read the line. */
  tag: z.optional(z.enum(['fullscreen', 'exec', 'no_pty', 'denied', 'unverified'])),
});
export type CommandLogEntry = z.infer<typeof commandLogEntrySchema>;

export interface RecordingJob {
  session: string;
  /** The channel within the session's connection (1, 2, ...). */
  channel: number;
  file: string;
  chainHead: string;
  bytes: number;
}
