/**
 * The webhook dispatcher. A hook never blocks or fails a deploy because nothing on the deploy
 * path knows about hooks: the ledger is the outbox. The dispatcher follows every app's two
 * chains from a durable cursor (`<home>/hooks/cursor.json`: per app the last release and event
 * seq read, plus the deliveries still pending), turns new entries into payloads (payload.ts),
 * POSTs them signed, retries with exponential back-off and logs every attempt (deliveries.ts).
 *
 * - One dispatcher per home: a lock file (`hooks/dispatcher.lock`, store/file-lock.ts, broken
 *   when its pid is dead). It runs in the local supervisor and in `brr serve`, whichever takes
 *   the lock; the other keeps trying every few seconds. `brr hooks deliver` runs one pass.
 * - The cursor and the queue are written (atomically) before anything is sent, so a restart
 *   neither loses nor repeats a delivery, except one sent but not yet recorded when the process
 *   died: delivery is at least once; receivers deduplicate on the payload id.
 * - A lost cursor starts at the newest entries (nothing is replayed); an app the cursor does
 *   not know yet (created since) is read from its start. A hook only gets entries appended after
 *   it was added (store.ts, startAfter).
 * - Attempts: 5 s timeout each; after a failure (no answer, an error, any status but 2xx) the
 *   next try waits 1 s, 2 s, 4 s … (doubling); after 10 attempts (~8.5 min) the delivery is
 *   marked failed. Deliveries run concurrently (a hook that never answers delays no other);
 *   order between deliveries is not guaranteed. Stopping aborts attempts in flight: they stay
 *   pending and the next dispatcher tries them again.
 */
import http from 'node:http';
import https from 'node:https';
import { isBrrError } from '../../core/errors.js';
import { brrVersion } from '../../core/version.js';
import { withFileLock } from '../../store/file-lock.js';
import type { Context } from '../context.js';
import { appendDelivery, type DeliveryRecord } from './deliveries.js';
import { ensurePrivateDir, hookFiles } from './files.js';
import { headsNow, readCursor, writeCursor, type CursorFile, type Pending } from './cursor.js';
import { readChainAfter } from '../ledger-follow.js';
import { buildPayload, buildRequest, hookEventOf } from './payload.js';
import { readHooks, type Hook } from './store.js';

export interface DispatchOptions {
  /** Time between polls of the ledger (default 1 s). */
  pollMs?: number;
  /** Per-attempt timeout (default 5 s). */
  timeoutMs?: number;
  /** First retry delay (default 1 s); doubles with each attempt. */
  backoffBaseMs?: number;
  /** Attempts before a delivery is marked failed (default 10). */
  maxAttempts?: number;
  /** How often a dispatcher that does not hold the lock tries again (default 5 s). */
  lockRetryMs?: number;
  /** On stop, how long attempts in flight may still finish before they are aborted (default 1 s). */
  stopGraceMs?: number;
}

const DEFAULTS = {
  pollMs: 1_000,
  timeoutMs: 5_000,
  backoffBaseMs: 1_000,
  maxAttempts: 10,
  lockRetryMs: 5_000,
  stopGraceMs: 1_000,
};
const PAGE = 500;

export interface PassResult {
  queued: number;
  delivered: number;
  retrying: number;
  failed: number;
  /** Deliveries still waiting for a later attempt. */
  pending: number;
}

/** Pure: the delay before the next attempt, after `attempts` failed ones (1 s, 2 s, 4 s … with base 1 s). */
export function retryDelayMs(attempts: number, baseMs: number): number {
  return baseMs * 2 ** Math.max(0, attempts - 1);
}

/**
 * The dispatcher's state while it holds the lock: the cursor in memory (persisted on every
 * change) and the attempts in flight.
 */
class Dispatcher {
  private cursor: CursorFile | null = null;
  private readonly inFlight = new Map<Pending, AbortController>();
  private readonly attempts = new Set<Promise<void>>();
  readonly counts: PassResult = { queued: 0, delivered: 0, retrying: 0, failed: 0, pending: 0 };
  private readonly files;
  private hooks = new Map<string, Hook>();

  constructor(
    private readonly ctx: Context,
    private readonly log: (line: string) => void,
    private readonly o: typeof DEFAULTS,
  ) {
    this.files = hookFiles(ctx.paths.root);
  }

  private save(): void {
    if (this.cursor) writeCursor(this.files.cursor, this.cursor);
  }

  /** Queues what is new in the ledger for every hook that wants it (durably, before anything is sent). */
  async poll(): Promise<void> {
    const hooks = readHooks(this.ctx.paths.root);
    this.hooks = new Map(hooks.map((h) => [h.id, h]));
    if (hooks.length === 0) {
      // Nothing to tell anyone: the ledger is not even read. A hook added later starts at its own position.
      const c = this.cursor ?? readCursor(this.files.cursor);
      if (c && c.pending.some((p) => !this.inFlight.has(p))) {
        c.pending = c.pending.filter((p) => this.inFlight.has(p));
        writeCursor(this.files.cursor, c);
      }
      this.cursor = c;
      return;
    }
    let changed = false;
    if (!this.cursor) {
      this.cursor = readCursor(this.files.cursor);
      if (!this.cursor) {
        this.log(
          'hooks: no cursor (first run, or it was lost): starting at the newest ledger entries, nothing replayed',
        );
        this.cursor = { version: 1, apps: await headsNow(this.ctx), pending: [] };
        changed = true;
      }
    }
    const cursor = this.cursor;
    // Deliveries of a removed hook are dropped.
    cursor.pending = cursor.pending.filter((p) => this.hooks.has(p.hook));
    for (const app of await this.ctx.ledger.listApps()) {
      const pos = { ...(cursor.apps[app] ?? { release: 0, event: 0 }) };
      for (const kind of ['release', 'event'] as const) {
        for (;;) {
          const entries = await readChainAfter(this.ctx.ledger, app, kind, pos[kind], PAGE);
          for (const entry of entries) {
            pos[kind] = entry.body.seq;
            changed = true;
            const event = hookEventOf(entry);
            if (!event) continue;
            for (const h of hooks) {
              if (!h.events.includes(event) || entry.body.seq <= (h.startAfter[app]?.[kind] ?? 0)) continue;
              cursor.pending.push({ hook: h.id, payload: buildPayload(entry, event), attempts: 0, nextAt: Date.now() });
              this.counts.queued++;
            }
          }
          if (entries.length < PAGE) break;
        }
      }
      if (!cursor.apps[app]) changed = true;
      cursor.apps[app] = pos;
    }
    if (changed) this.save();
  }

  /** Starts every due delivery not already in flight; resolves when those attempts ended. */
  kick(): Promise<void> {
    const c = this.cursor;
    if (!c) return Promise.resolve();
    const now = Date.now();
    const due = c.pending.filter((p) => p.nextAt <= now && !this.inFlight.has(p) && this.hooks.has(p.hook));
    return Promise.all(
      due.map((p) => {
        const a = this.attempt(p, this.hooks.get(p.hook) as Hook);
        this.attempts.add(a);
        return a.finally(() => this.attempts.delete(a));
      }),
    ).then(() => {});
  }

  private async attempt(p: Pending, hook: Hook): Promise<void> {
    const abort = new AbortController();
    this.inFlight.set(p, abort);
    const { body, headers } = buildRequest(p.payload, hook.secret, this.ctx.clock.now(), `brr-hooks/${brrVersion()}`);
    const r = await postJson(hook.url, body, headers, this.o.timeoutMs, abort.signal);
    this.inFlight.delete(p);
    // Stopped mid-attempt: not an attempt; it stays pending for the next dispatcher.
    if (abort.signal.aborted) return;
    p.attempts++;
    let status: DeliveryRecord['status'];
    if (r.ok) status = 'delivered';
    else if (p.attempts >= this.o.maxAttempts) status = 'failed';
    else {
      status = 'retrying';
      p.nextAt = Date.now() + retryDelayMs(p.attempts, this.o.backoffBaseMs);
    }
    this.counts[status]++;
    const c = this.cursor as CursorFile;
    if (status !== 'retrying') c.pending = c.pending.filter((x) => x !== p);
    try {
      appendDelivery(this.ctx.paths.root, {
        at: new Date().toISOString(),
        hook: hook.id,
        delivery: p.payload.id,
        event: p.payload.event,
        app: p.payload.app,
        release: p.payload.release,
        attempt: p.attempts,
        status,
        httpStatus: r.httpStatus,
        error: r.error,
        durationMs: r.durationMs,
        ...(status === 'retrying' ? { nextAttemptAt: new Date(p.nextAt).toISOString() } : {}),
      });
      this.save();
    } catch (e) {
      this.log(`hooks: cannot record a delivery: ${(e as Error).message}`);
    }
    if (status === 'failed')
      this.log(`hooks: gave up delivering ${p.payload.id} to ${hook.id} after ${p.attempts} attempts: ${r.error}`);
  }

  /**
   * Lets the attempts in flight finish for up to `graceMs` (an answer on its way is recorded,
   * so the next dispatcher does not send that delivery again), then aborts the rest: they stay
   * pending and go again, as at-least-once delivery allows.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.attempts.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.attempts]),
        new Promise((r) => (timer = setTimeout(r, graceMs))),
      ]);
      clearTimeout(timer);
    }
    for (const a of this.inFlight.values()) a.abort();
  }

  pendingCount(): number {
    return this.cursor?.pending.length ?? 0;
  }
}

interface AttemptResult {
  ok: boolean;
  httpStatus: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * One POST, bounded by `timeoutMs` in total (connect, send, answer). Never throws, never follows
 * a redirect; the error names what went wrong, never the URL (it may carry a token) or a header.
 */
export function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<AttemptResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: Omit<AttemptResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      req.destroy();
      resolve({ ...r, durationMs: Date.now() - started });
    };
    const onAbort = () => finish({ ok: false, httpStatus: null, error: 'aborted' });
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(
      u,
      { method: 'POST', agent: false, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        res.resume();
        res.on('end', () => finish({ ok, httpStatus: status, error: ok ? null : `HTTP ${status}` }));
        res.on('error', () => finish({ ok: false, httpStatus: status, error: 'answer cut short' }));
      },
    );
    const timer = setTimeout(
      () => finish({ ok: false, httpStatus: null, error: `no answer within ${timeoutMs / 1000} s` }),
      timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e: NodeJS.ErrnoException) =>
      finish({ ok: false, httpStatus: null, error: e.code ?? 'request failed' }),
    );
    req.end(body);
  });
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * Runs the dispatcher in the background until the returned function is called (it resolves
 * once the lock is released). Waits for the lock while another process holds it. Errors (a
 * ledger that cannot be read, a full disk) are logged once and retried; they never end it.
 */
export function startHookDispatcher(
  ctx: Context,
  log: (line: string) => void,
  opts: DispatchOptions = {},
): () => Promise<void> {
  const o = { ...DEFAULTS, ...opts };
  const abort = new AbortController();
  const files = hookFiles(ctx.paths.root);
  let lastError = '';
  const report = (e: unknown) => {
    const msg = isBrrError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
    if (msg !== lastError) log(`hooks: ${msg}`);
    lastError = msg;
  };
  const run = async () => {
    let told = false;
    while (!abort.signal.aborted) {
      try {
        ensurePrivateDir(files.dir);
        await withFileLock(
          files.lock,
          async () => {
            const d = new Dispatcher(ctx, log, o);
            while (!abort.signal.aborted) {
              try {
                await d.poll();
                void d.kick();
                lastError = '';
              } catch (e) {
                report(e);
              }
              await sleep(o.pollMs, abort.signal);
            }
            // Still under the lock: no other dispatcher sends what these attempts are sending.
            await d.stop(o.stopGraceMs);
          },
          { timeoutMs: 0 },
        );
      } catch (e) {
        if (isBrrError(e) && e.code === 'store_locked') {
          if (!told) log('hooks: another process dispatches the webhooks of this home; waiting to take over');
          told = true;
        } else report(e);
        await sleep(o.lockRetryMs, abort.signal);
      }
    }
  };
  const running = run();
  return async () => {
    abort.abort();
    await running;
  };
}

/**
 * `brr hooks deliver`: one pass in the foreground (queue what is new, attempt what is due, wait
 * for those attempts); `ran: false` when a running dispatcher holds the lock.
 */
export async function deliverOnce(
  ctx: Context,
  log: (line: string) => void,
  opts: DispatchOptions = {},
): Promise<PassResult & { ran: boolean }> {
  const files = hookFiles(ctx.paths.root);
  ensurePrivateDir(files.dir);
  try {
    return await withFileLock(
      files.lock,
      async () => {
        const d = new Dispatcher(ctx, log, { ...DEFAULTS, ...opts });
        await d.poll();
        await d.kick();
        return { ran: true, ...d.counts, pending: d.pendingCount() };
      },
      { timeoutMs: 0 },
    );
  } catch (e) {
    if (isBrrError(e) && e.code === 'store_locked')
      return { ran: false, queued: 0, delivered: 0, retrying: 0, failed: 0, pending: 0 };
    throw e;
  }
}
