/**
 * Calls to the admin API from the page: same-origin, the HttpOnly session cookie rides along,
 * and every POST echoes the CSRF token /api/login (or /api/me) handed out.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf = '';
let onUnauthenticated: () => void = () => {};

export function setCsrf(token: string | undefined): void {
  csrf = token ?? '';
}

/** Where a 401 sends the page (the sign-in form). */
export function whenSignedOut(fn: () => void): void {
  onUnauthenticated = fn;
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText || 'request failed';
  try {
    const body = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === 'string') code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, code, message);
}

/** One request; the raw response (for headers and bodies that are not JSON). */
export async function request(path: string, init: { method?: 'GET' | 'POST'; body?: unknown } = {}): Promise<Response> {
  const post = init.method === 'POST';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (post) {
    headers['content-type'] = 'application/json';
    if (csrf) headers['x-csrf-token'] = csrf;
  }
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers,
    credentials: 'same-origin',
    body: post ? JSON.stringify(init.body ?? {}) : undefined,
  });
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && path !== '/api/login') onUnauthenticated();
    throw err;
  }
  return res;
}

export async function api<T>(path: string, init: { method?: 'GET' | 'POST'; body?: unknown } = {}): Promise<T> {
  return (await (await request(path, init)).json()) as T;
}

/** A query string from the fields that are set. */
export function query(fields: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
