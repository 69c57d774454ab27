/**
 * The operator console's API over real HTTP: the real `brr serve` (dist/) on a real home with a
 * real SQLite ledger, the real supervisor running the sample network function, tokens made by
 * the real CLI. Every route, every role, sessions with CSRF, revocation, rate limiting, live
 * streams during a rollback made through the API, and no secret in any answer or log line.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/serve/routes.js';
import { BRR, Sandbox } from '../e2e/harness.js';
import { bodies, openStream, replies, request, startServe, streamed, type Served } from './console-harness.js';
import { checkReply, loadOpenApi, templateOf, validate } from './openapi-check.js';

const APP = 'udp-counter';
const SECRET = 's3cr3t-VALUE-xyz';

describe('brr serve: the console API over real HTTP', () => {
  let sb: Sandbox;
  let srv: Served;
  const tok: Record<string, string> = {};
  let signingKey: { keyId: string; publicKey: string; file: string };
  const api = (p: string) => `${srv.url}${p}`;

  beforeAll(async () => {
    sb = await Sandbox.create();
    await sb.ok(['build']);
    await sb.ok(['release']); // v1
    await sb.ok(['run']);
    await sb.ok(['config', 'set', 'LEVEL=debug']); // v2, runs
    for (const [name, role] of [
      ['viewer-1', 'viewer'],
      ['deployer-1', 'deployer'],
      ['admin-1', 'admin'],
      ['victim', 'viewer'],
    ] as const) {
      tok[name] = (await sb.json<{ token: string }>(['tokens', 'create', name, '--role', role])).token;
    }
    // The server signs what it records with this key: removing a trusted key needs a signature.
    signingKey = await sb.json<{ keyId: string; publicKey: string; file: string }>(['keys', 'generate']);
    srv = await startServe(sb.home, [], { BRR_SIGNING_KEY: signingKey.file });
  }, 180_000);

  afterAll(async () => {
    await srv?.stop();
    await sb?.cleanup();
  });

  const concrete = (p: string) =>
    p
      .replace('{app}', APP)
      .replace('{id}', 'v1')
      .replace('{name}', 'nobody')
      .replace('{keyId}', 'ed25519:0000000000000000')
      .replace('{file+}', 'x.js');

  it('answers 401 unauthorized on every authenticated route without a token, and for a bad one', async () => {
    const guarded = ROUTES.filter((r) => r.role !== 'none');
    expect(guarded.length).toBeGreaterThan(15);
    for (const r of guarded) {
      const res = await request(api(concrete(r.path)), { method: r.method, body: r.method === 'GET' ? undefined : {} });
      expect([r.method, r.path, res.status, res.json?.error?.code]).toEqual([r.method, r.path, 401, 'unauthorized']);
    }
    const bad = await request(api('/api/apps'), { token: 'brr_' + 'A'.repeat(43) });
    expect(bad.status).toBe(401);
    expect(bad.json.error).toMatchObject({ code: 'unauthorized', hint: expect.stringContaining('brr tokens create') });
  });

  it('lets a viewer read every GET route', async () => {
    const v = tok['viewer-1']!;
    const apps = await request(api('/api/apps'), { token: v });
    expect(apps.status).toBe(200);
    expect(apps.json.apps).toEqual([
      {
        app: APP,
        target: 'local',
        current: 'v2',
        running: 'v2',
        inSync: true,
        problem: null,
        latest: {
          id: 'v2',
          cause: expect.stringContaining('LEVEL'),
          actor: 'tester@e2e',
          createdAt: expect.any(String),
        },
      },
    ]);
    expect((await request(api(`/api/apps/${APP}`), { token: v })).json).toEqual(apps.json.apps[0]);
    const rel = await request(api(`/api/apps/${APP}/releases`), { token: v });
    expect(rel.json.releases.map((r: { id: string }) => r.id)).toEqual(['v2', 'v1']);
    expect(rel.json).toMatchObject({ current: 'v2', next: null });
    const one = await request(api(`/api/apps/${APP}/releases/v1`), { token: v });
    expect(one.json.release).toMatchObject({ id: 'v1', current: false });
    expect(one.json.build.present).toBe(true);
    const diff = await request(api(`/api/apps/${APP}/diff?from=v1&to=v2`), { token: v });
    expect(diff.status).toBe(200);
    expect(diff.json.lines.join('\n')).toContain('LEVEL');
    const ps = await request(api(`/api/apps/${APP}/processes`), { token: v });
    expect(ps.json.supervisor).toBe('running');
    expect(ps.json.processes[0]).toMatchObject({ app: APP, release: 'v2', type: 'nf', index: 1 });
    const logs = await request(api(`/api/apps/${APP}/logs?n=5`), { token: v });
    expect(
      logs.json.lines.some((l: { source: string; line: string }) => l.source === 'nf.1' && l.line.includes('serving')),
    ).toBe(true);
    const cfg = await request(api(`/api/apps/${APP}/config`), { token: v });
    expect(cfg.json).toEqual({ config: { LEVEL: 'debug' }, secretKeys: [] });
    const ver = await request(api('/api/verify'), { token: v });
    expect(ver.json).toMatchObject({ ok: true, problems: [], checkedAt: expect.any(String) });
    expect((await request(api(`/api/apps/${APP}/trust`), { token: v })).json).toEqual({ trusted: [] });
    const metrics = await request(api('/metrics'), { token: v });
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.text).toContain('brr_ledger_verify_ok 1');
    expect((await request(api('/api/session'), { token: v })).json).toEqual({
      name: 'viewer-1',
      role: 'viewer',
      csrf: null,
    });
    const ev = await openStream(api('/api/events'), v);
    expect(ev.status).toBe(200);
    ev.close();
  });

  it('refuses writes below the role: viewer → 403 on deployer routes, deployer → 403 on admin routes', async () => {
    const v = tok['viewer-1']!;
    const d = tok['deployer-1']!;
    for (const [method, p, t] of [
      ['POST', `/api/apps/${APP}/rollback`, v],
      ['POST', `/api/apps/${APP}/run`, v],
      ['POST', `/api/apps/${APP}/config`, v],
      ['POST', '/api/verify', v],
      ['GET', '/api/tokens', d],
      ['POST', '/api/tokens', d],
      ['DELETE', '/api/tokens/victim', d],
      ['POST', `/api/apps/${APP}/trust`, d],
      ['DELETE', `/api/apps/${APP}/trust/ed25519:0000000000000000`, d],
    ] as const) {
      const r = await request(api(p), { method, token: t, body: method === 'POST' ? { release: 'v1' } : undefined });
      expect([method, p, r.status, r.json?.error?.code]).toEqual([method, p, 403, 'forbidden']);
    }
    expect(
      (await request(api('/api/tokens'), { token: tok['admin-1']! })).json.tokens.map((t: { name: string }) => t.name),
    ).toEqual(['viewer-1', 'deployer-1', 'admin-1', 'victim']);
  });

  it('takes a secret write-only: stored and run, never answered', async () => {
    const r = await request(api(`/api/apps/${APP}/config`), {
      method: 'POST',
      token: tok['deployer-1']!,
      body: { secret: { API_KEY: SECRET } },
    });
    expect(r.status).toBe(200);
    expect(r.json.release).toMatchObject({ id: 'v3', secretKeys: ['API_KEY'], actor: 'deployer-1', current: true });
    expect(r.json.run).toMatchObject({ release: 'v3' });
    const cfg = await request(api(`/api/apps/${APP}/config`), { token: tok['viewer-1']! });
    expect(cfg.json).toEqual({ config: { LEVEL: 'debug' }, secretKeys: ['API_KEY'] });
    const both = await request(api(`/api/apps/${APP}/config`), {
      method: 'POST',
      token: tok['deployer-1']!,
      body: { set: { A: '1' }, secret: { B: '2' } },
    });
    expect(both.status).toBe(400);
    expect(both.json.error.code).toBe('request_body_invalid');
    const badKey = await request(api(`/api/apps/${APP}/config`), {
      method: 'POST',
      token: tok['deployer-1']!,
      body: { set: { 'A=B': 'c' } },
    });
    expect([badKey.status, badKey.json.error.code]).toEqual([400, 'config_key_invalid']);
  });

  it('streams release, switch-started and activated of a rollback made through the API as it happens, and a new log line', async () => {
    const events = await openStream(api(`/api/events?app=${APP}`), tok['viewer-1']!);
    const logs = await openStream(api(`/api/apps/${APP}/logs?n=1&follow=1`), tok['viewer-1']!);
    expect(logs.status).toBe(200);
    expect(events.events).toEqual([]);
    const rb = await request(api(`/api/apps/${APP}/rollback`), {
      method: 'POST',
      token: tok['deployer-1']!,
      body: { to: 'v2' },
    });
    expect(rb.status).toBe(200);
    expect(rb.json.release).toMatchObject({ id: 'v4', rollbackOf: 'v2', actor: 'deployer-1', current: true });
    expect(rb.json.run).toMatchObject({ release: 'v4', alreadyRunning: false });
    const released = await events.waitFor((e) => e.data.kind === 'release' && e.data.release === 'v4');
    const started = await events.waitFor((e) => e.data.kind === 'switch-started' && e.data.release === 'v4');
    const activated = await events.waitFor((e) => e.data.kind === 'activated' && e.data.release === 'v4');
    expect(released.data.detail).toMatchObject({ actor: 'deployer-1' });
    expect(Number(released.id)).toBeLessThan(Number(started.id));
    expect(Number(started.id)).toBeLessThan(Number(activated.id));
    await events.waitFor((e) => e.data.kind === 'lease' && e.data.detail.holder === 'deployer-1');
    // A client reconnecting with Last-Event-ID gets what came after it, in order.
    const again = await openStream(api(`/api/events?app=${APP}`), tok['viewer-1']!, { 'last-event-id': released.id! });
    const replayed = await again.waitFor((e) => e.data.kind === 'activated' && e.data.release === 'v4');
    expect(again.events[0]!.data.seq).toBe(Number(released.id) + 1);
    expect(again.events.map((e) => e.data.seq)).toEqual([...again.events.map((e) => e.data.seq)].sort((a, b) => a - b));
    expect(replayed.id).toBe(activated.id);
    again.close();
    expect(events.events.every((e) => e.event === 'activity' && e.data.app === APP)).toBe(true);
    const line = await logs.waitFor((e) => e.event === 'log' && /nf v4 pid \d+ serving/.test(e.data.line));
    expect(line.data.source).toBe('nf.1');
    events.close();
    logs.close();
    // The ledger records the token's name as the actor, as the CLI shows it.
    const cli = JSON.parse((await sb.ok(['releases', '--json'])).stdout) as Array<{ id: string; actor: string }>;
    expect(cli.find((r) => r.id === 'v4')!.actor).toBe('deployer-1');
  });

  it('streams a restart when a process dies and the supervisor restarts it', async () => {
    const events = await openStream(api(`/api/events?app=${APP}`), tok['viewer-1']!);
    const ps = await request(api(`/api/apps/${APP}/processes`), { token: tok['viewer-1']! });
    const proc = ps.json.processes.find((p: { release: string; pid: number | null }) => p.release === 'v4' && p.pid);
    process.kill(proc.pid, 'SIGKILL');
    const restart = await events.waitFor((e) => e.data.kind === 'restart');
    expect(restart.data).toMatchObject({
      app: APP,
      release: 'v4',
      detail: { type: 'nf', index: 1, restarts: proc.restarts + 1 },
    });
    events.close();
  });

  it('runs a release through the API', async () => {
    const r = await request(api(`/api/apps/${APP}/run`), {
      method: 'POST',
      token: tok['deployer-1']!,
      body: { release: 'v2' },
    });
    expect(r.status).toBe(200);
    expect(r.json.run).toMatchObject({ app: APP, release: 'v2' });
    expect((await request(api(`/api/apps/${APP}`), { token: tok['viewer-1']! })).json).toMatchObject({
      current: 'v2',
      running: 'v2',
      inSync: true,
    });
    const missing = await request(api(`/api/apps/${APP}/run`), { method: 'POST', token: tok['deployer-1']!, body: {} });
    expect([missing.status, missing.json.error.code]).toEqual([400, 'request_body_invalid']);
  });

  it('pages releases newest first with limit and before', async () => {
    const v = tok['viewer-1']!;
    const p1 = await request(api(`/api/apps/${APP}/releases?limit=2`), { token: v });
    expect(p1.json.releases.map((r: { id: string }) => r.id)).toEqual(['v4', 'v3']);
    expect(p1.json.next).toBe('v3');
    // Releases recorded by the server are signed with its key; the CLI's were not.
    expect(
      p1.json.releases.map((r: { signer: string | null; trusted: boolean | null }) => [r.signer, r.trusted]),
    ).toEqual([
      [signingKey.keyId, null],
      [signingKey.keyId, null],
    ]);
    const p2 = await request(api(`/api/apps/${APP}/releases?limit=2&before=${p1.json.next}`), { token: v });
    expect(p2.json.releases.map((r: { id: string }) => r.id)).toEqual(['v2', 'v1']);
    expect(p2.json).toMatchObject({ next: null, current: 'v2' });
    expect(p2.json.releases[0].current).toBe(true);
    expect(p2.json.releases.map((r: { signer: string | null }) => r.signer)).toEqual([null, null]);
    for (const q of ['limit=0', 'limit=501', 'limit=x', 'before=x', 'before=v0']) {
      const r = await request(api(`/api/apps/${APP}/releases?${q}`), { token: v });
      expect([q, r.status]).toEqual([q, 400]);
    }
  });

  it('guards cookie sessions with CSRF on every write', async () => {
    const login = await request(api('/api/session'), { method: 'POST', body: { token: tok['deployer-1']! } });
    expect(login.status).toBe(200);
    expect(login.json).toMatchObject({ name: 'deployer-1', role: 'deployer', csrf: expect.any(String) });
    const setCookie = String(login.headers['set-cookie']);
    expect(setCookie).toMatch(/^brr_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+$/);
    const cookie = setCookie.split(';')[0]!;
    const csrf = login.json.csrf as string;
    const me = await request(api('/api/session'), { headers: { cookie } });
    expect(me.json).toEqual({ name: 'deployer-1', role: 'deployer', csrf });
    expect((await request(api('/api/apps'), { headers: { cookie } })).status).toBe(200);
    const noHeader = await request(api('/api/verify'), { method: 'POST', headers: { cookie } });
    expect([noHeader.status, noHeader.json.error.code]).toEqual([403, 'csrf_failed']);
    const wrong = await request(api('/api/verify'), {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': csrf.slice(1) + 'x' },
    });
    expect([wrong.status, wrong.json.error.code]).toEqual([403, 'csrf_failed']);
    const rb = await request(api(`/api/apps/${APP}/rollback`), { method: 'POST', headers: { cookie }, body: {} });
    expect([rb.status, rb.json.error.code]).toEqual([403, 'csrf_failed']);
    const ok = await request(api('/api/verify'), { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
    expect(ok.status).toBe(200);
    expect(ok.json.ok).toBe(true);
    expect((await request(api('/api/session'), { method: 'DELETE', headers: { cookie } })).status).toBe(403);
    const out = await request(api('/api/session'), { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrf } });
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    expect((await request(api('/api/session'), { headers: { cookie } })).status).toBe(401);
  });

  it('manages tokens (admin); a revoked token and its sessions get 401 at once', async () => {
    const a = tok['admin-1']!;
    const made = await request(api('/api/tokens'), {
      method: 'POST',
      token: a,
      body: { name: 'temp', role: 'viewer' },
    });
    expect(made.status).toBe(201);
    expect(made.json).toMatchObject({
      name: 'temp',
      role: 'viewer',
      token: expect.stringMatching(/^brr_[A-Za-z0-9_-]{43}$/),
    });
    tok.temp = made.json.token;
    const dup = await request(api('/api/tokens'), { method: 'POST', token: a, body: { name: 'temp', role: 'admin' } });
    expect([dup.status, dup.json.error.code]).toEqual([409, 'token_exists']);
    const badName = await request(api('/api/tokens'), {
      method: 'POST',
      token: a,
      body: { name: 'No Spaces', role: 'viewer' },
    });
    expect([badName.status, badName.json.error.code]).toEqual([400, 'token_name_invalid']);
    expect((await request(api('/api/apps'), { token: tok.temp! })).status).toBe(200);
    const login = await request(api('/api/session'), { method: 'POST', body: { token: tok.temp! } });
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    expect((await request(api('/api/apps'), { headers: { cookie } })).status).toBe(200);
    expect((await request(api('/api/tokens/temp'), { method: 'DELETE', token: a })).status).toBe(204);
    expect((await request(api('/api/apps'), { token: tok.temp! })).status).toBe(401);
    expect((await request(api('/api/apps'), { headers: { cookie } })).json.error.code).toBe('unauthorized');
    const gone = await request(api('/api/tokens/temp'), { method: 'DELETE', token: a });
    expect([gone.status, gone.json.error.code]).toEqual([404, 'token_not_found']);
    // Revoked by the CLI while the server runs: it re-reads tokens.json.
    expect((await request(api('/api/apps'), { token: tok.victim! })).status).toBe(200);
    await sb.ok(['tokens', 'revoke', 'victim']);
    expect((await request(api('/api/apps'), { token: tok.victim! })).status).toBe(401);
  });

  it('manages trust (admin)', async () => {
    const key = signingKey;
    const a = tok['admin-1']!;
    const add = await request(api(`/api/apps/${APP}/trust`), {
      method: 'POST',
      token: a,
      body: { key: key.publicKey },
    });
    expect(add.status).toBe(200);
    expect(add.json.changed).toBe(true);
    expect(add.json.trusted[0]).toMatchObject({ keyId: key.keyId, addedBy: 'admin-1' });
    const file = await request(api(`/api/apps/${APP}/trust`), {
      method: 'POST',
      token: a,
      body: { key: '/etc/passwd' },
    });
    expect([file.status, file.json.error.code]).toEqual([400, 'request_body_invalid']);
    const del = await request(api(`/api/apps/${APP}/trust/${encodeURIComponent(key.keyId)}`), {
      method: 'DELETE',
      token: a,
    });
    expect(del.status).toBe(200);
    expect(del.json).toEqual({ changed: true, trusted: [] });
  });

  it('answers bad requests with brr error codes', async () => {
    const d = tok['deployer-1']!;
    const cases: Array<[string, Parameters<typeof request>[1], number, string]> = [
      [`/api/apps/${APP}/rollback`, { method: 'POST', token: d, raw: '{"to":' }, 400, 'request_body_invalid'],
      [`/api/apps/${APP}/rollback`, { method: 'POST', token: d, raw: '[1]' }, 400, 'request_body_invalid'],
      [
        `/api/apps/${APP}/rollback`,
        { method: 'POST', token: d, raw: JSON.stringify({ to: 'x'.repeat(70_000) }) },
        413,
        'request_body_too_large',
      ],
      [`/api/apps/${APP}/rollback`, { method: 'POST', token: d, body: { to: 'v99' } }, 404, 'release_not_found'],
      [
        `/api/apps/${APP}/rollback`,
        { method: 'POST', token: d, body: { to: 'v2' } },
        409,
        'rollback_target_is_current',
      ],
      ['/api/apps/nope', { token: d }, 404, 'app_unknown'],
      ['/api/apps/nope/releases', { token: d }, 404, 'app_unknown'],
      [`/api/apps/${APP}/releases/v99`, { token: d }, 404, 'release_not_found'],
      [`/api/apps/${APP}/diff?from=v1`, { token: d }, 400, 'release_id_invalid'],
      [`/api/apps/${APP}/logs?type=nope`, { token: d }, 400, 'process_type_unknown'],
      ['/api/nothing', { token: d }, 404, 'route_not_found'],
      ['/api/apps', { method: 'DELETE', token: d }, 405, 'method_not_allowed'],
    ];
    for (const [p, o, status, code] of cases) {
      const r = await request(api(p), o);
      expect([p, r.status, r.json?.error?.code]).toEqual([p, status, code]);
      expect(typeof r.json.error.message).toBe('string');
    }
  });

  it('waits for a held deploy lease like the CLI, and counts the wait in /metrics', async () => {
    const { openContext } = await import('../../src/app/context.js');
    const other = openContext({ home: sb.home, actor: 'someone-else@test' });
    try {
      const lease = await other.ledger.acquireLease(
        APP,
        { owner: 'someone-else@test', host: os.hostname(), pid: process.pid },
        30_000,
        new Date(),
      );
      const started = Date.now();
      const pending = request(api(`/api/apps/${APP}/config`), {
        method: 'POST',
        token: tok['deployer-1']!,
        body: { set: { WAITED: 'yes' }, run: false },
      });
      await new Promise((r) => setTimeout(r, 1500));
      await other.ledger.releaseLease(APP, lease.token);
      const r = await pending;
      expect(r.status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
      expect(r.json).toMatchObject({
        release: { id: 'v5', actor: 'deployer-1', current: false },
        run: null,
        staged: false,
      });
    } finally {
      await other.close();
    }
    const m = (await request(api('/metrics'), { token: tok['viewer-1']! })).text;
    expect(m).toMatch(/^brr_lease_wait_seconds_count 1$/m);
    expect(Number(/^brr_lease_wait_seconds_sum (\S+)$/m.exec(m)![1])).toBeGreaterThanOrEqual(1);
  });

  it('serves the dashboard files with a CSP and nosniff, and nothing outside dashboard/', async () => {
    const page = await request(api('/'));
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe("default-src 'self'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    for (const p of ['/assets/missing.js', '/assets/..%2f..%2fpackage.json', '/assets/.hidden', '/nope']) {
      expect([p, (await request(api(p))).status]).toEqual([p, 404]);
    }
    // Dot segments sent as they are (a URL object would have normalized them away).
    const { port } = new URL(srv.url);
    for (const raw of ['/assets/../../package.json', '/assets/../index.html', '/assets/%2e%2e/%2e%2e/package.json']) {
      const status = await new Promise<number>((resolve, reject) =>
        http
          .get({ host: '127.0.0.1', port, path: raw, agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', reject),
      );
      expect([raw, status]).toEqual([raw, 404]);
    }
  });

  it('refuses a non-loopback address without TLS or --insecure-http, naming both', () => {
    const r = spawnSync(process.execPath, [BRR, 'serve', '--listen', '0.0.0.0:0'], {
      env: { ...process.env, BRR_HOME: sb.home, NO_COLOR: '1' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--tls-cert');
    expect(r.stderr).toContain('--insecure-http');
  });

  it('serves HTTPS with a self-signed certificate (Secure cookie) and rate-limits failed logins with 429', async () => {
    const cert = path.join(sb.dir, 'cert.pem');
    const key = path.join(sb.dir, 'key.pem');
    const made = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { encoding: 'utf8' },
    );
    expect(made.status, made.stderr).toBe(0);
    const tls = await startServe(sb.home, ['--tls-cert', cert, '--tls-key', key, '--metrics-public']);
    try {
      expect(tls.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = readFileSync(cert);
      const ok = await request(`${tls.url}/api/apps`, { token: tok['viewer-1']!, ca });
      expect(ok.status).toBe(200);
      // --metrics-public: /metrics without a token (and the API still needs one).
      const metrics = await request(`${tls.url}/metrics`, { ca });
      expect(metrics.status).toBe(200);
      expect(metrics.text).toContain('brr_lease_wait_seconds_count');
      expect((await request(`${tls.url}/api/apps`, { ca })).status).toBe(401);
      const login = await request(`${tls.url}/api/session`, { method: 'POST', body: { token: tok['viewer-1']! }, ca });
      expect(String(login.headers['set-cookie'])).toMatch(/; Secure$/);
      // A client that does not trust the certificate is refused by TLS itself.
      await expect(request(`${tls.url}/api/apps`, { token: tok['viewer-1']! })).rejects.toThrow();
      for (let i = 0; i < 3; i++)
        expect((await request(`${tls.url}/api/apps`, { token: `brr_${'B'.repeat(43)}`, ca })).status).toBe(401);
      for (let i = 0; i < 2; i++)
        expect((await request(`${tls.url}/api/session`, { method: 'POST', body: { token: 'wrong' }, ca })).status).toBe(
          401,
        );
      const limited = await request(`${tls.url}/api/session`, { method: 'POST', body: { token: 'wrong' }, ca });
      expect([limited.status, limited.json.error.code]).toEqual([429, 'rate_limited']);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
      // While limited, even a good token is refused (no oracle); without credentials it is just 401.
      expect((await request(`${tls.url}/api/apps`, { token: tok['viewer-1']!, ca })).status).toBe(429);
      expect((await request(`${tls.url}/api/apps`, { ca })).status).toBe(401);
    } finally {
      expect(await tls.stop()).toBe(0);
    }
  });

  it('keeps secrets, tokens and session ids out of every answer and of the server log', async () => {
    const all = bodies.join('\n');
    expect(all.length).toBeGreaterThan(1000);
    const log = srv.stderr();
    expect(log).toMatch(/GET \/api\/apps 200 \d+ms viewer-1/);
    expect(log).toMatch(/POST \/api\/apps\/udp-counter\/rollback 200 \d+ms deployer-1/);
    expect(all).not.toContain(SECRET);
    expect(log).not.toContain(SECRET);
    for (const [name, t] of Object.entries(tok)) {
      expect(log, name).not.toContain(t);
      expect(log, name).not.toContain(t.slice(4, 20));
    }
    expect(log).not.toMatch(/brr_session=|brr_[A-Za-z0-9_-]{43}/);
    // The secret is stored (sealed) and reached the process environment: the verb path is real.
    const v3 = JSON.parse((await sb.ok(['show', 'v3', '--json'])).stdout) as { secretKeys: string[] };
    expect(v3.secretKeys).toEqual(['API_KEY']);
  });

  it('streams health-failure from the real supervisor while a release never gets healthy', async () => {
    const events = await openStream(api(`/api/events?app=${APP}`), tok['viewer-1']!);
    // HEALTHY=0 makes the sample answer /healthz with 503: the switch fails after its timeout.
    const change = request(api(`/api/apps/${APP}/config`), {
      method: 'POST',
      token: tok['deployer-1']!,
      body: { set: { HEALTHY: '0' } },
    });
    const failure = await events.waitFor((e) => e.data.kind === 'health-failure');
    expect(failure.data).toMatchObject({ app: APP, detail: { type: 'nf', index: 1 } });
    expect(String(failure.data.detail.reason)).toContain('503');
    const r = await change;
    expect(r.status).not.toBe(200);
    await events.waitFor((e) => e.data.kind === 'failed');
    events.close();
  }, 60_000);

  it('answers as docs/openapi.yaml says, on every route (real answers against its schemas)', () => {
    const doc = loadOpenApi();
    // The probes of paths and methods that do not exist (404, 405) are undocumented on purpose.
    const probes = (r: (typeof replies)[number]) =>
      (r.status === 404 && templateOf(doc, r.path) === null) || r.status === 405;
    expect(replies.filter(probes).length).toBeGreaterThan(0);
    const problems = replies.filter((r) => !probes(r)).flatMap((r) => checkReply(doc, r));
    expect(problems).toEqual([]);
    // Every route answered successfully at least once (the dashboard's assets aside: the placeholder has none).
    for (const route of ROUTES) {
      if (route.path.startsWith('/assets/')) continue;
      const t = route.path;
      const hit = replies.some((r) => r.method === route.method && templateOf(doc, r.path) === t && r.status < 300);
      const streamedHit = streamed.some((s) => route.method === 'GET' && templateOf(doc, s.path) === t);
      expect(hit || streamedHit, `${route.method} ${t} never answered 2xx`).toBe(true);
    }
    // Stream payloads match their documented event data.
    expect(streamed.length).toBeGreaterThan(3);
    for (const s of streamed) {
      const t = templateOf(doc, s.path)!;
      const schema = doc.paths[t].get.responses['200'].content['text/event-stream']['x-brr-event-data'];
      expect(validate(doc, schema, s.data), `${s.path} ${s.event}`).toEqual([]);
    }
  });

  it('stops cleanly on SIGTERM', async () => {
    expect(await srv.stop()).toBe(0);
    expect(srv.stderr()).toContain('brr console stopping');
  });
});
