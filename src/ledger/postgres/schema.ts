import type pg from 'pg';
import { BrrError } from '../../core/errors.js';
import { APPEND_ONLY_SQLSTATE } from './errors.js';

/**
 * The PostgreSQL ledger's schema, mirroring SQLite's: the hashed text is stored as TEXT exactly as
 * hashed (never jsonb, which re-orders keys and would change the bytes), UNIQUE (app, seq), and
 * the database itself refuses UPDATE, DELETE and TRUNCATE on history. `leases` is the one
 * mutable table. `brr_schema` holds how many migrations ran; append to MIGRATIONS, never edit.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE releases (
    app TEXT NOT NULL,
    seq INTEGER NOT NULL CHECK (seq >= 1),
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    hash TEXT NOT NULL,
    prev_hash TEXT,
    PRIMARY KEY (app, seq),
    UNIQUE (app, id)
  );
  CREATE TABLE events (
    app TEXT NOT NULL,
    seq INTEGER NOT NULL CHECK (seq >= 1),
    type TEXT NOT NULL,
    release TEXT,
    body TEXT NOT NULL,
    hash TEXT NOT NULL,
    prev_hash TEXT,
    PRIMARY KEY (app, seq)
  );
  -- The first release folds 'config-staged' events; keeps that read small on busy apps.
  CREATE INDEX events_by_type ON events (app, type, seq);
  CREATE FUNCTION brr_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    RAISE EXCEPTION 'brr ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
      USING ERRCODE = '${APPEND_ONLY_SQLSTATE}', HINT = 'record a new release or event instead';
  END $$;
  CREATE TRIGGER releases_append_only BEFORE UPDATE OR DELETE ON releases FOR EACH ROW EXECUTE FUNCTION brr_append_only();
  CREATE TRIGGER releases_no_truncate BEFORE TRUNCATE ON releases FOR EACH STATEMENT EXECUTE FUNCTION brr_append_only();
  CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION brr_append_only();
  CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events FOR EACH STATEMENT EXECUTE FUNCTION brr_append_only();
  -- Deploy leases: holder columns NULL while free; last_token survives release and break.
  CREATE TABLE leases (
    app TEXT PRIMARY KEY,
    last_token INTEGER NOT NULL CHECK (last_token >= 0),
    owner TEXT,
    host TEXT,
    pid INTEGER,
    token INTEGER,
    acquired_at TEXT,
    expires_at TEXT
  );
  `,
  // 3: events by the release they name, so "did vN ever run" (lastEventOf with a release) reads
  // one index entry instead of every event of that type.
  `
  CREATE INDEX events_by_release ON events (app, release, type, seq);
  `,
];

export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** Key of the advisory lock migrations run under ('brr_sch'); the per-app locks use the two-int key space, which never overlaps. */
const SCHEMA_LOCK = '27981745346651240';

/**
 * Brings the database to PG_SCHEMA_VERSION. Several brr processes may open a new database at
 * once: the migration runs in one transaction under an advisory lock, re-reading the version
 * inside it, so exactly one of them migrates and the others see the result.
 */
export async function migratePostgres(client: pg.PoolClient, where: string): Promise<void> {
  const current = await readVersion(client);
  if (current === PG_SCHEMA_VERSION) return;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCHEMA_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS brr_schema (one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL)',
    );
    const res = await client.query<{ version: number }>('SELECT version FROM brr_schema WHERE one = 1');
    const from = res.rows[0]?.version ?? 0;
    if (from > PG_SCHEMA_VERSION) {
      throw new BrrError(
        'ledger_too_new',
        `the ledger ${where} has schema version ${from}; this brr knows up to ${PG_SCHEMA_VERSION}`,
        { hint: 'upgrade brr; a newer brr wrote this ledger' },
      );
    }
    for (let v = from; v < PG_SCHEMA_VERSION; v++) await client.query(MIGRATIONS[v] as string);
    await client.query(
      'INSERT INTO brr_schema (one, version) VALUES (1, $1) ON CONFLICT (one) DO UPDATE SET version = excluded.version',
      [PG_SCHEMA_VERSION],
    );
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** The applied version without taking any lock, or null when the schema table does not exist yet. */
async function readVersion(client: pg.PoolClient): Promise<number | null> {
  const exists = await client.query<{ t: string | null }>("SELECT to_regclass('brr_schema')::text AS t");
  if (!exists.rows[0]?.t) return null;
  const res = await client.query<{ version: number }>('SELECT version FROM brr_schema WHERE one = 1');
  return res.rows[0]?.version ?? null;
}
