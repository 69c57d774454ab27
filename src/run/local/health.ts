/**
 * Health checks for one process of the local target. HTTP and TCP checks go to the process's
 * PRIVATE health socket (see `bindPrivateTcp`): the shared port may hand a check to another
 * release's process, which would make a broken new release look healthy.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import type { HealthCheck, HealthSpec } from '../../core/types.js';
import { MAX_TIMER_MS } from '../../manifest/duration.js';

export interface HealthTarget {
  /** Port of the process's private health socket on 127.0.0.1; null if it has none. */
  healthPort: number | null;
  /** Working directory for exec checks (the release directory). */
  cwd: string;
  /** Environment for exec checks (the release's config). */
  env: Record<string, string>;
}

export interface CheckResult {
  ok: boolean;
  /** Why the check failed (`HTTP 503`, `connection refused`, `exit code 1`, …); null when ok. */
  reason: string | null;
  /** The connection was refused: nothing listens on the checked port. */
  refused?: boolean;
  /** No answer within the time the try was given (it may have been the little left before a deadline). */
  timedOut?: boolean;
}

/** Runs `check` once against `target`, giving up after `timeoutMs`. Never throws. */
export async function checkOnce(check: HealthCheck, target: HealthTarget, timeoutMs: number): Promise<CheckResult> {
  // Bounded by what a timer holds: a longer delay would fire at once (see manifest/duration.ts).
  const timeout = Math.min(MAX_TIMER_MS, Math.max(1, Math.floor(timeoutMs)));
  if (check.kind === 'exec') return checkExec(check.command, target, timeout);
  if (target.healthPort === null) return { ok: false, reason: 'no health socket for this process' };
  return check.kind === 'http'
    ? checkHttp(target.healthPort, check.path, timeout)
    : checkTcp(target.healthPort, timeout);
}

/**
 * Waits until a starting process is healthy: the check passes (polled every `spec.intervalMs`,
 * each try limited to the time left before `spec.timeoutMs`), or with no check, the process stays up for
 * `spec.upForMs`. Ends early when `isAlive()` turns false or `signal` aborts. Never throws.
 */
export async function waitHealthy(
  spec: HealthSpec,
  target: HealthTarget,
  opts: {
    isAlive: () => boolean;
    signal?: AbortSignal;
    now?: () => number;
    /** Said instead of `connection refused`, when the caller knows what that means for this process. */
    refusedReason?: string;
    /**
     * Told of every failed try that counts as a health failure (see below), for `brr ps` and
     * the metrics. A refused connection is not one: the process does not listen yet, which is
     * how every start begins; a gate that times out with nothing but refusals counts once.
     */
    onFailure?: (reason: string) => void;
  },
): Promise<{ ok: boolean; reason: string | null; elapsedMs: number }> {
  const now = opts.now ?? Date.now;
  const start = now();
  const done = (ok: boolean, reason: string | null) => ({ ok, reason, elapsedMs: now() - start });
  const interrupted = () =>
    opts.signal?.aborted
      ? done(false, 'health check aborted')
      : !opts.isAlive()
        ? done(false, 'process exited while starting')
        : null;

  const check = spec.check;
  if (check === null) {
    const until = start + spec.upForMs;
    for (;;) {
      const stop = interrupted();
      if (stop) return stop;
      const left = until - now();
      if (left <= 0) return done(true, null);
      await sleep(Math.min(left, 50), opts.signal);
    }
  }

  const deadline = start + spec.timeoutMs;
  let last: string | null = null;
  let counted = false;
  for (;;) {
    const stop = interrupted();
    if (stop) return stop;
    const left = deadline - now();
    if (left <= 0) break;
    // A try may take all the time left: a check that needs 2 s (a slow `exec`) must be able to pass.
    const r = await checkOnce(check, target, left);
    if (r.ok) return done(true, null);
    // A try that only ran out of the time left before the deadline (1 ms, say) says less than the
    // answer before it (`HTTP 503`): that one stays the last result, and it is not counted.
    if (r.timedOut === true && deadline - now() <= 0 && last !== null) break;
    last = r.refused && opts.refusedReason ? opts.refusedReason : r.reason;
    // A try cut short by a crash or an abort is not the check's verdict.
    if (!r.refused && !interrupted()) {
      counted = true;
      opts.onFailure?.(r.reason ?? 'health check failed');
    }
    // Watch for the process dying while waiting for the next try, so a crash is reported at once.
    const next = Math.min(now() + spec.intervalMs, deadline);
    for (let wait = next - now(); wait > 0; wait = next - now()) {
      const stop2 = interrupted();
      if (stop2) return stop2;
      await sleep(Math.min(wait, 50), opts.signal);
    }
  }
  const stop = interrupted();
  if (stop) return stop;
  const reason = `health check ${describeCheck(check)} did not pass within ${formatMs(spec.timeoutMs)}${last ? `: last result: ${last}` : ''}`;
  if (!counted) opts.onFailure?.(reason);
  return done(false, reason);
}

/** `http /healthz`, `tcp http`, `exec "pg_isready"`: how a check is named in messages. */
export function describeCheck(check: HealthCheck): string {
  if (check.kind === 'http') return `http ${check.path}`;
  if (check.kind === 'tcp') return `tcp ${check.port}`;
  return `exec ${JSON.stringify(check.command)}`;
}

function formatMs(ms: number): string {
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function describeError(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ECONNRESET') return 'connection reset';
  if (typeof code === 'string') return code;
  return e instanceof Error ? e.message : String(e);
}

function failure(e: unknown): CheckResult {
  const reason = describeError(e);
  return (e as { code?: unknown }).code === 'ECONNREFUSED'
    ? { ok: false, reason, refused: true }
    : { ok: false, reason };
}

function checkHttp(port: number, path: string, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: CheckResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const req = http.get(
      {
        host: '127.0.0.1',
        port,
        path: path.startsWith('/') ? path : `/${path}`,
        agent: false,
        headers: { 'user-agent': 'brr-health' },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        finish(status >= 200 && status < 400 ? { ok: true, reason: null } : { ok: false, reason: `HTTP ${status}` });
      },
    );
    const timer = setTimeout(
      () => finish({ ok: false, reason: `no answer within ${formatMs(timeoutMs)}`, timedOut: true }),
      timeoutMs,
    );
    req.on('error', (e) => finish(failure(e)));
  });
}

function checkTcp(port: number, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: CheckResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const sock = net.connect({ host: '127.0.0.1', port }, () => finish({ ok: true, reason: null }));
    const timer = setTimeout(
      () => finish({ ok: false, reason: `no connection within ${formatMs(timeoutMs)}`, timedOut: true }),
      timeoutMs,
    );
    sock.on('error', (e) => finish(failure(e)));
  });
}

function checkExec(command: string, target: HealthTarget, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    let settled = false;
    let output = '';
    const finish = (r: CheckResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    // Own process group, so a timeout kills whatever the shell started too.
    const child = spawn('/bin/sh', ['-c', command], {
      cwd: target.cwd,
      env: target.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-500);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {}
    };
    const timer = setTimeout(() => {
      killGroup();
      finish({ ok: false, reason: `command did not finish within ${formatMs(timeoutMs)}`, timedOut: true });
    }, timeoutMs);
    child.on('error', (e) => finish({ ok: false, reason: describeError(e) }));
    const report = (code: number | null, signal: string | null) => {
      if (code === 0) return finish({ ok: true, reason: null });
      const last = output.trim().split('\n').pop()?.trim();
      const how = code !== null ? `exit code ${code}` : `killed by ${signal}`;
      finish({ ok: false, reason: last ? `${how}: ${last.slice(0, 200)}` : how });
    };
    child.on('close', report);
    // Something the command left in the background may hold its output open: do not wait for it,
    // and do not leave it running.
    child.on('exit', (code, signal) => {
      setTimeout(() => {
        killGroup();
        report(code, signal);
      }, 100).unref();
    });
  });
}
