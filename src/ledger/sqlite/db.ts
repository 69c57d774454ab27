import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BrrError, conflict } from '../../core/errors.js';

/**
 * Opening the SQLite ledger file: permissions, pragmas, schema migrations, and the one place
 * SQLite's errors become brr's. Kept apart from the Ledger methods so the driver file reads as
 * "what the ledger does", this one as "how the file is kept".
 */

/** Every migration, in order; `PRAGMA user_version` = how many have been applied. Append only. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE releases (
    app TEXT NOT NULL,
    seq INTEGER NOT NULL CHECK (seq >= 1),
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    hash TEXT NOT NULL,
    prev_hash TEXT,
    UNIQUE (app, seq),
    UNIQUE (app, id)
  ) STRICT;
  CREATE TABLE events (
    app TEXT NOT NULL,
    seq INTEGER NOT NULL CHECK (seq >= 1),
    type TEXT NOT NULL,
    release TEXT,
    body TEXT NOT NULL,
    hash TEXT NOT NULL,
    prev_hash TEXT,
    UNIQUE (app, seq)
  ) STRICT;
  -- The first release folds 'config-staged' events; this keeps that read small however many
  -- run-stage events an app accumulates.
  CREATE INDEX events_by_type ON events (app, type, seq);
  CREATE TRIGGER releases_no_update BEFORE UPDATE ON releases
    BEGIN SELECT RAISE(ABORT, 'brr ledger is append-only: releases cannot be updated'); END;
  CREATE TRIGGER releases_no_delete BEFORE DELETE ON releases
    BEGIN SELECT RAISE(ABORT, 'brr ledger is append-only: releases cannot be deleted'); END;
  CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'brr ledger is append-only: events cannot be updated'); END;
  CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'brr ledger is append-only: events cannot be deleted'); END;
  `,
  // 2: deploy leases. The one mutable table, so no append-only triggers: a row per app that ever
  // had a lease; the holder columns are NULL while nobody holds it, and last_token (the highest
  // fencing token issued) stays, so tokens are never reused after a release or a break.
  `
  CREATE TABLE leases (
    app TEXT PRIMARY KEY,
    last_token INTEGER NOT NULL CHECK (last_token >= 0),
    owner TEXT,
    host TEXT,
    pid INTEGER,
    token INTEGER,
    acquired_at TEXT,
    expires_at TEXT
  ) STRICT;
  `,
  // 3: events by the release they name, so "did vN ever run" (lastEventOf with a release) reads
  // one index entry instead of every event of that type.
  `
  CREATE INDEX events_by_release ON events (app, release, type, seq);
  `,
];

/** The triggers that make history append-only; verify names any that are gone. */
export const APPEND_ONLY_TRIGGERS = [
  'events_no_delete',
  'events_no_update',
  'releases_no_delete',
  'releases_no_update',
];

/** The schema version this brr writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export interface SqliteOpenOptions {
  /**
   * 'full' (default) syncs the WAL on every commit: an appended release survives power loss.
   * 'normal' is SQLite's usual WAL setting: never corrupt, but the last commits may be lost on
   * power loss; fine for scratch ledgers and bulk fills.
   */
  durability?: 'full' | 'normal';
  /** How long a writer waits for another process's write lock (ms). Default 10 s. */
  busyTimeoutMs?: number;
}

/** Opens (creating if needed) the ledger file, owner-only, WAL, migrated to SCHEMA_VERSION. */
export function openLedgerDatabase(file: string, opts: SqliteOpenOptions = {}): Database.Database {
  const busyTimeoutMs = opts.busyTimeoutMs ?? 10_000;
  let db: Database.Database | undefined;
  try {
    createPrivateFile(file);
    db = new Database(file, { timeout: busyTimeoutMs });
    db.pragma(`busy_timeout = ${Math.floor(busyTimeoutMs)}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') {
      throw new BrrError(
        'ledger_wal_unavailable',
        `SQLite could not switch ${file} to WAL mode (got ${String(mode)})`,
        {
          hint: 'keep BRR_HOME on a local filesystem; network filesystems do not support WAL',
        },
      );
    }
    db.pragma(`synchronous = ${opts.durability === 'normal' ? 'NORMAL' : 'FULL'}`);
    migrate(db, file);
    return db;
  } catch (e) {
    db?.close();
    throw translateSqliteError(e, file);
  }
}

/**
 * Config in the ledger may hold secrets, so the file is owner-only from its first byte.
 * SQLite gives its -wal and -shm files the database file's mode, so they follow.
 */
function createPrivateFile(file: string): void {
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    fs.closeSync(fs.openSync(file, 'a', 0o600));
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      try {
        fs.chmodSync(f, 0o600);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new BrrError('ledger_unwritable', `cannot create the ledger ${file} (${code})`, {
      hint: 'check that the brr home is writable by you (--home or BRR_HOME)',
      cause: e,
    });
  }
}

function migrate(db: Database.Database, file: string): void {
  const version = (): number => db.pragma('user_version', { simple: true }) as number;
  if (version() === SCHEMA_VERSION) return;
  // IMMEDIATE, and the version read again inside: several processes may open a new file at once.
  db.exec('BEGIN IMMEDIATE');
  try {
    const from = version();
    if (from > SCHEMA_VERSION) {
      throw new BrrError(
        'ledger_too_new',
        `${file} has schema version ${from}; this brr knows up to ${SCHEMA_VERSION}`,
        {
          hint: 'upgrade brr; a newer brr wrote this ledger',
        },
      );
    }
    for (let v = from; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v] as string);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    db.exec('COMMIT');
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw e;
  }
}

/**
 * SQLite's errors, by their stable extended result code (never by message text), as brr errors.
 * Anything that is not a SQLite error (a draft's own BrrError, say) passes through untouched.
 */
export function translateSqliteError(e: unknown, file: string): unknown {
  if (!(e instanceof Database.SqliteError)) return e;
  const code = e.code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return conflict(
      'ledger_conflict',
      `another writer appended to the ledger at the same position (${file})`,
      'run the command again; it will plan against the new latest release',
    );
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return conflict(
      'ledger_busy',
      `the ledger ${file} stayed locked by another writer`,
      'another brr command is writing; retry in a moment',
    );
  }
  if (code === 'SQLITE_CONSTRAINT_TRIGGER') {
    return new BrrError('ledger_append_only', 'the ledger is append-only: entries cannot be changed or removed', {
      hint: 'record a new release or event instead (e.g. `brr rollback`)',
      cause: e,
    });
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM')) {
    return new BrrError('ledger_unwritable', `cannot write the ledger ${file} (${code})`, {
      hint: 'check the ownership and permissions of the brr home',
      cause: e,
    });
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return new BrrError('ledger_corrupt', `the ledger ${file} is damaged or not a brr ledger (${code})`, {
      hint: 'restore ledger.db from a backup; `brr verify` checks a restored copy',
      cause: e,
    });
  }
  if (code === 'SQLITE_FULL')
    return new BrrError('disk_full', `no space left for the ledger ${file}`, {
      hint: 'free disk space and retry',
      cause: e,
    });
  return new BrrError('ledger_error', `ledger ${file}: ${e.message} (${code})`, {
    hint: 'retry; if it persists, run `brr verify`',
    cause: e,
  });
}
