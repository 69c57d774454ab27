import os from 'node:os';
import { BrrError, isBrrError } from '../core/errors.js';
import type { Lease, LeaseHolder } from '../ledger/ledger.js';
import { parseDurationInput } from '../manifest/duration.js';
import type { Context } from './context.js';
import { trackLease } from './interrupt.js';
import { fencedLedger } from './lease-fence.js';
import { holderGone } from './lease-lock.js';

/**
 * The deploy lease: every command that writes an app's ledger (deploy, release, config
 * set/unset, rollback, run) holds the app's lease for its whole run, release phase included, so
 * two operators cannot interleave deploys of one app. The lease lives in the ledger database
 * with an expiry, so a crashed holder blocks the app for at most one TTL (Helm's "another
 * operation is in progress" forever is the failure this avoids), and with a fencing token, so a
 * holder that was presumed dead and wakes up cannot write after someone else took over. A holder
 * known dead (its pid on this host no longer runs, or was reused) does not even block for the
 * TTL: its lease is taken over at once and the takeover recorded ('lease-taken-over').
 *
 * Not fenced, on purpose: the supervisor's run-stage events (switch-started, activated, failed,
 * rolled-back, stopped) are appended from its own process (supervisor-deps record()). The lease
 * serializes *operators*; the supervisor serializes switches per app itself, and a switch it
 * was asked for must still be able to record its outcome after the asking CLI went away.
 *
 * Contended lease: fail fast by default (`lease_held`, naming the holder, since when and until
 * when), because a deploy that silently queues behind another one would then deploy on top of
 * it; `--wait DURATION` opts into waiting.
 */

/** Default lease time to live; a dead holder blocks its app at most this long. */
export const DEFAULT_LEASE_TTL_MS = 30_000;

/**
 * How long a verb (deploy, release, rollback, run, config set/unset, promote) waits for a held
 * lease by default. Operators queue behind each other (each change is planned against the
 * newest release once it gets the lease, so nothing is lost); `waitMs: 0` fails at once instead.
 */
export const DEFAULT_LEASE_WAIT_MS = 60_000;

export interface LeaseOptions {
  /** Time to live (ms); default Settings.leaseTtl (BRR_LEASE_TTL), else 30 s. Renewed every ttl/3. */
  ttlMs?: number;
  /** How long to wait for a held lease before failing with `lease_held`; default 0 (fail at once). */
  waitMs?: number;
  /** Called once when the lease is held by someone else and we start waiting for it. */
  onWait?: (held: Lease) => void;
  /** Called when the lease was taken over from a holder that is gone (recorded as 'lease-taken-over'). */
  onTakeOver?: (gone: Lease) => void;
  /** Called once the lease is held, with how long acquiring it took (the console measures lease waits with it). */
  onAcquired?: (lease: Lease, waitedMs: number) => void;
}

/** What the guarded operation gets besides the fenced context. */
export interface HeldLease {
  lease: Lease;
  /** Aborted (reason: BrrError 'lease_lost') when the lease could not be kept. */
  signal: AbortSignal;
}

/** What every verb that writes an app's ledger takes: how to wait for its lease, and where progress goes. */
export interface VerbOptions {
  /** Lease waiting; `waitMs` defaults to DEFAULT_LEASE_WAIT_MS here (withLease alone defaults to 0). */
  lease?: LeaseOptions;
  /** Detail lines: build steps, release phase output, switch progress. */
  onProgress?: (line: string) => void;
  /** One line per milestone ("built …", "released …"). */
  onStep?: (line: string) => void;
}

/**
 * Runs `fn` holding `app`'s deploy lease the way every verb does: waiting up to
 * DEFAULT_LEASE_WAIT_MS unless told otherwise.
 */
export function withDeployLease<T>(
  ctx: Context,
  app: string,
  opts: LeaseOptions | undefined,
  fn: (fenced: Context, held: HeldLease) => Promise<T>,
): Promise<T> {
  return withLease(ctx, app, fn, { ...opts, waitMs: opts?.waitMs ?? DEFAULT_LEASE_WAIT_MS });
}

/** The lease TTL from BRR_LEASE_TTL (`30s`, `2s`, `500ms`, bare seconds), else the default. */
export function leaseTtlMs(env: { BRR_LEASE_TTL?: string }): number {
  const raw = env.BRR_LEASE_TTL;
  if (raw === undefined || raw.trim() === '') return DEFAULT_LEASE_TTL_MS;
  // Below ~300 ms a renewal every ttl/3 competes with ordinary ledger writes for the file lock.
  return parseDurationInput('BRR_LEASE_TTL', raw, { minMs: 300, example: 'BRR_LEASE_TTL=30s, or unset it' });
}

/** Who this process is, as a lease holder. */
export function leaseHolder(ctx: Pick<Context, 'actor'>): LeaseHolder {
  return { owner: ctx.actor, host: os.hostname() || 'localhost', pid: process.pid };
}

/** `lease_held`, naming the holder, since when and until when, with the ways forward. */
export function leaseHeldError(app: string, held: Lease, waitedMs: number): BrrError {
  const waited = waitedMs > 0 ? ` (waited ${Math.round(waitedMs / 1000)} s)` : '';
  return new BrrError(
    'lease_held',
    `${app} is being deployed by ${held.owner} (host ${held.host}, pid ${held.pid}) since ${held.acquiredAt}; its lease expires at ${held.expiresAt}${waited}`,
    {
      hint: `wait for that deploy to finish (or pass --wait 2m); a holder that died on this host is taken over at once, one on another host lapses at ${held.expiresAt}, or break it now with \`brr lock --force --app ${app}\``,
      details: { lease: held },
    },
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Acquires the lease, polling while another holder has it, until `waitMs` has passed. */
async function acquire(ctx: Context, app: string, ttlMs: number, opts: LeaseOptions): Promise<Lease> {
  const start = Date.now();
  const waitMs = opts.waitMs ?? 0;
  let told = false;
  for (;;) {
    try {
      // A holder that died on this host (SIGKILL, a crash) never releases: take its lease at once.
      const lease = await ctx.ledger.acquireLease(app, leaseHolder(ctx), ttlMs, ctx.clock.now(), {
        holderGone: (held) => holderGone(held),
      });
      if (lease.takenOver) opts.onTakeOver?.(lease.takenOver.lease);
      opts.onAcquired?.(lease, Date.now() - start);
      return lease;
    } catch (e) {
      if (!isBrrError(e) || e.code !== 'lease_held') throw e;
      const held = (e.details?.lease ?? null) as Lease | null;
      const waited = Date.now() - start;
      if (!held || waited >= waitMs) throw held ? leaseHeldError(app, held, waited) : e;
      if (!told) opts.onWait?.(held);
      told = true;
      await sleep(Math.min(1_000, Math.max(50, ttlMs / 10), waitMs - waited));
    }
  }
}

/**
 * Keeps the lease alive every ttl/3 until stopped. A renewal refused with `lease_lost` (broken
 * or taken over) aborts at once; other failures (a busy ledger) are retried until the lease's
 * own expiry has passed, since up to then nobody else can have taken it.
 */
function keepAlive(ctx: Context, first: Lease, ttlMs: number, abort: (e: BrrError) => void): () => void {
  let current = first;
  let busy = false;
  const timer = setInterval(
    () => {
      if (busy) return;
      busy = true;
      ctx.ledger
        .renewLease(first.app, first.token, ttlMs, ctx.clock.now())
        .then((l) => {
          current = l;
        })
        .catch((e: unknown) => {
          if (isBrrError(e) && e.code === 'lease_lost') return abort(e);
          if (Date.parse(current.expiresAt) <= ctx.clock.now().getTime()) {
            abort(
              new BrrError(
                'lease_lost',
                `the deploy lease on ${first.app} (token ${first.token}) expired: it could not be renewed (${e instanceof Error ? e.message : String(e)})`,
                {
                  hint: 'stop this deploy; another one may be running now (see `brr lock`)',
                  cause: e,
                },
              ),
            );
          }
        })
        .finally(() => {
          busy = false;
        });
    },
    Math.max(50, Math.floor(ttlMs / 3)),
  );
  // Never keep the process alive for the lease alone.
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Runs `fn` while holding `app`'s deploy lease. `fn` gets a Context whose ledger fences every
 * append to `app` with the lease token (so use-cases need no change) and a signal that aborts
 * when the lease is lost; withLease then fails with 'lease_lost' without waiting for `fn`
 * (whose further writes to `app` are refused by the fence anyway). The lease is released after
 * `fn`, also when it throws; a release that fails is left to expire.
 */
export async function withLease<T>(
  ctx: Context,
  app: string,
  fn: (fenced: Context, held: HeldLease) => Promise<T>,
  opts: LeaseOptions = {},
): Promise<T> {
  const ttlMs = opts.ttlMs ?? leaseTtlMs({ BRR_LEASE_TTL: ctx.settings.leaseTtl });
  const lease = await acquire(ctx, app, ttlMs, opts);
  const ac = new AbortController();
  const lost = new Promise<never>((_, reject) =>
    ac.signal.addEventListener('abort', () => reject(ac.signal.reason as Error), { once: true }),
  );
  lost.catch(() => {});
  const stop = keepAlive(ctx, lease, ttlMs, (e) => ac.abort(e));
  // Ctrl-C or SIGTERM releases it too (see interrupt.ts), so nobody waits out the TTL.
  const untrack = trackLease(app, () => ctx.ledger.releaseLease(app, lease.token));
  const fenced: Context = { ...ctx, ledger: fencedLedger(ctx.ledger, app, lease.token, ac.signal) };
  try {
    return await Promise.race([fn(fenced, { lease, signal: ac.signal }), lost]);
  } finally {
    untrack();
    stop();
    await ctx.ledger.releaseLease(app, lease.token).catch(() => {});
  }
}
