/**
 * `WS /api/sessions/:id/watch` (viewer and operator): a live, read-only view of a session on
 * any instance (src/watch/watch-client.ts). The id is resolved and checked before the upgrade,
 * so an unknown, ambiguous or finished session is a plain HTTP error. Then, as JSON text
 * messages:
 *
 *   {"type":"screen","cols":80,"rows":24,"data":"..."}   first: the current screen
 *   {"type":"output","data":"..."}                       what the user's terminal received
 *   {"type":"resize","cols":100,"rows":30}
 *   {"type":"end","reason":"..."}                        then the socket closes
 *
 * `data` is the terminal output decoded as UTF-8 (streaming, so a character split between two
 * batches stays whole), ready for xterm.js `write`. Messages from the client are ignored: a
 * watcher never sends input. A client that does not read is dropped once BUFFER_LIMIT bytes
 * wait for it, with an `end` that says so.
 */
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { WardenError } from '../errors.js';
import { startWatch, type WatchHandle } from '../watch/watch-client.js';
import { principalOf, type AdminContext } from './admin-context.js';
import { decode, sessionIdParam } from './admin-input.js';

const BUFFER_LIMIT = 4 * 1024 * 1024;
/** Close codes in the private range: the reason is in the last `end` message too. */
const CLOSE_ENDED = 4000;
const CLOSE_DROPPED = 4008;

declare module 'fastify' {
  interface FastifyRequest {
    watchSession?: string;
  }
}

/** A browser page from another origin must not ride on the admin's cookie (SameSite aside). */
function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function serve(socket: WebSocket, req: FastifyRequest, ctx: AdminContext): void {
  const who = principalOf(req);
  const decoder = new TextDecoder('utf-8');
  let handle: WatchHandle | undefined;
  let closed = false;
  const sendJson = (msg: object) => {
    if (closed) return;
    if (socket.bufferedAmount > BUFFER_LIMIT) {
      closed = true;
      socket.send(JSON.stringify({ type: 'end', reason: 'dropped: this watcher cannot keep up with the session' }));
      socket.close(CLOSE_DROPPED, 'too slow');
      void handle?.stop('dropped: too slow');
      return;
    }
    socket.send(JSON.stringify(msg));
  };
  socket.on('message', () => {}); // read-only: whatever a client sends goes nowhere
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
    void handle?.stop('left');
  });
  startWatch({
    registry: ctx.registry,
    sessionId: req.watchSession!,
    who: who.name,
    via: 'api',
    from: req.ip,
    sink: {
      screen: (cols, rows, data) => sendJson({ type: 'screen', cols, rows, data: decoder.decode(data, { stream: true }) }),
      output: (data) => sendJson({ type: 'output', data: decoder.decode(data, { stream: true }) }),
      resize: (cols, rows) => sendJson({ type: 'resize', cols, rows }),
    },
  }).then(
    (h) => {
      handle = h;
      if (closed) return void h.stop('left');
      void h.ended.then((reason) => {
        sendJson({ type: 'end', reason });
        closed = true;
        socket.close(CLOSE_ENDED, 'watch ended');
      });
    },
    (err: unknown) => {
      const e = err instanceof WardenError ? { code: err.code, message: err.message } : { code: 'INTERNAL', message: 'cannot start watching; see the Warden log' };
      if (!(err instanceof WardenError)) req.log.error({ err }, 'watch: cannot start');
      sendJson({ type: 'end', reason: e.message, error: e });
      closed = true;
      socket.close(CLOSE_ENDED, e.code);
    },
  );
}

export async function watchRoutes(app: FastifyInstance, ctx: AdminContext): Promise<void> {
  await app.register(websocket, { options: { maxPayload: 1024 } });
  app.get(
    '/api/sessions/:id/watch',
    {
      websocket: true,
      // Before the upgrade: errors are plain HTTP answers with the API's error shape.
      preHandler: async (req) => {
        if (!sameOrigin(req)) throw new WardenError('BAD_REQUEST', 'cross-origin watch request refused');
        const id = await ctx.registry.resolve(decode(sessionIdParam, req.params, 'path').id);
        const rec = await ctx.registry.get(id);
        if (!rec) throw new WardenError('SESSION_NOT_FOUND', `"${id}" has expired from the registry`);
        if (rec.state === 'finished') throw new WardenError('SESSION_NOT_LIVE', `${id} ended (${rec.reason ?? 'unknown reason'})`);
        req.watchSession = id;
      },
    },
    (socket, req) => serve(socket, req, ctx),
  );
}
