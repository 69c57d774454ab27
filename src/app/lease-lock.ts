import os from 'node:os';
import { isPidAlive } from '../core/pid-alive.js';
import { isExpired } from '../ledger/leases.js';
import type { Lease } from '../ledger/ledger.js';
import type { Context } from './context.js';

/** `brr lock`: what is shown about an app's deploy lease. */
export interface LockStatus {
  app: string;
  /** The lease row (possibly expired), or null when nobody holds it. */
  lease: Lease | null;
  /** True when the lease's expiry has passed (anyone may take it over). */
  expired: boolean;
  /**
   * Whether the holder's pid is alive, when it runs on this host; null when it cannot be told
   * (another host, or no lease). A hint for `--force`, not proof: pids are reused.
   */
  holderAlive: boolean | null;
}

/** Pure: the status shown for a lease at `now`. */
export function lockStatus(
  app: string,
  lease: Lease | null,
  now: Date,
  host = os.hostname(),
  alive = isPidAlive,
): LockStatus {
  if (!lease) return { app, lease: null, expired: false, holderAlive: null };
  return {
    app,
    lease,
    expired: isExpired(lease, now),
    holderAlive: lease.host === host && lease.pid > 0 ? alive(lease.pid) : null,
  };
}

/** `brr lock`: the app's deploy lease. */
export async function showLock(ctx: Context, app: string): Promise<LockStatus> {
  return lockStatus(app, await ctx.ledger.getLease(app), ctx.clock.now());
}

export interface BreakResult {
  /** The lease that was broken (as it stood), or null when there was none. */
  broken: LockStatus | null;
  /** Ledger seq of the 'lock-broken' event; null when nothing was broken. */
  eventSeq: number | null;
}

/**
 * `brr lock --force`: removes the app's lease and records who broke which lease in a
 * 'lock-broken' event. Breaking consumes a fencing token, so the broken holder (if it still
 * runs) can write nothing more to the app. Not fenced itself: it is the way out of a lease.
 * With no lease there is nothing to break and nothing is recorded.
 */
export async function breakLock(ctx: Context, app: string): Promise<BreakResult> {
  const now = ctx.clock.now();
  const lease = await ctx.ledger.breakLease(app);
  if (!lease) return { broken: null, eventSeq: null };
  const status = lockStatus(app, lease, now);
  // Break first, then record: recording first could name a lease that another deploy released
  // (or replaced) a moment later, and the ledger would then blame the wrong holder.
  const event = await ctx.ledger.appendEvent(app, {
    type: 'lock-broken',
    release: null,
    detail: {
      lease,
      expired: status.expired,
      holderAlive: status.holderAlive,
      brokenBy: { owner: ctx.actor, host: os.hostname(), pid: process.pid },
    },
    actor: ctx.actor,
    createdAt: now.toISOString(),
  });
  return { broken: status, eventSeq: event.seq };
}
