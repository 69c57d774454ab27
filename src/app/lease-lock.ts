/**
 * `brr lock` (show and break an app's deploy lease) and the one judgement of whether a lease's
 * holder still runs, shared by `brr lock` and by acquiring (a gone holder's lease is taken over
 * at once instead of after its TTL).
 */
import os from 'node:os';
import { pidRunsSince } from '../core/pid-owner.js';
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
   * Whether the holder still runs, when it ran on this host (its pid is alive and started before
   * the lease was acquired, so a reused pid does not count); null when it cannot be told
   * (another host, or no lease).
   */
  holderAlive: boolean | null;
}

/**
 * Whether the holder of `lease` (a process on this host) still runs: its pid is alive and
 * started before the lease was acquired (a reused pid is not the holder).
 */
export function holderRuns(lease: Lease): boolean {
  return pidRunsSince(lease.pid, Date.parse(lease.acquiredAt));
}

/**
 * True when `lease`'s holder is known to be gone: it ran on this host and its process no longer
 * runs (see holderRuns). A holder on another host is never judged from here.
 */
export function holderGone(lease: Lease, host = os.hostname()): boolean {
  return lease.host === host && lease.pid > 0 && !holderRuns(lease);
}

/** Pure: the status shown for a lease at `now`; `alive` tells whether a holder on this host runs. */
export function lockStatus(
  app: string,
  lease: Lease | null,
  now: Date,
  host = os.hostname(),
  alive: (lease: Lease) => boolean = holderRuns,
): LockStatus {
  if (!lease) return { app, lease: null, expired: false, holderAlive: null };
  return {
    app,
    lease,
    expired: isExpired(lease, now),
    holderAlive: lease.host === host && lease.pid > 0 ? alive(lease) : null,
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
