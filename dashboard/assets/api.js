// The JSON API client. The session lives in an HttpOnly cookie the page cannot read; the CSRF
// value comes back in the session answer and is kept in memory only (never in storage), then
// sent as X-CSRF-Token on every write. The pasted token is sent once, to POST /api/session.

let session = null;
const unauthorizedListeners = new Set();

/** An error answer of the API: `{ error: { code, message, hint } }`, with the HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message, hint) {
    super(message);
    this.status = status;
    this.code = code;
    this.hint = hint ?? '';
  }
}

/** Calls `fn` when any request comes back 401 (the session ended or the token was revoked). */
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
}

/** The signed-in session `{ name, role, csrf }`, or null. */
export function currentSession() {
  return session;
}

const ROLES = ['viewer', 'deployer', 'admin'];
/** Whether the session's role is at least `role` (viewer < deployer < admin). */
export function can(role) {
  return session !== null && ROLES.indexOf(session.role) >= ROLES.indexOf(role);
}

/** One request; resolves to the parsed JSON (or null for 204), rejects with ApiError. */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && session?.csrf) headers['X-CSRF-Token'] = session.csrf;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'network', 'the console server did not answer', 'check that `brr serve` is running');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const e = data?.error ?? {};
    const err = new ApiError(res.status, e.code ?? `http_${res.status}`, e.message ?? `HTTP ${res.status}`, e.hint);
    if (res.status === 401 && path !== '/api/session') {
      session = null;
      for (const fn of unauthorizedListeners) fn(err);
    }
    throw err;
  }
  return data;
}

/** Exchanges a pasted token for the session cookie; the token itself is not kept. */
export async function signIn(token) {
  session = await api('POST', '/api/session', { token });
  return session;
}

/** Picks up an existing session cookie (after a reload); null when there is none. */
export async function restoreSession() {
  try {
    session = await api('GET', '/api/session');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) session = null;
    else throw e;
  }
  return session;
}

export async function signOut() {
  try {
    await api('DELETE', '/api/session');
  } finally {
    session = null;
  }
}

/** Path segment for an app name or release id. */
export function seg(s) {
  return encodeURIComponent(s);
}
