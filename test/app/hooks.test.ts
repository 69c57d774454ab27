/**
 * The webhook dispatcher against a real SQLite ledger in a temp home and real HTTP receivers on
 * 127.0.0.1: which ledger entries become which hook events, signatures a receiver can verify
 * with the secret, the cursor (no duplicates across a restart, a lost cursor replays nothing, a
 * new hook gets no past), retries with back-off until given up, and a receiver that never
 * answers delaying no other. The real CLI and supervisor are covered by test/e2e/hooks.test.ts.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openContext, type Context } from '../../src/app/context.js';
import { readDeliveries } from '../../src/app/hooks/deliveries.js';
import { deliverOnce, retryDelayMs, startHookDispatcher } from '../../src/app/hooks/dispatch.js';
import { hookFiles } from '../../src/app/hooks/files.js';
import { buildPayload, hookEventOf, signBody } from '../../src/app/hooks/payload.js';
import { addHook, checkHookUrl, listHooks, parseHookEvents, removeHook } from '../../src/app/hooks/store.js';
import type { EventType } from '../../src/core/types.js';
import { isBrrError } from '../../src/core/errors.js';

const SECRET = 'test-secret-0123456789-abcdefghij';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  valid: boolean;
}

/** A receiver that checks each payload's signature with `secret`, as a user's would. */
async function receiver(
  secret: string,
  status = 200,
  answerAfterMs = 0,
): Promise<{ url: string; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
      const sig = Buffer.from(String(req.headers['x-brr-signature'] ?? ''));
      got.push({ headers: req.headers, body, valid: sig.length === expected.length && timingSafeEqual(sig, expected) });
      setTimeout(() => res.writeHead(status).end(), answerAfterMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Accepts connections and never answers. */
async function blackHole(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = http.createServer(() => {});
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

const DIGEST = `sha256:${'a'.repeat(64)}`;

async function release(ctx: Context, app: string, rollbackOf: string | null = null): Promise<string> {
  const r = await ctx.ledger.appendRelease(app, () => ({
    build: { digest: DIGEST, commit: 'c'.repeat(40) },
    config: { TOKEN: { value: 'do-not-send-me', secret: false } },
    formation: {},
    cause: rollbackOf ? `rollback to ${rollbackOf}` : 'deploy ccccccc',
    message: null,
    actor: 'tester',
    createdAt: new Date().toISOString(),
    rollbackOf,
  }));
  return r.id;
}

async function event(ctx: Context, app: string, type: EventType, rel: string, detail: Record<string, unknown> = {}) {
  await ctx.ledger.appendEvent(app, {
    type,
    release: rel,
    detail,
    actor: 'supervisor',
    createdAt: new Date().toISOString(),
  });
}

const waitFor = async (cond: () => boolean, ms = 10_000, what = 'condition') => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

const dirs: string[] = [];
let ctx: Context;
beforeEach(() => {
  const dir = mkdtempSync(path.join(tmpdir(), 'brr-hooks-'));
  dirs.push(dir);
  ctx = openContext({ home: path.join(dir, 'home'), actor: 'tester@test' });
});
afterEach(async () => {
  await ctx.close();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const silent = () => {};
const ids = (got: Received[]) => got.map((g) => (JSON.parse(g.body) as { id: string }).id);

describe('what hooks are told', () => {
  it('maps ledger entries to hook events, one each at most', () => {
    const rel = (rollbackOf: string | null) =>
      ({ kind: 'release', body: { app: 'a', seq: 1, id: 'v1', rollbackOf } }) as never;
    const ev = (type: string) => ({ kind: 'event', body: { app: 'a', seq: 1, type } }) as never;
    expect(hookEventOf(rel(null))).toBe('release');
    expect(hookEventOf(rel('v1'))).toBe('rollback');
    expect(hookEventOf(ev('activated'))).toBe('run');
    expect(hookEventOf(ev('rolled-back'))).toBe('rollback');
    expect(hookEventOf(ev('failed'))).toBe('failure');
    expect(hookEventOf(ev('release-phase-failed'))).toBe('failure');
    for (const t of ['switch-started', 'stopped', 'signed', 'config-staged', 'lease-taken-over'])
      expect(hookEventOf(ev(t))).toBeNull();
  });

  it('never puts a release config in a payload; signs the raw body', () => {
    const p = buildPayload(
      {
        kind: 'release',
        body: {
          app: 'a',
          seq: 2,
          id: 'v2',
          build: { digest: DIGEST, commit: 'c' },
          config: { K: { value: 'hidden', secret: true } },
          formation: {},
          cause: 'x',
          message: null,
          actor: 'me',
          createdAt: 't',
          rollbackOf: null,
          prevHash: null,
        },
      },
      'release',
    );
    expect(p.id).toBe('a/release/2');
    expect(JSON.stringify(p)).not.toContain('hidden');
    expect(signBody('k', 'body')).toBe(`sha256=${createHmac('sha256', 'k').update('body').digest('hex')}`);
  });

  it('checks URLs and events', () => {
    expect(checkHookUrl('https://example.com/x').warning).toBeNull();
    expect(checkHookUrl('http://127.0.0.1:9/x').warning).toBeNull();
    expect(checkHookUrl('http://example.com/x').warning).toContain('plain http');
    for (const bad of ['ftp://x/', 'not a url', 'file:///etc/passwd'])
      expect(() => checkHookUrl(bad)).toThrow(expect.objectContaining({ code: 'hook_url_invalid' }));
    expect(parseHookEvents('run, release,run')).toEqual(['release', 'run']);
    expect(parseHookEvents(undefined)).toEqual(['release', 'run', 'rollback', 'failure']);
    expect(() => parseHookEvents('deploy')).toThrow(expect.objectContaining({ code: 'hook_events_invalid' }));
    expect(retryDelayMs(1, 1000)).toBe(1000);
    expect(retryDelayMs(4, 1000)).toBe(8000);
  });
});

describe('the dispatcher', () => {
  it('delivers each entry once, signed, to the hooks that want it; a new hook gets no past; a restart repeats nothing', async () => {
    await release(ctx, 'nf'); // v1: before any hook, never delivered
    const r = await receiver(SECRET);
    const other = await receiver(SECRET);
    try {
      const all = await addHook(ctx, { url: r.url, secret: SECRET });
      await addHook(ctx, { url: other.url, events: 'failure', secret: SECRET });
      expect(all.secret).toBeUndefined(); // given, so never echoed
      await event(ctx, 'nf', 'activated', 'v1', { from: null, durationMs: 120 });
      await release(ctx, 'nf');
      await event(ctx, 'nf', 'switch-started', 'v2');
      await event(ctx, 'nf', 'failed', 'v2', { reason: 'health' });
      await release(ctx, 'nf', 'v1');
      await event(ctx, 'other-app', 'rolled-back', 'v1', { reason: 'rollout failed' });

      const stop = startHookDispatcher(ctx, silent, { pollMs: 50 });
      await waitFor(() => r.got.length >= 5 && other.got.length >= 1, 10_000, 'deliveries');
      await stop();
      expect(ids(r.got).sort()).toEqual(
        ['nf/event/1', 'nf/event/3', 'nf/release/2', 'nf/release/3', 'other-app/event/1'].sort(),
      );
      expect(ids(other.got)).toEqual(['nf/event/3']);
      for (const g of [...r.got, ...other.got]) {
        expect(g.valid).toBe(true);
        const body = JSON.parse(g.body) as Record<string, unknown>;
        expect(g.headers['x-brr-delivery']).toBe(body.id);
        expect(g.headers['x-brr-event']).toBe(body.event);
        expect(g.headers['x-brr-timestamp']).toBe(String(body.timestamp));
        expect(g.body).not.toContain('do-not-send-me');
      }
      const byId = Object.fromEntries(r.got.map((g) => [JSON.parse(g.body).id, JSON.parse(g.body)]));
      expect(byId['nf/event/1']).toMatchObject({ event: 'run', app: 'nf', release: 'v1', actor: 'supervisor' });
      expect(byId['nf/event/1'].detail).toMatchObject({ type: 'activated', data: { durationMs: 120 } });
      expect(byId['nf/release/2']).toMatchObject({ event: 'release', release: 'v2' });
      expect(byId['nf/release/3']).toMatchObject({ event: 'rollback', release: 'v3' });
      expect(byId['nf/event/3']).toMatchObject({ event: 'failure', release: 'v2' });
      expect(byId['other-app/event/1']).toMatchObject({ event: 'rollback' });

      // A second dispatcher, later: only what is new, once.
      await release(ctx, 'nf');
      const again = startHookDispatcher(ctx, silent, { pollMs: 50 });
      await waitFor(() => r.got.length >= 6, 10_000, 'the delivery after a restart');
      await new Promise((res) => setTimeout(res, 300));
      await again();
      expect(ids(r.got).filter((id) => id === 'nf/release/4')).toHaveLength(1);
      expect(new Set(ids(r.got)).size).toBe(r.got.length);

      // A lost cursor starts at the newest entries: nothing replayed.
      unlinkSync(hookFiles(ctx.paths.root).cursor);
      const lost = await deliverOnce(ctx, silent);
      expect(lost).toMatchObject({ ran: true, queued: 0 });
      await release(ctx, 'nf');
      expect(await deliverOnce(ctx, silent)).toMatchObject({ ran: true, queued: 1, delivered: 1 });
      expect(ids(r.got).at(-1)).toBe('nf/release/5');
      expect(new Set(ids(r.got)).size).toBe(r.got.length);

      // A hook added now does not receive the past.
      const late = await receiver(SECRET);
      try {
        await addHook(ctx, { url: late.url, secret: SECRET });
        expect(await deliverOnce(ctx, silent)).toMatchObject({ queued: 0 });
        await event(ctx, 'nf', 'activated', 'v5');
        await deliverOnce(ctx, silent);
        expect(ids(late.got)).toEqual(['nf/event/4']);
      } finally {
        await late.close();
      }
    } finally {
      await r.close();
      await other.close();
    }
  });

  it('a dispatcher stopped while a receiver is answering lets it finish: the next one does not send it again', async () => {
    await release(ctx, 'slow');
    const r = await receiver(SECRET, 200, 300);
    try {
      await addHook(ctx, { url: r.url, secret: SECRET });
      await release(ctx, 'slow');
      const stop = startHookDispatcher(ctx, silent, { pollMs: 50 });
      await waitFor(() => r.got.length >= 1, 10_000, 'the delivery');
      await stop(); // the receiver has it, its answer comes 300 ms later
      const again = startHookDispatcher(ctx, silent, { pollMs: 50 });
      await new Promise((res) => setTimeout(res, 700));
      await again();
      expect(r.got).toHaveLength(1);
    } finally {
      await r.close();
    }
  });

  it('retries a failing receiver with back-off, then gives up; a receiver that never answers delays no other', async () => {
    const failing = await receiver(SECRET, 503);
    const hole = await blackHole();
    const good = await receiver(SECRET);
    try {
      const f = await addHook(ctx, { url: failing.url, secret: SECRET });
      const h = await addHook(ctx, { url: hole.url, secret: SECRET });
      await addHook(ctx, { url: good.url, secret: SECRET });
      await release(ctx, 'nf');
      const t0 = Date.now();
      const stop = startHookDispatcher(ctx, silent, {
        pollMs: 20,
        backoffBaseMs: 100,
        maxAttempts: 4,
        timeoutMs: 3000,
      });
      await waitFor(() => good.got.length === 1, 5_000, 'the good receiver');
      // Not held up by the black hole's 3 s timeout.
      expect(Date.now() - t0).toBeLessThan(2500);
      await waitFor(
        () => readDeliveries(ctx.paths.root, { hook: f.id, n: 100 }).some((d) => d.status === 'failed'),
        10_000,
        'the failing hook to be given up',
      );
      const tries = readDeliveries(ctx.paths.root, { hook: f.id, n: 100 });
      expect(tries.map((t) => [t.attempt, t.status, t.httpStatus, t.error])).toEqual([
        [1, 'retrying', 503, 'HTTP 503'],
        [2, 'retrying', 503, 'HTTP 503'],
        [3, 'retrying', 503, 'HTTP 503'],
        [4, 'failed', 503, 'HTTP 503'],
      ]);
      expect(failing.got).toHaveLength(4);
      // Gaps grow: 100, 200, 400 ms at least.
      const at = failing.got.map((g) => Number(g.headers['x-brr-timestamp']));
      expect(at.length).toBe(4);
      const times = tries.map((t) => Date.parse(t.at));
      expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(90);
      expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(190);
      expect(times[3]! - times[2]!).toBeGreaterThanOrEqual(390);
      await waitFor(
        () => readDeliveries(ctx.paths.root, { hook: h.id, n: 100 }).length >= 1,
        5_000,
        'the black hole attempt to time out',
      );
      const holeTry = readDeliveries(ctx.paths.root, { hook: h.id, n: 100 })[0]!;
      expect(holeTry).toMatchObject({ status: 'retrying', httpStatus: null, error: 'no answer within 3 s' });
      expect(holeTry.durationMs).toBeGreaterThanOrEqual(2900);
      await stop();

      // The secret is in hooks.json only: not in the list, the log or the cursor.
      expect(JSON.stringify(listHooks(ctx.paths.root))).not.toContain(SECRET);
      const files = hookFiles(ctx.paths.root);
      for (const name of readdirSync(files.dir)) {
        expect(readFileSync(path.join(files.dir, name), 'utf8')).not.toContain(SECRET);
        expect(statSync(path.join(files.dir, name)).mode & 0o077).toBe(0);
      }
      expect(statSync(files.hooks).mode & 0o777).toBe(0o600);
      removeHook(ctx.paths.root, h.id);
      try {
        removeHook(ctx.paths.root, h.id);
        expect.unreachable();
      } catch (e) {
        expect(isBrrError(e) && e.code).toBe('hook_not_found');
        expect(String(e)).not.toContain(SECRET);
      }
    } finally {
      await failing.close();
      await hole.close();
      await good.close();
    }
  });

  it('one dispatcher per home: a second waits; deliver says so', async () => {
    const r = await receiver(SECRET);
    try {
      await addHook(ctx, { url: r.url, secret: SECRET });
      const first = startHookDispatcher(ctx, silent, { pollMs: 50 });
      await waitFor(() => {
        try {
          return readFileSync(hookFiles(ctx.paths.root).lock, 'utf8').startsWith(`${process.pid}\n`);
        } catch {
          return false;
        }
      });
      expect(await deliverOnce(ctx, silent)).toMatchObject({ ran: false });
      await first();
      expect(await deliverOnce(ctx, silent)).toMatchObject({ ran: true });
    } finally {
      await r.close();
    }
  });
});
