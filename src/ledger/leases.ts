import { BrrError, conflict, invalidInput } from '../core/errors.js';
import type { Lease, LeaseHolder, NewEvent } from './ledger.js';

/**
 * The lease rules both drivers apply inside their write transaction, as pure functions of the
 * stored row and the caller's clock, so SQLite and PostgreSQL cannot drift apart on what
 * "held", "expired" or "fenced" mean. The drivers only read and write the row.
 */

/** One app's lease row as both drivers store it. Holder columns are null while nobody holds it. */
export interface LeaseRow {
  app: string;
  /** Highest token ever issued for the app: survives release and break, so tokens are never reused. */
  lastToken: number;
  owner: string | null;
  host: string | null;
  pid: number | null;
  token: number | null;
  acquiredAt: string | null;
  expiresAt: string | null;
}

/** The held lease of a row (possibly expired), or null when nobody holds it. */
export function leaseOf(row: LeaseRow | null | undefined): Lease | null {
  if (!row || row.owner === null || row.token === null) return null;
  return {
    app: row.app,
    owner: row.owner,
    host: row.host ?? '',
    pid: row.pid ?? 0,
    token: row.token,
    acquiredAt: row.acquiredAt ?? '',
    expiresAt: row.expiresAt ?? '',
  };
}

/** Expired at `now`: the expiry instant itself already counts as expired. */
export function isExpired(lease: Lease, now: Date): boolean {
  return Date.parse(lease.expiresAt) <= now.getTime();
}

function checkTtl(ttlMs: number, now: Date): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1)
    throw invalidInput(
      'lease_ttl_invalid',
      `a lease needs a ttl of at least 1 ms, got ${String(ttlMs)}`,
      'e.g. 30000 for 30 s',
    );
  if (!(now instanceof Date) || Number.isNaN(now.getTime()))
    throw invalidInput(
      'lease_time_invalid',
      'the lease clock gave an invalid time',
      'this is a bug in brr; please report it',
    );
}

/** What acquiring gives: the new lease, and the unexpired lease of a gone holder it replaced (null when none). */
export interface AcquirePlan {
  lease: Lease;
  takenOver: Lease | null;
}

/**
 * The lease `holder` gets, or conflict 'lease_held' while another unexpired lease stands whose
 * holder `holderGone` does not declare gone.
 */
export function planAcquire(
  app: string,
  row: LeaseRow | null | undefined,
  holder: LeaseHolder,
  ttlMs: number,
  now: Date,
  holderGone?: (held: Lease) => boolean,
): AcquirePlan {
  checkTtl(ttlMs, now);
  if (
    typeof holder?.owner !== 'string' ||
    holder.owner === '' ||
    typeof holder.host !== 'string' ||
    !Number.isSafeInteger(holder.pid)
  ) {
    throw invalidInput(
      'lease_holder_invalid',
      'a lease holder needs an owner, a host and a pid',
      'this is a bug in brr; please report it',
    );
  }
  const held = leaseOf(row);
  const standing = held && !isExpired(held, now) ? held : null;
  const takenOver = standing && holderGone?.(standing) === true ? standing : null;
  if (standing && !takenOver) {
    throw new BrrError(
      'lease_held',
      `${app} is being deployed by ${standing.owner} (host ${standing.host}, pid ${standing.pid}) until ${standing.expiresAt}`,
      {
        hint: 'wait for that deploy to finish or its lease to expire; `brr lock --force` breaks it if the holder is gone',
        details: { lease: standing },
      },
    );
  }
  const lease: Lease = {
    app,
    owner: holder.owner,
    host: holder.host,
    pid: holder.pid,
    token: (row?.lastToken ?? 0) + 1,
    acquiredAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
  };
  return { lease, takenOver };
}

/**
 * The 'lease-taken-over' event both drivers append when a lease is taken from a gone holder:
 * names that holder (and its lease as it stood) and the new one, so the history tells why a
 * deploy did not wait out the TTL.
 */
export function takeoverEvent(plan: AcquirePlan & { takenOver: Lease }, now: Date): NewEvent {
  const { lease, takenOver } = plan;
  return {
    type: 'lease-taken-over',
    release: null,
    detail: {
      lease: takenOver,
      reason: 'holder-gone',
      takenBy: { owner: lease.owner, host: lease.host, pid: lease.pid, token: lease.token },
    },
    actor: lease.owner,
    createdAt: now.toISOString(),
  };
}

/**
 * The extended lease, or conflict 'lease_lost' when `token` is no longer the held one. A lease
 * that expired but was not taken over may still be renewed: nobody else relied on its expiry.
 */
export function planRenew(
  app: string,
  row: LeaseRow | null | undefined,
  token: number,
  ttlMs: number,
  now: Date,
): Lease {
  checkTtl(ttlMs, now);
  const held = leaseOf(row);
  if (!held || held.token !== token || row?.lastToken !== token) {
    throw conflict(
      'lease_lost',
      `the deploy lease on ${app} (token ${token}) is no longer held: it was released, broken or taken over`,
      'stop this deploy; another one may be running now (see `brr lock`)',
    );
  }
  return { ...held, expiresAt: new Date(now.getTime() + ttlMs).toISOString() };
}

/** Refuses a write fenced by a token that is not the app's latest issued one. */
export function checkFence(app: string, lastToken: number | null | undefined, fence: number | undefined): void {
  if (fence === undefined) return;
  if ((lastToken ?? 0) !== fence) {
    throw conflict(
      'lease_fenced',
      `write to ${app} refused: its deploy lease (token ${fence}) was superseded by token ${lastToken ?? 0}`,
      'this deploy lost its lease (it expired and another deploy took over, or it was broken); nothing was written',
    );
  }
}
