import { BrrError } from '../core/errors.js';
import type { Credentials } from './credentials.js';
import { discard, readBody, type HttpResponse, type Transport } from './http.js';
import { isLoopback } from './reference.js';

/**
 * The two auth schemes registries ask for in `WWW-Authenticate`: Basic (send the credentials on
 * every request) and Bearer (trade them at the token endpoint, the realm, for a short-lived
 * token scoped to repositories and actions — the Docker token flow every large registry uses).
 */

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="…",service="…",scope="repository:a:pull,push"` (quoted values may hold commas). */
export function parseChallenge(header: string): Challenge | null {
  const m = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!m) return null;
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*(?:,|$)/gy;
  const rest = m[2]!;
  let p: RegExpExecArray | null;
  re.lastIndex = 0;
  while (re.lastIndex < rest.length && (p = re.exec(rest)) !== null) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
    while (rest[re.lastIndex] === ' ') re.lastIndex++;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

/** Merges the challenge's scope with the actions this client needs on its repository. */
export function tokenScopes(challengeScope: string | undefined, repository: string, actions: string[]): string[] {
  const scopes = new Set<string>((challengeScope ?? '').split(' ').filter(Boolean));
  scopes.add(`repository:${repository}:${actions.join(',')}`);
  return [...scopes];
}

export interface TokenRequest {
  realm: string;
  service: string | undefined;
  scopes: string[];
  credentials: Credentials | null;
  registry: string;
  insecure: boolean;
  transport: Transport;
}

/** Token answers above this are refused (a JWT is a few KiB). */
const TOKEN_CAP = 1024 * 1024;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * GET on the realm, following redirects (as fetch's `redirect: 'follow'` did); the
 * Authorization header goes to the realm's origin only.
 */
async function getToken(req: TokenRequest, start: URL, headers: Record<string, string>): Promise<HttpResponse> {
  let url = start;
  for (let hop = 0; ; hop++) {
    const sameOrigin = url.origin === start.origin;
    const sent = sameOrigin
      ? headers
      : Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'authorization'));
    const res = await req.transport({ method: 'GET', url, headers: sent });
    const location = res.headers.get('location');
    if (!REDIRECTS.has(res.status) || !location || hop >= 5) return res;
    await discard(res);
    url = new URL(location, url);
  }
}

export function unauthorized(registry: string, why: string, file: string | null): BrrError {
  const where = file ? ` (credentials from ${file})` : ' (no credentials found)';
  return new BrrError('registry_unauthorized', `${registry} refused the request: ${why}${where}`, {
    exitCode: 1,
    hint: `log in with \`podman login ${registry}\` or \`docker login ${registry}\`; brr reads REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json and ~/.docker/config.json`,
  });
}

/** Fetches a Bearer token from the realm; credentials (if any) go by Basic auth to the realm only. */
export async function fetchToken(req: TokenRequest, file: string | null): Promise<string> {
  let url: URL;
  try {
    url = new URL(req.realm);
  } catch {
    throw new BrrError('registry_auth_failed', `${req.registry} named an invalid token realm`, {
      hint: 'the registry is misconfigured; tell its operator',
    });
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (isLoopback(url.host) || req.insecure))) {
    throw new BrrError(
      'registry_insecure',
      `${req.registry} asks for credentials at a plain-HTTP token realm on ${url.host}; refusing to send them`,
      {
        exitCode: 2,
        hint: 'use a registry whose token service is on HTTPS, or pass --insecure if you trust the network',
      },
    );
  }
  if (req.service) url.searchParams.set('service', req.service);
  for (const s of req.scopes) url.searchParams.append('scope', s);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (req.credentials) headers.authorization = basicHeader(req.credentials);
  let res: HttpResponse;
  try {
    res = await getToken(req, url, headers);
  } catch (e) {
    throw new BrrError(
      'registry_unreachable',
      `cannot reach the token service of ${req.registry} at ${url.host}: ${(e as Error).cause ? String((e as { cause: Error }).cause.message) : (e as Error).message}`,
      {
        hint: 'check the network and the registry address',
      },
    );
  }
  if (res.status === 401 || res.status === 403) {
    await discard(res);
    throw unauthorized(
      req.registry,
      `the token service rejected the ${req.credentials ? 'credentials' : 'anonymous request'} (HTTP ${res.status})`,
      file,
    );
  }
  if (res.status < 200 || res.status >= 300) {
    await discard(res);
    throw new BrrError('registry_auth_failed', `the token service of ${req.registry} answered HTTP ${res.status}`, {
      hint: 'retry later; if it persists, tell the registry operator',
    });
  }
  const body = await readBody(res, TOKEN_CAP, () => new Error('token answer too large'))
    .then((b) => JSON.parse(b.toString('utf8')) as { token?: unknown; access_token?: unknown } | null)
    .catch(() => null);
  const token =
    typeof body?.token === 'string' ? body.token : typeof body?.access_token === 'string' ? body.access_token : null;
  if (!token)
    throw new BrrError('registry_auth_failed', `the token service of ${req.registry} returned no token`, {
      hint: 'the registry is misconfigured; tell its operator',
    });
  return token;
}
