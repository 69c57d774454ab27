/**
 * The console's HTTP(S) server on plain node:http/node:https (no framework: one route table,
 * a few dozen lines of matching, nothing to keep patched). Per request: match the route table,
 * authenticate (Bearer or session cookie), check the role and, for a cookie-authenticated
 * write, the CSRF header; read a capped JSON body; call the handler; answer JSON or an error
 * `{ error: { code, message, hint } }`. One log line per request on the server's log: method,
 * path (never the query), status, duration and token name; never a token, cookie or value.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { BrrError } from '../core/errors.js';
import type { Context } from '../app/context.js';
import { TokenVerifier } from '../app/tokens.js';
import { ActivityWatcher } from '../app/activity.js';
import { Authenticator, type Caller } from './auth.js';
import { errorAnswer } from './http-errors.js';
import { ROUTES, type Answer, type Handler, type RouteDeps } from './routes.js';
import { newServeStats, type ServeStats } from './metrics.js';
import { DASHBOARD_DIR } from './static.js';
import { VerifyKeeper } from './verify-keeper.js';

export const MAX_BODY_BYTES = 64 * 1024;
export const BODY_TIMEOUT_MS = 30_000;

export interface ConsoleServerOptions {
  ctx: Context;
  tls?: { cert: Buffer; key: Buffer };
  metricsPublic?: boolean;
  log?: (line: string) => void;
  dashboardDir?: string;
  /** How often the server verifies the ledger on its own (default 5 min). */
  verifyEveryMs?: number;
  /** How often the activity watcher polls (default 500 ms). */
  activityPollMs?: number;
}

export interface ConsoleServer {
  server: http.Server | https.Server;
  stats: ServeStats;
  /** Listens; resolves with the URL (the real port when asked for port 0). */
  listen(host: string, port: number): Promise<string>;
  close(): Promise<void>;
}

/** A compiled route: its segments matched one by one; `{name+}` takes the rest of the path. */
interface Compiled {
  method: string;
  parts: string[];
  role: (typeof ROUTES)[number]['role'];
  handler: Handler;
}

function compile(): Compiled[] {
  return ROUTES.map((r) => ({ method: r.method, parts: r.path.split('/').slice(1), role: r.role, handler: r.handler }));
}

function match(c: Compiled, segs: string[]): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (let i = 0; i < c.parts.length; i++) {
    const p = c.parts[i]!;
    if (p.startsWith('{') && p.endsWith('+}')) {
      if (i >= segs.length) return null;
      params[p.slice(1, -2)] = segs.slice(i).join('/');
      return params;
    }
    if (i >= segs.length) return null;
    if (p.startsWith('{')) {
      if (segs[i] === '') return null;
      params[p.slice(1, -1)] = segs[i]!;
    } else if (p !== segs[i]) return null;
  }
  return segs.length === c.parts.length ? params : null;
}

/** The body as JSON (an object), at most MAX_BODY_BYTES; an empty body is `{}`. */
export function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    // A body that trickles in is cut off: the server has no overall request timeout (streams).
    const slow = setTimeout(() => {
      failed = true;
      reject(
        new BrrError('request_body_invalid', `the request body did not arrive within ${BODY_TIMEOUT_MS / 1000} s`, {
          exitCode: 2,
        }),
      );
      req.destroy();
    }, BODY_TIMEOUT_MS);
    req.on('close', () => clearTimeout(slow));
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        failed = true;
        reject(
          new BrrError('request_body_too_large', `the request body is larger than ${MAX_BODY_BYTES} bytes`, {
            exitCode: 2,
            hint: 'send a smaller JSON document',
          }),
        );
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('error', (e) => {
      if (!failed) reject(e);
    });
    req.on('end', () => {
      clearTimeout(slow);
      if (failed) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve({});
      try {
        const v = JSON.parse(text) as unknown;
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
        resolve(v as Record<string, unknown>);
      } catch {
        reject(
          new BrrError('request_body_invalid', 'the request body is not a JSON object', {
            exitCode: 2,
            hint: 'send Content-Type: application/json with a JSON object, e.g. {"to": "v3"}',
          }),
        );
      }
    });
  });
}

const API_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
};

function send(res: ServerResponse, a: Answer): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const headers: Record<string, string | string[]> = { ...API_HEADERS, ...a.headers };
  if (a.json !== undefined) {
    const body = JSON.stringify(a.json);
    res.writeHead(a.status ?? 200, { ...headers, 'Content-Type': 'application/json; charset=utf-8' });
    res.end(body);
  } else if (a.body !== undefined) {
    res.writeHead(a.status ?? 200, { ...headers, 'Content-Type': a.type ?? 'application/octet-stream' });
    res.end(a.body);
  } else {
    res.writeHead(a.status ?? 204, headers);
    res.end();
  }
}

export function createConsoleServer(opts: ConsoleServerOptions): ConsoleServer {
  const { ctx } = opts;
  const log = opts.log ?? (() => {});
  const stats = newServeStats();
  const tokens = new TokenVerifier(ctx.paths.root);
  const auth = new Authenticator(tokens);
  const activity = new ActivityWatcher(ctx, {
    intervalMs: opts.activityPollMs,
    onError: (e) => log(`activity watcher: ${e instanceof Error ? e.message : String(e)}`),
  });
  const verifier = new VerifyKeeper(ctx, stats, opts.verifyEveryMs ?? 5 * 60_000, log);
  const stopping = new AbortController();
  const routes = compile();
  const deps: RouteDeps = {
    ctx,
    stats,
    auth,
    activity,
    verifier,
    secure: opts.tls !== undefined,
    dashboardDir: opts.dashboardDir ?? DASHBOARD_DIR,
    stopping: stopping.signal,
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, who: { caller: Caller | null }) => {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const segs = url.pathname.split('/').slice(1);
    let params: Record<string, string> | null = null;
    let route: Compiled | undefined;
    let pathKnown = false;
    for (const c of routes) {
      const p = match(c, segs);
      if (!p) continue;
      pathKnown = true;
      if (c.method === req.method) {
        route = c;
        params = p;
        break;
      }
    }
    if (!route || !params) {
      if (pathKnown) throw new BrrError('method_not_allowed', `${req.method} is not allowed on ${url.pathname}`);
      if (!url.pathname.startsWith('/api/')) return send(res, { status: 404, body: 'not found\n', type: 'text/plain' });
      throw new BrrError('route_not_found', `no API route ${url.pathname}`, { hint: 'see docs/openapi.yaml' });
    }
    for (const [k, v] of Object.entries(params)) {
      try {
        params[k] = decodeURIComponent(v);
      } catch {
        throw new BrrError('request_body_invalid', `the path segment ${JSON.stringify(v)} is not valid`, {
          exitCode: 2,
        });
      }
    }
    const addr = req.socket.remoteAddress ?? 'unknown';
    const needsAuth = route.role !== 'none' && !(route.role === 'metrics' && opts.metricsPublic);
    if (needsAuth) {
      who.caller = auth.authenticate(req, addr);
      auth.authorize(who.caller, route.role === 'metrics' ? 'viewer' : route.role === 'none' ? 'viewer' : route.role);
      if (req.method !== 'GET' && req.method !== 'HEAD') auth.checkCsrf(who.caller, req);
    }
    const answer = await route.handler({
      req,
      res,
      params,
      query: url.searchParams,
      caller: who.caller,
      addr,
      deps,
      body: () => readJsonBody(req),
      onCaller: (c) => (who.caller = c),
    });
    if (answer) send(res, answer);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const who: { caller: Caller | null } = { caller: null };
    const path = (req.url ?? '/').split('?')[0]!;
    let logged = false;
    const line = () => {
      if (logged) return;
      logged = true;
      const ms = Math.round(performance.now() - started);
      log(`${req.method} ${path} ${res.statusCode} ${ms}ms ${who.caller?.name ?? '-'}`);
    };
    res.on('finish', line);
    res.on('close', line);
    handle(req, res, who).catch((e: unknown) => {
      const a = errorAnswer(e);
      if (a.status === 500)
        log(`internal error on ${req.method} ${path}: ${e instanceof Error ? e.message : String(e)}`);
      const retry = (e as BrrError).details?.retryAfterS;
      send(res, {
        status: a.status,
        json: a.body,
        headers: typeof retry === 'number' ? { 'Retry-After': String(retry) } : undefined,
      });
    });
  };

  const server = opts.tls
    ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, onRequest)
    : http.createServer(onRequest);
  server.headersTimeout = 20_000;
  server.requestTimeout = 0; // SSE streams and switches take their time; headers still have to arrive promptly

  return {
    server,
    stats,
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          verifier.start();
          const a = server.address() as { address: string; port: number };
          const h = a.address.includes(':') ? `[${a.address}]` : a.address;
          resolve(`${opts.tls ? 'https' : 'http'}://${h}:${a.port}`);
        });
      });
    },
    async close() {
      stopping.abort();
      verifier.stop();
      activity.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
    },
  };
}
