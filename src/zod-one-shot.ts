/**
 * For one-shot processes (the CLI's commands): zod compiles a parser per object schema with
 * `new Function` at its first parse. A command that decodes a few records once pays that
 * (~4 ms for a session record) and never gets it back; jitless parsing gives the same results.
 */
import * as z from './zod.js';

export function zodForOneShot(): void {
  z.config({ jitless: true });
}
