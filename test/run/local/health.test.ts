import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HealthSpec } from '../../../src/core/types.js';
import { checkOnce, waitHealthy, type HealthTarget } from '../../../src/run/local/health.js';

let server: http.Server;
let port: number;
let healthyAfter = 0; // epoch ms after which /later answers 200
let dir: string;
const hanging = new Set<net.Socket>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'brr-health-'));
  writeFileSync(join(dir, 'marker'), 'x');
  server = http.createServer((req, res) => {
    if (req.url === '/healthz') return res.writeHead(200).end('ok');
    if (req.url === '/moved') return res.writeHead(302, { location: '/healthz' }).end();
    if (req.url === '/bad') return res.writeHead(503).end('no');
    if (req.url === '/later') return res.writeHead(Date.now() >= healthyAfter ? 200 : 503).end();
    if (req.url === '/hang') return hanging.add(req.socket); // never answers
    if (req.url === '/slow-bad') return setTimeout(() => res.writeHead(503).end(), 400);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  for (const s of hanging) s.destroy();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

// A killed process whose parent is gone may linger as a zombie until something reaps it: not running.
function isRunning(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return false;
  const state = readFileSync(stat, 'utf8').replace(/^.*\) /s, '')[0];
  return state !== 'Z' && state !== 'X';
}

const target = (healthPort: number | null): HealthTarget => ({
  healthPort,
  cwd: dir,
  env: { PATH: process.env.PATH ?? '/usr/bin:/bin', FOO: 'bar' },
});
const spec = (over: Partial<HealthSpec>): HealthSpec => ({
  check: null,
  timeoutMs: 2000,
  intervalMs: 50,
  upForMs: 0,
  ...over,
});

describe('checkOnce', () => {
  it('http: 2xx and 3xx pass, 5xx fails with the status, refused and hanging fail', async () => {
    expect(await checkOnce({ kind: 'http', path: '/healthz', port: 'http' }, target(port), 1000)).toEqual({
      ok: true,
      reason: null,
    });
    expect(await checkOnce({ kind: 'http', path: '/moved', port: 'http' }, target(port), 1000)).toEqual({
      ok: true,
      reason: null,
    });
    expect(await checkOnce({ kind: 'http', path: '/bad', port: 'http' }, target(port), 1000)).toEqual({
      ok: false,
      reason: 'HTTP 503',
    });
    expect(await checkOnce({ kind: 'http', path: '/healthz', port: 'http' }, target(await closedPort()), 1000)).toEqual(
      { ok: false, reason: 'connection refused', refused: true },
    );
    const t0 = Date.now();
    expect(await checkOnce({ kind: 'http', path: '/hang', port: 'http' }, target(port), 200)).toEqual({
      ok: false,
      reason: 'no answer within 200ms',
      timedOut: true,
    });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await checkOnce({ kind: 'http', path: '/healthz', port: 'http' }, target(null), 1000)).toMatchObject({
      ok: false,
    });
  });

  it('tcp: connect passes, refused fails', async () => {
    expect(await checkOnce({ kind: 'tcp', port: 'http' }, target(port), 1000)).toEqual({ ok: true, reason: null });
    expect(await checkOnce({ kind: 'tcp', port: 'http' }, target(await closedPort()), 1000)).toEqual({
      ok: false,
      reason: 'connection refused',
      refused: true,
    });
  });

  it('exec: runs in cwd with env; exit 0 passes, others fail with code and output, slow ones are killed', async () => {
    expect(
      await checkOnce({ kind: 'exec', command: 'test "$FOO" = bar && test -f marker' }, target(null), 2000),
    ).toEqual({ ok: true, reason: null });
    expect(await checkOnce({ kind: 'exec', command: 'echo "db not ready" >&2; exit 3' }, target(null), 2000)).toEqual({
      ok: false,
      reason: 'exit code 3: db not ready',
    });
    const t0 = Date.now();
    const pidFile = join(dir, 'sleeper.pid');
    const r = await checkOnce({ kind: 'exec', command: `sleep 30 & echo $! > ${pidFile}; wait` }, target(null), 300);
    expect(r).toEqual({ ok: false, reason: 'command did not finish within 300ms', timedOut: true });
    expect(Date.now() - t0).toBeLessThan(2000);
    // The whole process group went, not just the shell.
    const sleeper = Number(readFileSync(pidFile, 'utf8').trim());
    await new Promise((res) => setTimeout(res, 100));
    expect(isRunning(sleeper)).toBe(false);
  });
});

describe('waitHealthy', () => {
  it('polls until the check passes', async () => {
    healthyAfter = Date.now() + 300;
    const r = await waitHealthy(spec({ check: { kind: 'http', path: '/later', port: 'http' } }), target(port), {
      isAlive: () => true,
    });
    expect(r.ok).toBe(true);
    expect(r.reason).toBeNull();
    expect(r.elapsedMs).toBeGreaterThanOrEqual(250);
  });

  it('lets one try take the time left before the timeout: `exec: sleep 2` with `timeout: 20s` passes on its first try', async () => {
    const tries = join(dir, 'tries');
    const r = await waitHealthy(
      spec({ check: { kind: 'exec', command: `echo try >> ${tries}; sleep 2` }, timeoutMs: 20_000 }),
      target(null),
      { isAlive: () => true },
    );
    expect(r).toMatchObject({ ok: true, reason: null });
    expect(readFileSync(tries, 'utf8')).toBe('try\n');
  });

  it('gives up after timeoutMs with the last result', async () => {
    const r = await waitHealthy(
      spec({ check: { kind: 'http', path: '/bad', port: 'http' }, timeoutMs: 500 }),
      target(port),
      { isAlive: () => true },
    );
    expect(r).toMatchObject({
      ok: false,
      reason: 'health check http /healthz did not pass within 500ms: last result: HTTP 503'.replace('/healthz', '/bad'),
    });
    expect(r.elapsedMs).toBeGreaterThanOrEqual(500);
    expect(r.elapsedMs).toBeLessThan(1500);
  });

  it('keeps the last answer when the final try only ran out of the time left (not "no answer within 100ms")', async () => {
    // Tries at 0 and ~450 ms answer 503 after 400 ms each; the one at ~900 ms has ~100 ms left.
    const failures: string[] = [];
    const r = await waitHealthy(
      spec({ check: { kind: 'http', path: '/slow-bad', port: 'http' }, timeoutMs: 1000 }),
      target(port),
      { isAlive: () => true, onFailure: (why) => failures.push(why) },
    );
    expect(r).toMatchObject({
      ok: false,
      reason: 'health check http /slow-bad did not pass within 1s: last result: HTTP 503',
    });
    expect(failures.every((f) => f === 'HTTP 503')).toBe(true);
  });

  it('reports each failed try as a health failure; refusals while starting are not, a gate lost on refusals counts once', async () => {
    const failures: string[] = [];
    healthyAfter = Date.now() + 350;
    const r = await waitHealthy(
      spec({ check: { kind: 'http', path: '/later', port: 'http' }, intervalMs: 100 }),
      target(port),
      { isAlive: () => true, onFailure: (reason) => failures.push(reason) },
    );
    expect(r.ok).toBe(true);
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(new Set(failures)).toEqual(new Set(['HTTP 503']));

    const late: string[] = [];
    const hp = await closedPort();
    const script = `setTimeout(() => require('http').createServer((q, s) => s.end('ok')).listen(${hp}, '127.0.0.1'), 300)`;
    const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    try {
      const ok = await waitHealthy(
        spec({ check: { kind: 'http', path: '/healthz', port: 'http' }, timeoutMs: 10_000, intervalMs: 50 }),
        target(hp),
        { isAlive: () => child.exitCode === null, onFailure: (reason) => late.push(reason) },
      );
      expect(ok.ok).toBe(true);
      expect(late).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }

    const refused: string[] = [];
    const lost = await waitHealthy(
      spec({ check: { kind: 'tcp', port: 'http' }, timeoutMs: 400, intervalMs: 50 }),
      target(await closedPort()),
      { isAlive: () => true, onFailure: (reason) => refused.push(reason) },
    );
    expect(lost.ok).toBe(false);
    expect(refused).toEqual([lost.reason]);
  });

  it('formats whole seconds', async () => {
    const r = await waitHealthy(
      spec({ check: { kind: 'tcp', port: 'http' }, timeoutMs: 1000, intervalMs: 200 }),
      target(await closedPort()),
      { isAlive: () => true },
    );
    expect(r.reason).toBe('health check tcp http did not pass within 1s: last result: connection refused');
  });

  it('stops at once when a real process exits while starting', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => process.exit(3), 200)'], { stdio: 'ignore' });
    const isAlive = () => child.exitCode === null && child.signalCode === null;
    const r = await waitHealthy(
      spec({ check: { kind: 'http', path: '/bad', port: 'http' }, timeoutMs: 10_000, intervalMs: 1000 }),
      target(port),
      { isAlive },
    );
    expect(r).toMatchObject({ ok: false, reason: 'process exited while starting' });
    expect(r.elapsedMs).toBeLessThan(2000);
  });

  it('passes for a real process that starts serving its health socket late', async () => {
    const hp = await closedPort();
    const script = `setTimeout(() => require('http').createServer((q, s) => s.end('ok')).listen(${hp}, '127.0.0.1'), 300)`;
    const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    try {
      const isAlive = () => child.exitCode === null && child.signalCode === null;
      const r = await waitHealthy(
        spec({ check: { kind: 'http', path: '/healthz', port: 'http' }, timeoutMs: 10_000, intervalMs: 100 }),
        target(hp),
        { isAlive },
      );
      expect(r.ok).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('with no check: healthy once up for upForMs, failed if it dies first', async () => {
    const ok = await waitHealthy(spec({ upForMs: 200 }), target(null), { isAlive: () => true });
    expect(ok.ok).toBe(true);
    expect(ok.elapsedMs).toBeGreaterThanOrEqual(200);

    const diesAt = Date.now() + 100;
    const dead = await waitHealthy(spec({ upForMs: 1000 }), target(null), { isAlive: () => Date.now() < diesAt });
    expect(dead).toMatchObject({ ok: false, reason: 'process exited while starting' });
    expect(dead.elapsedMs).toBeLessThan(500);
  });

  it('ends on abort', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const r = await waitHealthy(
      spec({ check: { kind: 'http', path: '/bad', port: 'http' }, timeoutMs: 10_000, intervalMs: 50 }),
      target(port),
      {
        isAlive: () => true,
        signal: ac.signal,
      },
    );
    expect(r).toMatchObject({ ok: false, reason: 'health check aborted' });
    expect(r.elapsedMs).toBeLessThan(1500);
  });

  it('uses the injected clock for deadlines and elapsed time', async () => {
    let t = 0;
    const now = () => (t += 400); // every look at the clock moves 400ms on
    const r = await waitHealthy(
      spec({ check: { kind: 'tcp', port: 'http' }, timeoutMs: 1000 }),
      target(await closedPort()),
      { isAlive: () => true, now },
    );
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/^health check tcp http did not pass within 1s/);
  });
});
