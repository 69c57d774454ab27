import pg from 'pg';
import { BrrError, invalidInput } from '../../core/errors.js';
import { clientFailure, redactUrl, urlSecrets } from './errors.js';
import { migratePostgres } from './schema.js';

/**
 * The connection side of the PostgreSQL ledger: the pool, transactions and the per-app lock,
 * and the boundary where every `pg` failure becomes a brr error with the password scrubbed.
 * Only calls into pg are translated; a draft's own errors pass through as they are.
 */

export interface PgOpenOptions {
  /** How long a writer waits for another writer's lock on the same app (ms). Default 30 s. */
  busyTimeoutMs?: number;
  /** Pooled connections. Default 4: one writer, reads beside it (also from inside a draft). */
  poolSize?: number;
}

/** Class id of the per-app advisory locks ('brr' + 0): with hashtext(app) as the second key. */
const APP_LOCK_CLASS = 0x62727200;

type Client = pg.PoolClient;

export class PgSession {
  readonly where: string;
  private readonly secrets: string[];
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    url: string,
    private readonly busyTimeoutMs: number,
  ) {
    this.where = redactUrl(url);
    this.secrets = urlSecrets(url);
  }

  static async open(url: string, opts: PgOpenOptions = {}): Promise<PgSession> {
    if (!/^postgres(ql)?:\/\//.test(url) || !URL.canParse(url)) {
      // redactUrl shows no more than the scheme of a URL it cannot parse, so no password leaks here.
      throw invalidInput(
        'ledger_url_invalid',
        `not a valid PostgreSQL URL: ${redactUrl(url)}`,
        'use postgres://USER:PASSWORD@HOST:PORT/DATABASE (percent-encode special characters in the password)',
      );
    }
    const pool = new pg.Pool({
      connectionString: url,
      max: opts.poolSize ?? 4,
      connectionTimeoutMillis: 15_000,
      application_name: 'brr',
    });
    // An idle connection dropped by the server emits 'error' on the pool; unhandled, that would
    // kill the process. The next query on a fresh connection reports the problem properly.
    pool.on('error', () => undefined);
    const session = new PgSession(pool, url, opts.busyTimeoutMs ?? 30_000);
    try {
      await session.read((c) => session.guard(() => migratePostgres(c, session.where)));
      return session;
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
  }

  /** One query, its failure translated. */
  async q(
    c: Client,
    query: string | pg.QueryConfig | pg.QueryArrayConfig,
    values?: unknown[],
  ): Promise<pg.QueryResult> {
    // rowMode 'array' only changes the row shape, so one result type serves both overloads.
    return this.guard(() => (typeof query === 'string' ? c.query(query, values) : c.query(query as pg.QueryConfig)));
  }

  /** Runs `fn` on a pooled connection outside any explicit transaction. */
  async read<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const c = await this.connect();
    try {
      return await fn(c);
    } finally {
      c.release();
    }
  }

  /**
   * A READ COMMITTED transaction that first takes `app`'s advisory lock (released at COMMIT or
   * ROLLBACK, also when the connection dies). Taken before any read, so every read in `fn` sees
   * each earlier writer's commit. lock_timeout turns an endless wait into 55P03 (ledger_busy).
   */
  async transaction<T>(app: string, fn: (c: Client) => Promise<T>): Promise<T> {
    return this.transactionFor([app], fn);
  }

  /** A read-only transaction on one snapshot (verify, export). */
  async snapshot<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    return this.inTransaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', fn);
  }

  /** A write transaction that locks every given app, in a fixed order so two importers cannot deadlock. */
  async transactionFor<T>(apps: string[], fn: (c: Client) => Promise<T>): Promise<T> {
    // One simple-protocol round trip for BEGIN, the timeout and the locks (an append is a handful
    // of round trips in all, so this is a measurable share); the app names go in as escaped literals.
    const locks = [...new Set(apps)]
      .sort()
      .map((app) => `SELECT pg_advisory_xact_lock(${APP_LOCK_CLASS}, hashtext(${pg.escapeLiteral(app)}));`);
    return this.inTransaction(
      `BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.floor(this.busyTimeoutMs))}; ${locks.join(' ')}`,
      fn,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }

  private connect(): Promise<Client> {
    if (this.closed)
      return Promise.reject(
        new BrrError('ledger_closed', 'the ledger was already closed', {
          hint: 'this is a bug in brr; please report it',
        }),
      );
    return this.guard(() => this.pool.connect());
  }

  private async inTransaction<T>(begin: string, fn: (c: Client) => Promise<T>): Promise<T> {
    const c = await this.connect();
    let broken: Error | undefined;
    try {
      await this.q(c, begin);
      const result = await fn(c);
      await this.q(c, 'COMMIT');
      return result;
    } catch (e) {
      // A failed ROLLBACK means the connection is gone; it must not go back into the pool.
      await c.query('ROLLBACK').catch((re: unknown) => {
        broken = re instanceof Error ? re : new Error(String(re));
      });
      throw e;
    } finally {
      c.release(broken);
    }
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw e instanceof BrrError ? e : clientFailure(e, this.where, this.secrets);
    }
  }
}
