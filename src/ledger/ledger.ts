import type { Config, LedgerEvent, NewEvent, Release, ReleaseDraft } from '../core/types.js';
import type { StoredEntry, VerifyResult } from './verify-chain.js';

export type { NewEvent, ReleaseDraft } from '../core/types.js';
export type { StoredEntry, VerifyProblem, VerifyResult } from './verify-chain.js';

/**
 * The append-only ledger. The SQLite and PostgreSQL drivers implement exactly this and pass
 * one shared contract test. Nothing here updates or deletes; the database enforces that too.
 */
export interface Ledger extends LeaseStore {
  /**
   * Appends a release to `app`. `draft` runs inside the write transaction with the app's latest
   * release (null before the first) and the staged config, so concurrent writers never lose an
   * update or duplicate an id; seq, id, prevHash and hash are assigned by the ledger.
   * With `opts.fence`, the append is refused (conflict 'lease_fenced') unless it is the app's latest lease token.
   */
  appendRelease(
    app: string,
    draft: (latest: Release | null, staged: Config) => ReleaseDraft | Promise<ReleaseDraft>,
    opts?: AppendOptions,
  ): Promise<Release>;
  appendEvent(app: string, event: NewEvent, opts?: AppendOptions): Promise<LedgerEvent>;
  /**
   * Releases of an app, newest first; `limit` caps the count and `beforeSeq` keeps only releases
   * with seq < beforeSeq (a page of a long history, read through the (app, seq) index).
   */
  listReleases(app: string, opts?: ListReleasesOptions): Promise<Release[]>;
  getRelease(app: string, id: string): Promise<Release | null>;
  latestRelease(app: string): Promise<Release | null>;
  /** Events of an app, oldest first. */
  listEvents(app: string): Promise<LedgerEvent[]>;
  /**
   * The newest event of `app` whose type is one of `types` (and that names `filter.release`, or
   * names a release other than `filter.notRelease`), or null: read newest first on the
   * (app, type, seq) and (app, release, type, seq) indexes, so what a fold of those types alone
   * decides (the current release, the target, whether a release ever ran, the last release that
   * served before another) does not read the whole history.
   */
  lastEventOf(app: string, types: readonly string[], filter?: EventFilter): Promise<LedgerEvent | null>;
  /**
   * Every event of `app` whose type is one of `types` (naming `release`, when given), oldest
   * first, on the same indexes: trust changes, one release's signatures.
   */
  listEventsOf(app: string, types: readonly string[], release?: string): Promise<LedgerEvent[]>;
  /** Apps with at least one release or event, sorted. */
  listApps(): Promise<string[]>;
  /**
   * Recomputes every hash and link, and checks that the database still refuses UPDATE and DELETE
   * on history: a missing or disabled append-only trigger is a problem (kind 'schema', app
   * '(ledger)') whatever `app` is, since it lets any chain be rewritten unnoticed.
   */
  verify(app?: string): Promise<VerifyResult>;
  /**
   * Stored rows exactly as kept (the hashed body text, not a re-encoding), `kind` chain of `app`,
   * seq > afterSeq, oldest first, at most `limit`: export pages through a history of any size.
   */
  readEntries(app: string, kind: StoredEntry['kind'], afterSeq: number, limit: number): Promise<StoredEntry[]>;
  /**
   * Inserts already verified rows verbatim (import), all in one transaction. Every app they
   * belong to must have no release and no event yet, else conflict 'ledger_import_not_empty'
   * and nothing is written. The caller verifies the chains first (see ledger-export.ts).
   */
  importEntries(entries: readonly StoredEntry[]): Promise<void>;
  close(): Promise<void>;
}

/** Which events Ledger.lastEventOf considers, beyond their type. */
export interface EventFilter {
  /** Only events naming this release. */
  release?: string;
  /** Only events naming a release, other than this one (null: any release). */
  notRelease?: string | null;
}

/** Paging of Ledger.listReleases. */
export interface ListReleasesOptions {
  limit?: number;
  /** Only releases older than this seq (exclusive); a whole number ≥ 1. */
  beforeSeq?: number;
}

/** Who holds a deploy lease. */
export interface LeaseHolder {
  owner: string; // actor, e.g. alice@host
  host: string;
  pid: number;
}

/**
 * A deploy lease on one app (kept in the ledger database, but not ledger history: it is the one
 * mutable row). `token` is a fencing token: it grows with every acquisition and is never reused,
 * so a holder that was presumed dead and wakes up late cannot write with its old token.
 */
export interface Lease extends LeaseHolder {
  app: string;
  token: number;
  acquiredAt: string;
  expiresAt: string;
}

/** What `acquireLease` may do besides acquiring a free or expired lease. */
export interface AcquireOptions {
  /**
   * Asked (inside the write transaction) about an unexpired lease held by someone else: true
   * when its holder is known to be gone (a dead pid on this host). The lease is then taken over
   * at once instead of after its TTL, and a 'lease-taken-over' event naming the gone holder is
   * appended to the app's history in the same transaction.
   */
  holderGone?: (held: Lease) => boolean;
}

/** An acquired lease; `takenOver` is set when it was taken from a gone holder (see AcquireOptions). */
export interface AcquiredLease extends Lease {
  takenOver?: { lease: Lease; eventSeq: number };
}

/** Optional fencing for appends: the write is refused (conflict 'lease_fenced') unless `fence` is the app's latest lease token. */
export interface AppendOptions {
  fence?: number;
}

/**
 * Lease operations every driver implements (SQLite and PostgreSQL, same contract test).
 * - acquireLease: succeeds when no lease is held, the held one expired (at `now`), or `opts.holderGone` says its holder is gone
 *   (then recorded as a 'lease-taken-over' event, atomically); else conflict 'lease_held' (details.lease = the holder).
 * - renewLease: extends the lease if `token` is still the current one and not taken over; else conflict 'lease_lost'.
 * - releaseLease: gives it up (no-op when `token` is no longer current).
 * - getLease: the current lease row (possibly expired), or null.
 * - breakLease: removes whatever lease is held (the caller records a 'lock-broken' event) and returns it; the token counter keeps
 *   growing: breaking consumes a token, so the broken holder's fence is refused at once, not only after the next acquire.
 */
export interface LeaseStore {
  acquireLease(
    app: string,
    holder: LeaseHolder,
    ttlMs: number,
    now: Date,
    opts?: AcquireOptions,
  ): Promise<AcquiredLease>;
  renewLease(app: string, token: number, ttlMs: number, now: Date): Promise<Lease>;
  releaseLease(app: string, token: number): Promise<void>;
  getLease(app: string): Promise<Lease | null>;
  breakLease(app: string): Promise<Lease | null>;
}
