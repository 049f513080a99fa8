/**
 * The web console's files on the admin listener (src/admin/admin-console-routes.ts), with
 * Fastify's inject against a console directory made here: strict headers on every console
 * answer, pages fall back to index.html only for browsers asking for HTML, the API's 404
 * stays JSON, only files that exist in the directory are served, gzip when accepted.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleRoutes, CONSOLE_CSP } from '../../src/admin/admin-console-routes.js';

let dir: string;
let app: FastifyInstance;
const HTML = { accept: 'text/html,application/xhtml+xml' };

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'warden-console-'));
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>console</title>');
  writeFileSync(path.join(dir, 'main.js'), 'console.log(1)');
  writeFileSync(path.join(dir, 'main.js.gz'), gzipSync('console.log(1)'));
  writeFileSync(path.join(dir, 'main.css'), 'body{}');
  writeFileSync(path.join(dir, 'manifest.json'), '[]');
  writeFileSync(path.join(os.tmpdir(), 'outside.js'), 'secret');
  app = Fastify();
  consoleRoutes(app, dir);
  await app.ready();
});

afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

function expectStrictHeaders(headers: Record<string, unknown>): void {
  expect(headers['content-security-policy']).toBe(CONSOLE_CSP);
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['referrer-policy']).toBe('no-referrer');
}

describe('console routes', () => {
  it('serves index.html at / and at each page path, with the strict headers', async () => {
    for (const url of ['/', '/sessions', '/sessions/01JD4X', '/commands', '/instances', '/audit', '/login']) {
      const res = await app.inject({ url, headers: HTML });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.body).toContain('<title>console</title>');
      expectStrictHeaders(res.headers);
    }
    expect(CONSOLE_CSP).toContain("default-src 'self'");
    // Scripts only from the listener itself: no inline script, no eval.
    expect(/script-src ([^;]*)/.exec(CONSOLE_CSP)?.[1]).toBe("'self' 'wasm-unsafe-eval'");
    expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
  });

  it('serves assets that exist, gzipped when accepted, and revalidates with the ETag', async () => {
    const plain = await app.inject({ url: '/assets/main.js' });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.body).toBe('console.log(1)');
    expectStrictHeaders(plain.headers);
    const gz = await app.inject({ url: '/assets/main.js', headers: { 'accept-encoding': 'gzip, br' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.rawPayload.equals(gzipSync('console.log(1)'))).toBe(true);
    const again = await app.inject({ url: '/assets/main.js', headers: { 'if-none-match': String(plain.headers.etag) } });
    expect(again.statusCode).toBe(304);
    expect((await app.inject({ url: '/assets/main.css' })).headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('answers JSON 404s for the API, unknown assets, traversal and non-HTML requests', async () => {
    for (const [url, headers] of [
      ['/api/nothing', HTML],
      ['/assets/nothing.js', {}],
      ['/assets/manifest.json', {}],
      ['/assets/..%2Foutside.js', {}],
      ['/assets/../../outside.js', {}],
      ['/sessions', { accept: 'application/json' }],
      ['/etc/passwd', HTML],
      ['/sessions/../../x', HTML],
    ] as Array<[string, Record<string, string>]>) {
      const res = await app.inject({ url, headers });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error.code, url).toBe('NOT_FOUND');
      expect(res.body).not.toContain('secret');
    }
  });

  it('says the console is not built when its directory is missing', async () => {
    const bare = Fastify();
    consoleRoutes(bare, path.join(dir, 'missing'));
    const res = await bare.inject({ url: '/', headers: HTML });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.message).toMatch(/not built/);
    await bare.close();
  });
});
