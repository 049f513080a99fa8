/**
 * Zod as Warden uses it: the functional `zod/mini` API, with English error messages. Every
 * module takes zod from here: `import * as z from './zod.js'`.
 *
 * Why mini: classic zod gives every schema it builds its own copies of its methods
 * (`.optional()`, `.min()`, ...). A cold `warden kill` builds the schemas of the config's Redis
 * part and of the session record before it sends anything, and that took ~25 ms of its ~170 ms;
 * the same schemas in zod/mini take ~3 ms. Parsing is the same code (zod/v4/core) either way.
 * zod/mini loads no locale by itself: without the English one, every error reads "Invalid input".
 */
import { config, NEVER, pipe, transform, type output, type ZodMiniType } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';

const REJECTED = Symbol('rejected');

/** What a `convert` function returns for a value it does not accept. */
export interface Rejection {
  readonly [REJECTED]: string;
}

export const reject = (message: string): Rejection => ({ [REJECTED]: message });

const isRejection = (value: unknown): value is Rejection => typeof value === 'object' && value !== null && REJECTED in value;

/**
 * `from`, then `fn` of its value: the schema of a field that is written as text and used as
 * something else ("30m" as milliseconds, "HOST:PORT" as `{ host, port }`). `fn` returns the
 * converted value, or `reject(message)` for a value it does not accept, which is then an issue
 * of the field with that message.
 */
export function convert<S extends ZodMiniType, O>(from: S, fn: (value: output<S>) => O | Rejection) {
  return pipe(
    from,
    transform<output<S>, O>((value, payload) => {
      const out = fn(value);
      if (!isRejection(out)) return out;
      payload.issues.push({ code: 'custom', message: out[REJECTED], input: value });
      return NEVER;
    }),
  );
}
