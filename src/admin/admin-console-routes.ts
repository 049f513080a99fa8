/**
 * The web console's files (built by scripts/build-console.js into dist/console) on the admin
 * listener: `/` and the console's own routes answer index.html, `/assets/<name>` the bundles.
 * Only names listed in the directory when the listener starts are served (a request never
 * names a path on disk), each with a strict Content-Security-Policy: no inline script or
 * style attribute can run even if some text slipped through as HTML. Pre-compressed `.gz`
 * siblings are sent to browsers that accept gzip.
 */
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WardenError } from '../errors.js';
import { sendError } from './admin-errors.js';

/**
 * Two allowances beyond `'self'`, both for the players, neither letting any script run:
 * `'wasm-unsafe-eval'`: asciinema-player's terminal emulator is WebAssembly, which a CSP
 * without it refuses to compile (JavaScript eval stays refused). Styles `'unsafe-inline'`:
 * xterm.js's DOM renderer writes its theme and cell metrics into <style> elements it creates
 * and true colours into style attributes, at run time (no hash or nonce can name them).
 * Scripts stay `'self'` only; the console's own HTML and CSS have nothing inline.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/** Paths of the console's pages (History routing): they all answer index.html. */
const PAGE = /^\/(?:login|sessions(?:\/[0-9A-Za-z]{1,26})?|commands|instances|audit)?\/?$/;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
  '.svg': 'image/svg+xml',
};

interface ConsoleFile {
  file: string;
  gz?: string;
  type: string;
  etag: string;
}

/** The built console next to dist/src (dist/console). */
export function defaultConsoleDir(): string {
  return fileURLToPath(new URL('../../console/', import.meta.url));
}

/** The files of the built console, by name; empty when it was not built. */
function listFiles(dir: string): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir)) {
    const type = TYPES[path.extname(name)];
    if (!type) continue;
    const file = path.join(dir, name);
    const st = statSync(file);
    if (!st.isFile()) continue;
    const gz = existsSync(`${file}.gz`) ? `${file}.gz` : undefined;
    files.set(name, { file, gz, type, etag: `"${st.size.toString(36)}-${Math.floor(st.mtimeMs).toString(36)}"` });
  }
  return files;
}

function send(req: FastifyRequest, reply: FastifyReply, f: ConsoleFile): FastifyReply {
  reply
    .header('content-type', f.type)
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    // Fixed names: the browser revalidates every time (a 304 costs a round trip, not a body).
    .header('cache-control', 'no-cache')
    .header('etag', f.etag)
    .header('vary', 'accept-encoding');
  if (req.headers['if-none-match'] === f.etag) return reply.code(304).send();
  const gzip = f.gz !== undefined && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  if (gzip) reply.header('content-encoding', 'gzip');
  return reply.send(createReadStream(gzip ? f.gz! : f.file));
}

/** Wants a page (a browser navigating), not data: only those fall back to index.html. */
function wantsHtml(req: FastifyRequest): boolean {
  return String(req.headers.accept ?? '').includes('text/html');
}

export function consoleRoutes(app: FastifyInstance, dir = defaultConsoleDir()): void {
  const files = listFiles(dir);
  const index = files.get('index.html');
  const notBuilt = () => new WardenError('NOT_FOUND', 'the web console is not built here (run `npm run build`)');

  app.get('/assets/:name', async (req, reply) => {
    const { name } = req.params as { name: string };
    const f = name === 'index.html' ? undefined : files.get(name);
    if (!f) return sendError(reply, new WardenError('NOT_FOUND', `no console asset "${name.slice(0, 100)}"`), req);
    return send(req, reply, f);
  });

  // Everything else that is a GET: a console page for browsers, the API's 404 for the rest.
  const page = async (req: FastifyRequest, reply: FastifyReply) => {
    const p = req.url.split('?', 1)[0]!;
    if (!PAGE.test(p) || !wantsHtml(req)) return sendError(reply, new WardenError('NOT_FOUND', `GET ${req.url.slice(0, 100)}`), req);
    if (!index) return sendError(reply, notBuilt(), req);
    return send(req, reply, index);
  };
  app.get('/', page);
  app.get('/*', page);
}
