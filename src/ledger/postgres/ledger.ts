import pg from 'pg';
import { invalidInput } from '../../core/errors.js';
import type { Config, LedgerEvent, Release } from '../../core/types.js';
import type {
  AcquireOptions,
  AcquiredLease,
  AppendOptions,
  EventFilter,
  Lease,
  LeaseHolder,
  Ledger,
  ListReleasesOptions,
  NewEvent,
  ReleaseDraft,
  StoredEntry,
  VerifyResult,
} from '../ledger.js';
import { checkFence, leaseOf, planAcquire, planRenew, takeoverEvent, type LeaseRow } from '../leases.js';
import { Mutex } from '../mutex.js';
import { importChains, readChainPage, verifyChains } from './chains.js';
import { PgSession, type PgOpenOptions } from './session.js';
import {
  checkListOptions,
  checkApp,
  checkEventType,
  eventFromText,
  releaseFromText,
  sealEvent,
  sealRelease,
} from '../seal.js';
import { stagedConfig } from '../../release/state.js';

type Client = pg.PoolClient;
const LEASE_COLS =
  'app, last_token AS "lastToken", owner, host, pid, token, acquired_at AS "acquiredAt", expires_at AS "expiresAt"';

/**
 * A team's shared ledger in PostgreSQL. Every write of an app runs in a transaction that first
 * takes a per-app advisory lock, so writers on any host are serialized per app and a draft sees
 * the true latest release; UNIQUE (app, seq) backs that up. Reads run on other pooled
 * connections and never wait. Within one process, writes also queue on a mutex: a draft may
 * read the ledger, and it must find a free connection rather than writers parked on the lock.
 */
export class PostgresLedger implements Ledger {
  private readonly mutex = new Mutex();
  private closed = false;

  private constructor(private readonly db: PgSession) {}

  /** Connects, checks the credentials and migrates the schema. */
  static async open(url: string, opts: PgOpenOptions = {}): Promise<PostgresLedger> {
    return new PostgresLedger(await PgSession.open(url, opts));
  }

  /** The URL with its password redacted: safe to print. */
  get where(): string {
    return this.db.where;
  }

  async appendRelease(
    app: string,
    draft: (latest: Release | null, staged: Config) => ReleaseDraft | Promise<ReleaseDraft>,
    opts: AppendOptions = {},
  ): Promise<Release> {
    checkApp(app);
    return this.write(app, async (c) => {
      await this.checkFence(c, app, opts);
      const latest = await this.latest(c, app);
      const staged = stagedConfig(
        (
          await this.db.q(c, "SELECT body, hash FROM events WHERE app = $1 AND type = 'config-staged' ORDER BY seq", [
            app,
          ])
        ).rows.map(toEvent),
      );
      // The app's lock is held across this await: that is what makes the plan race-free.
      const sealed = sealRelease(app, latest, await draft(latest, staged));
      const { seq, id, prevHash } = sealed.body;
      await this.db.q(c, 'INSERT INTO releases (app, seq, id, body, hash, prev_hash) VALUES ($1, $2, $3, $4, $5, $6)', [
        app,
        seq,
        id,
        sealed.text,
        sealed.hash,
        prevHash,
      ]);
      return releaseFromText(sealed.text, sealed.hash);
    });
  }

  async appendEvent(app: string, event: NewEvent, opts: AppendOptions = {}): Promise<LedgerEvent> {
    checkApp(app);
    checkEventType(event.type);
    return this.write(app, async (c) => {
      await this.checkFence(c, app, opts);
      return this.insertEvent(c, app, event);
    });
  }

  /** Seals and inserts one event; the caller holds the app's write transaction. */
  private async insertEvent(c: Client, app: string, event: NewEvent): Promise<LedgerEvent> {
    const latest = (await this.db.q(c, 'SELECT seq, hash FROM events WHERE app = $1 ORDER BY seq DESC LIMIT 1', [app]))
      .rows[0] as { seq: number; hash: string } | undefined;
    const sealed = sealEvent(app, latest ?? null, event);
    const b = sealed.body;
    await this.db.q(
      c,
      'INSERT INTO events (app, seq, type, release, body, hash, prev_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [app, b.seq, b.type, b.release, sealed.text, sealed.hash, b.prevHash],
    );
    return eventFromText(sealed.text, sealed.hash);
  }

  async acquireLease(
    app: string,
    holder: LeaseHolder,
    ttlMs: number,
    now: Date,
    opts: AcquireOptions = {},
  ): Promise<AcquiredLease> {
    checkApp(app);
    return this.write(app, async (c) => {
      const plan = planAcquire(app, await this.leaseRow(c, app), holder, ttlMs, now, opts.holderGone);
      await this.putLease(c, { ...plan.lease, lastToken: plan.lease.token });
      if (!plan.takenOver) return plan.lease;
      const event = await this.insertEvent(c, app, takeoverEvent({ ...plan, takenOver: plan.takenOver }, now));
      return { ...plan.lease, takenOver: { lease: plan.takenOver, eventSeq: event.seq } };
    });
  }

  async renewLease(app: string, token: number, ttlMs: number, now: Date): Promise<Lease> {
    checkApp(app);
    return this.write(app, async (c) => {
      const lease = planRenew(app, await this.leaseRow(c, app), token, ttlMs, now);
      await this.putLease(c, { ...lease, lastToken: lease.token });
      return lease;
    });
  }

  async releaseLease(app: string, token: number): Promise<void> {
    checkApp(app);
    await this.write(app, async (c) => {
      const row = await this.leaseRow(c, app);
      if (row && leaseOf(row)?.token === token) await this.putLease(c, vacant(app, row.lastToken));
    });
  }

  async getLease(app: string): Promise<Lease | null> {
    return this.db.read(async (c) => leaseOf(await this.leaseRow(c, app)));
  }

  async breakLease(app: string): Promise<Lease | null> {
    checkApp(app);
    return this.write(app, async (c) => {
      const row = await this.leaseRow(c, app);
      if (!row) return null;
      // Consumes a token, so the broken holder's fence fails now (see LeaseStore.breakLease).
      await this.putLease(c, vacant(app, row.lastToken + 1));
      return leaseOf(row);
    });
  }

  async listReleases(app: string, opts: ListReleasesOptions = {}): Promise<Release[]> {
    const { limit, beforeSeq } = checkListOptions(opts);
    return this.db.read(async (c) => {
      // Two texts rather than one with an "IS NULL OR" test, so the planner always sees a plain
      // range on the (app, seq) primary key.
      const res = await this.db.q(c, {
        text:
          beforeSeq === undefined
            ? 'SELECT body, hash FROM releases WHERE app = $1 ORDER BY seq DESC LIMIT $2'
            : 'SELECT body, hash FROM releases WHERE app = $1 AND seq < $3 ORDER BY seq DESC LIMIT $2',
        values: beforeSeq === undefined ? [app, limit ?? null] : [app, limit ?? null, beforeSeq],
        rowMode: 'array',
      });
      return (res.rows as unknown as [string, string][]).map(([body, hash]) => releaseFromText(body, hash));
    });
  }

  async getRelease(app: string, id: string): Promise<Release | null> {
    return this.db.read(async (c) => {
      const row = (await this.db.q(c, 'SELECT body, hash FROM releases WHERE app = $1 AND id = $2', [app, id]))
        .rows[0] as { body: string; hash: string } | undefined;
      return row ? releaseFromText(row.body, row.hash) : null;
    });
  }

  async latestRelease(app: string): Promise<Release | null> {
    return this.db.read((c) => this.latest(c, app));
  }

  async listEvents(app: string): Promise<LedgerEvent[]> {
    return this.db.read(async (c) =>
      (await this.db.q(c, 'SELECT body, hash FROM events WHERE app = $1 ORDER BY seq', [app])).rows.map(toEvent),
    );
  }

  async lastEventOf(app: string, types: readonly string[], filter: EventFilter = {}): Promise<LedgerEvent | null> {
    if (types.length === 0) return null;
    const distinct = [...new Set(types)];
    const params: string[] = [app, ...distinct];
    let extra = '';
    if (filter.release !== undefined) {
      params.push(filter.release);
      extra = ` AND release = $${params.length}`;
    } else if (filter.notRelease === null) {
      extra = ' AND release IS NOT NULL';
    } else if (filter.notRelease !== undefined) {
      params.push(filter.notRelease);
      extra = ` AND release IS NOT NULL AND release <> $${params.length}`;
    }
    // One index probe per type, newest first, the newest of them kept.
    const sql = `SELECT body, hash FROM (${distinct
      .map(
        (_, i) =>
          `(SELECT seq, body, hash FROM events WHERE app = $1 AND type = $${i + 2}${extra} ORDER BY seq DESC LIMIT 1)`,
      )
      .join(' UNION ALL ')}) last ORDER BY seq DESC LIMIT 1`;
    return this.db.read(async (c) => {
      const [row] = (await this.db.q(c, sql, params)).rows;
      return row ? toEvent(row) : null;
    });
  }

  async listEventsOf(app: string, types: readonly string[], release?: string): Promise<LedgerEvent[]> {
    if (types.length === 0) return [];
    const params: unknown[] = [app, [...new Set(types)]];
    let sql = 'SELECT body, hash FROM events WHERE app = $1 AND type = ANY($2)';
    if (release !== undefined) {
      params.push(release);
      sql += ' AND release = $3';
    }
    return this.db.read(async (c) => (await this.db.q(c, `${sql} ORDER BY seq`, params)).rows.map(toEvent));
  }

  async listApps(): Promise<string[]> {
    // COLLATE "C": code-point order whatever the database's locale, as SQLite's BINARY sorts.
    // Each app found by one probe of the (app, seq) index past the previous one (a skip scan),
    // so listing apps does not read every row of a long history.
    const sql = `WITH RECURSIVE
      r(app) AS (SELECT MIN(app) FROM releases
        UNION ALL SELECT (SELECT MIN(app) FROM releases WHERE app > r.app) FROM r WHERE r.app IS NOT NULL),
      e(app) AS (SELECT MIN(app) FROM events
        UNION ALL SELECT (SELECT MIN(app) FROM events WHERE app > e.app) FROM e WHERE e.app IS NOT NULL)
      SELECT app FROM (SELECT app FROM r UNION SELECT app FROM e) apps WHERE app IS NOT NULL ORDER BY app COLLATE "C"`;
    return this.db.read(async (c) => (await this.db.q(c, sql)).rows.map((r: { app: string }) => r.app));
  }

  async verify(app?: string): Promise<VerifyResult> {
    return verifyChains(this.db, app);
  }

  async readEntries(app: string, kind: StoredEntry['kind'], afterSeq: number, limit: number): Promise<StoredEntry[]> {
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw invalidInput('limit_invalid', `limit must be a whole number ≥ 1, got ${String(limit)}`, 'e.g. 1000');
    return readChainPage(this.db, kind, app, afterSeq, limit);
  }

  async importEntries(entries: readonly StoredEntry[]): Promise<void> {
    for (const app of new Set(entries.map((e) => e.app))) checkApp(app);
    await this.mutex.run(() => importChains(this.db, entries));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.mutex.drain();
    await this.db.close();
  }

  /** A write transaction holding `app`'s lock, queued behind this process's other writers. */
  private write<T>(app: string, fn: (c: Client) => Promise<T>): Promise<T> {
    return this.mutex.run(() => this.db.transaction(app, fn));
  }

  private async latest(c: Client, app: string): Promise<Release | null> {
    const row = (await this.db.q(c, 'SELECT body, hash FROM releases WHERE app = $1 ORDER BY seq DESC LIMIT 1', [app]))
      .rows[0] as { body: string; hash: string } | undefined;
    return row ? releaseFromText(row.body, row.hash) : null;
  }

  private async leaseRow(c: Client, app: string): Promise<LeaseRow | undefined> {
    return (await this.db.q(c, `SELECT ${LEASE_COLS} FROM leases WHERE app = $1`, [app])).rows[0] as
      LeaseRow | undefined;
  }

  private async putLease(c: Client, l: LeaseRow): Promise<void> {
    await this.db.q(
      c,
      `INSERT INTO leases (app, last_token, owner, host, pid, token, acquired_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (app) DO UPDATE SET last_token = excluded.last_token, owner = excluded.owner, host = excluded.host, pid = excluded.pid,
         token = excluded.token, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
      [l.app, l.lastToken, l.owner, l.host, l.pid, l.token, l.acquiredAt, l.expiresAt],
    );
  }

  private async checkFence(c: Client, app: string, opts: AppendOptions): Promise<void> {
    if (opts.fence !== undefined) checkFence(app, (await this.leaseRow(c, app))?.lastToken, opts.fence);
  }
}

/** Opens the PostgreSQL ledger at `url` (postgres://…): connects, authenticates, migrates. */
export function openPostgresLedger(url: string, opts: PgOpenOptions = {}): Promise<PostgresLedger> {
  return PostgresLedger.open(url, opts);
}

export type { PgOpenOptions } from './session.js';

function vacant(app: string, lastToken: number): LeaseRow {
  return { app, lastToken, owner: null, host: null, pid: null, token: null, acquiredAt: null, expiresAt: null };
}

function toEvent(row: { body: string; hash: string }): LedgerEvent {
  return eventFromText(row.body, row.hash);
}
