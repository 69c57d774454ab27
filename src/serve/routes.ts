/**
 * The console's route table, as data: method, path (`{name}` one segment, `{name+}` the rest),
 * the least role allowed, and a handler that parses the request and calls one verb. Reads call
 * the same app/ functions as the CLI's read commands; writes call the CLI's verbs with a
 * per-request Context whose actor is the token's name, and take the deploy lease as those verbs
 * do (its waits are measured into ServeStats). docs/openapi.yaml documents exactly this table
 * (test/serve/openapi.test.ts compares them).
 */
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BrrError } from '../core/errors.js';
import type { Context } from '../app/context.js';
import type { Activity, ActivityWatcher } from '../app/activity.js';
import {
  appProcesses,
  appSummaries,
  appSummary,
  assertAppKnown,
  configView,
  pageAppReleases,
} from '../app/console-views.js';
import { diffAppReleases, publicRelease, showRelease } from '../app/releases.js';
import { readAppLogs, followAppLogs } from '../app/logs.js';
import { createToken, listTokens, revokeToken, type Role } from '../app/tokens.js';
import { listTrustedKeys, trustKey, untrustKey } from '../app/trust.js';
import type { VerbOptions } from '../app/lease.js';
import { SESSION_COOKIE, SESSION_TTL_MS, type Authenticator, type Caller } from './auth.js';
import { recordLeaseWait, renderMetrics, type ServeStats } from './metrics.js';
import { openSse } from './sse.js';
import { STATIC_HEADERS, staticFile } from './static.js';
import type { VerifyKeeper } from './verify-keeper.js';

/** What a handler answers (nothing when it wrote the response itself, e.g. a stream). */
export interface Answer {
  status?: number;
  json?: unknown;
  body?: string | Buffer;
  type?: string;
  headers?: Record<string, string | string[]>;
}

export interface RouteDeps {
  ctx: Context;
  stats: ServeStats;
  auth: Authenticator;
  activity: ActivityWatcher;
  verifier: VerifyKeeper;
  secure: boolean;
  dashboardDir: string;
  /** Aborted when the server stops (ends streams). */
  stopping: AbortSignal;
}

export interface Request {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  caller: Caller | null;
  addr: string;
  deps: RouteDeps;
  body(): Promise<Record<string, unknown>>;
  /** Tells the request log who the caller turned out to be (login). */
  onCaller(c: Caller): void;
}

export type Handler = (r: Request) => Promise<Answer | void>;

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  /** The least role; 'none': no authentication; 'metrics': viewer unless --metrics-public. */
  role: Role | 'none' | 'metrics';
  handler: Handler;
}

const bad = (message: string, hint?: string) => new BrrError('request_body_invalid', message, { exitCode: 2, hint });

function str(body: Record<string, unknown>, key: string, required: true): string;
function str(body: Record<string, unknown>, key: string, required?: false): string | undefined;
function str(body: Record<string, unknown>, key: string, required = false): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) {
    if (required) throw bad(`the request body lacks "${key}"`);
    return undefined;
  }
  if (typeof v !== 'string') throw bad(`"${key}" must be a string`);
  return v;
}

function strMap(body: Record<string, unknown>, key: string): Record<string, string> | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(`"${key}" must be an object of KEY: "value"`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (typeof val !== 'string') throw bad(`"${key}.${k}" must be a string`);
    // KEY=VALUE is split at the first '=': a key holding one would change meaning.
    if (k.includes('=') || k === '')
      throw new BrrError('config_key_invalid', `${JSON.stringify(k)} is not a config key`, { exitCode: 2 });
    out[k] = val;
  }
  return out;
}

function intParam(q: URLSearchParams, key: string, def: number, max: number): number {
  const raw = q.get(key);
  if (raw === null || raw === '') return def;
  if (!/^[0-9]{1,9}$/.test(raw) || Number(raw) < 1 || Number(raw) > max)
    throw new BrrError('limit_invalid', `${key} must be a whole number from 1 to ${max}`, { exitCode: 2 });
  return Number(raw);
}

/** The Context of one write: the shared one, acting as the token's name. */
function actingAs(r: Request): Context {
  return { ...r.deps.ctx, actor: r.caller!.name };
}

/** The verb options of a write: lease waits measured into the stats; no progress output. */
function verbOpts(r: Request): VerbOptions {
  let waited = false;
  return {
    lease: {
      onWait: () => (waited = true),
      onAcquired: (_lease, ms) => {
        if (waited) recordLeaseWait(r.deps.stats, ms);
      },
    },
  };
}

const sessionCookie = (value: string, maxAgeS: number, secure: boolean) =>
  `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;

async function serveStatic(r: Request, file: string): Promise<Answer> {
  const f = await staticFile(r.deps.dashboardDir, file);
  if (!f) return { status: 404, body: 'not found\n', type: 'text/plain; charset=utf-8', headers: STATIC_HEADERS };
  return { status: 200, body: f.body, type: f.type, headers: { ...STATIC_HEADERS, 'Cache-Control': 'no-cache' } };
}

export const ROUTES: readonly Route[] = [
  {
    method: 'POST',
    path: '/api/session',
    role: 'none',
    handler: async (r) => {
      const token = str(await r.body(), 'token', true);
      const s = r.deps.auth.login(r.addr, token);
      r.onCaller({ name: s.name, role: s.role, via: 'session', session: s });
      return {
        json: { name: s.name, role: s.role, csrf: s.csrf },
        headers: { 'Set-Cookie': sessionCookie(s.id, Math.floor(SESSION_TTL_MS / 1000), r.deps.secure) },
      };
    },
  },
  {
    method: 'GET',
    path: '/api/session',
    role: 'viewer',
    handler: async (r) => ({
      json: { name: r.caller!.name, role: r.caller!.role, csrf: r.caller!.session?.csrf ?? null },
    }),
  },
  {
    method: 'DELETE',
    path: '/api/session',
    role: 'viewer',
    handler: async (r) => {
      if (r.caller!.session) r.deps.auth.logout(r.caller!.session);
      return { status: 204, headers: { 'Set-Cookie': sessionCookie('', 0, r.deps.secure) } };
    },
  },
  {
    method: 'GET',
    path: '/api/apps',
    role: 'viewer',
    handler: async (r) => ({ json: { apps: await appSummaries(r.deps.ctx) } }),
  },
  {
    method: 'GET',
    path: '/api/apps/{app}',
    role: 'viewer',
    handler: async (r) => ({ json: await appSummary(r.deps.ctx, r.params.app!) }),
  },
  {
    method: 'GET',
    path: '/api/apps/{app}/releases',
    role: 'viewer',
    handler: async (r) => ({
      json: await pageAppReleases(r.deps.ctx, r.params.app!, {
        limit: intParam(r.query, 'limit', 50, 500),
        before: r.query.get('before') ?? undefined,
      }),
    }),
  },
  {
    method: 'GET',
    path: '/api/apps/{app}/releases/{id}',
    role: 'viewer',
    handler: async (r) => {
      const { release, build } = await showRelease(r.deps.ctx, r.params.app!, r.params.id!);
      return { json: { release, build } };
    },
  },
  {
    method: 'GET',
    path: '/api/apps/{app}/diff',
    role: 'viewer',
    handler: async (r) => {
      const from = r.query.get('from');
      const to = r.query.get('to');
      if (!from || !to)
        throw new BrrError('release_id_invalid', 'a diff needs from=vA and to=vB', {
          exitCode: 2,
          hint: 'e.g. ?from=v1&to=v2',
        });
      return { json: await diffAppReleases(r.deps.ctx, r.params.app!, from, to) };
    },
  },
  {
    method: 'GET',
    path: '/api/apps/{app}/processes',
    role: 'viewer',
    handler: async (r) => ({ json: await appProcesses(r.deps.ctx, r.params.app!) }),
  },
  {
    method: 'GET',
    path: '/api/apps/{app}/logs',
    role: 'viewer',
    handler: async (r) => {
      const app = r.params.app!;
      await assertAppKnown(r.deps.ctx, app);
      const lines = intParam(r.query, 'n', 100, 10_000);
      const processType = r.query.get('type') || undefined;
      const follow = r.query.get('follow') === '1' || (r.req.headers.accept ?? '').includes('text/event-stream');
      if (!follow) return { json: { lines: await readAppLogs(r.deps.ctx.paths, app, { lines, processType }) } };
      // Checked before the stream opens, so a typo is an error answer, not an empty stream.
      if (processType !== undefined) await readAppLogs(r.deps.ctx.paths, app, { lines: 1, processType });
      const sse = openSse(r.req, r.res, r.deps.stopping);
      await followAppLogs(r.deps.ctx.paths, app, {
        lines,
        processType,
        signal: sse.signal,
        onLine: (source, line) => sse.send('log', { source, line }),
      }).catch(() => {});
      sse.end();
    },
  },
  {
    method: 'GET',
    path: '/api/apps/{app}/config',
    role: 'viewer',
    handler: async (r) => ({ json: await configView(r.deps.ctx, r.params.app!) }),
  },
  {
    method: 'POST',
    path: '/api/apps/{app}/config',
    role: 'deployer',
    handler: async (r) => {
      const body = await r.body();
      const set = strMap(body, 'set');
      const secret = strMap(body, 'secret');
      const unsetRaw = body.unset;
      if (unsetRaw !== undefined && (!Array.isArray(unsetRaw) || unsetRaw.some((k) => typeof k !== 'string')))
        throw bad('"unset" must be a list of keys');
      const unset = (unsetRaw as string[] | undefined) ?? [];
      if (body.run !== undefined && typeof body.run !== 'boolean') throw bad('"run" must be true or false');
      if (set && secret)
        throw bad(
          'send "set" and "secret" in separate requests',
          'each request makes one release; secret values are sealed as a whole',
        );
      const assignments = Object.entries(secret ?? set ?? {}).map(([k, v]) => `${k}=${v}`);
      if (assignments.length === 0 && unset.length === 0)
        throw bad('nothing to change: give "set", "secret" or "unset"');
      await assertAppKnown(r.deps.ctx, r.params.app!);
      const ctx = actingAs(r);
      const { changeConfigAndRun } = await import('../app/change-config.js');
      const result = await changeConfigAndRun(
        ctx,
        r.params.app!,
        { set: assignments, unset, secret: secret !== undefined },
        { ...verbOpts(r), run: body.run === false ? false : undefined },
      );
      const release = result.release ? publicRelease(result.release, result.run ? result.release.id : null) : null;
      return { json: { release, staged: result.staged, run: result.run } };
    },
  },
  {
    method: 'POST',
    path: '/api/apps/{app}/rollback',
    role: 'deployer',
    handler: async (r) => {
      const to = str(await r.body(), 'to');
      await assertAppKnown(r.deps.ctx, r.params.app!);
      const { rollbackApp } = await import('../app/rollback.js');
      const { release, run } = await rollbackApp(actingAs(r), r.params.app!, to, verbOpts(r));
      return { json: { release: publicRelease(release, run.release), run } };
    },
  },
  {
    method: 'POST',
    path: '/api/apps/{app}/run',
    role: 'deployer',
    handler: async (r) => {
      const id = str(await r.body(), 'release', true);
      await assertAppKnown(r.deps.ctx, r.params.app!);
      const { runApp } = await import('../app/run-release.js');
      return { json: { run: await runApp(actingAs(r), r.params.app!, id, verbOpts(r)) } };
    },
  },
  {
    method: 'GET',
    path: '/api/verify',
    role: 'viewer',
    handler: async (r) => ({ json: await r.deps.verifier.latest() }),
  },
  {
    method: 'POST',
    path: '/api/verify',
    role: 'deployer',
    handler: async (r) => ({ json: await r.deps.verifier.verifyNow() }),
  },
  {
    method: 'GET',
    path: '/api/events',
    role: 'viewer',
    handler: async (r) => {
      const only = r.query.get('app') || undefined;
      const last = Number(r.req.headers['last-event-id']);
      // The stream opens once the watcher has its baseline, so everything after the client saw
      // the response headers is delivered; what arrives before the stream is open is held.
      let sse: ReturnType<typeof openSse> | null = null;
      const held: Activity[] = [];
      const unsubscribe = r.deps.activity.subscribe(
        (a) => {
          if (only && a.app !== only) return;
          if (sse) sse.send('activity', a, a.seq);
          else held.push(a);
        },
        Number.isSafeInteger(last) && last >= 0 ? last : undefined,
      );
      try {
        await r.deps.activity.ready();
        sse = openSse(r.req, r.res, r.deps.stopping);
        for (const a of held) sse.send('activity', a, a.seq);
        await sse.done;
      } finally {
        unsubscribe();
      }
    },
  },
  {
    method: 'GET',
    path: '/api/tokens',
    role: 'admin',
    handler: async (r) => ({ json: { tokens: listTokens(r.deps.ctx) } }),
  },
  {
    method: 'POST',
    path: '/api/tokens',
    role: 'admin',
    handler: async (r) => {
      const body = await r.body();
      const t = createToken(actingAs(r), str(body, 'name', true), str(body, 'role', true));
      return { status: 201, json: t };
    },
  },
  {
    method: 'DELETE',
    path: '/api/tokens/{name}',
    role: 'admin',
    handler: async (r) => {
      revokeToken(r.deps.ctx, r.params.name!);
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    path: '/api/apps/{app}/trust',
    role: 'viewer',
    handler: async (r) => {
      await assertAppKnown(r.deps.ctx, r.params.app!);
      return { json: { trusted: await listTrustedKeys(r.deps.ctx, r.params.app!) } };
    },
  },
  {
    method: 'POST',
    path: '/api/apps/{app}/trust',
    role: 'admin',
    handler: async (r) => {
      const key = str(await r.body(), 'key', true);
      // The CLI's trust add also reads a key file; over HTTP only key text is taken, never a path on the server.
      if (existsSync(key)) throw bad('"key" must be the public key itself, not a file name');
      await assertAppKnown(r.deps.ctx, r.params.app!);
      const { changed, policy } = await trustKey(actingAs(r), r.params.app!, key);
      return { json: { changed, trusted: policy } };
    },
  },
  {
    method: 'DELETE',
    path: '/api/apps/{app}/trust/{keyId}',
    role: 'admin',
    handler: async (r) => {
      await assertAppKnown(r.deps.ctx, r.params.app!);
      const { changed, policy } = await untrustKey(actingAs(r), r.params.app!, r.params.keyId!);
      return { json: { changed, trusted: policy } };
    },
  },
  {
    method: 'GET',
    path: '/metrics',
    role: 'metrics',
    handler: async (r) => ({
      body: await renderMetrics(r.deps.ctx, r.deps.stats),
      type: 'text/plain; version=0.0.4; charset=utf-8',
    }),
  },
  { method: 'GET', path: '/', role: 'none', handler: (r) => serveStatic(r, '/') },
  { method: 'GET', path: '/assets/{file+}', role: 'none', handler: (r) => serveStatic(r, `/assets/${r.params.file}`) },
];
