import type pg from 'pg';
import type { StoredEntry, VerifyResult } from '../ledger.js';
import type { PgSession } from './session.js';
import { importTargetNotEmpty } from '../seal.js';
import { ChainVerifier, headsOf, missingGuardProblems } from '../verify-chain.js';

/** The triggers (schema.ts) that make history append-only; verify names any missing or disabled. */
const APPEND_ONLY_TRIGGERS = [
  'events_append_only',
  'events_no_truncate',
  'releases_append_only',
  'releases_no_truncate',
];

/**
 * Whole-chain work on the PostgreSQL ledger: verify, export pages and import. Chains are read in
 * seq RANGES (`seq > a AND seq <= b`), never `ORDER BY seq LIMIT n`: right after a bulk load the
 * planner has no statistics, guesses a few hundred rows, and turns every LIMIT page into a
 * bitmap scan plus an on-disk sort of the rest of the chain (measured: verify of 100,000
 * releases 7 s instead of 1.5 s). A range returns at most its width whatever the plan.
 */

type Client = pg.PoolClient;
const TABLE = { release: 'releases', event: 'events' } as const;
const COLS = { release: 'id', event: 'type, release' } as const;
/** Rows per range when walking a chain: bounded memory whatever the ledger's size. */
const PAGE = 5_000;
/** Rows per INSERT when importing: one round trip per batch, well under the parameter limit. */
const IMPORT_BATCH = 1_000;

type Row = {
  app: string;
  seq: number;
  body: string;
  hash: string;
  prevHash: string | null;
  id?: string;
  type?: string;
  release?: string | null;
};

function toEntry(kind: StoredEntry['kind'], r: Row): StoredEntry {
  const base = { app: r.app, seq: r.seq, body: r.body, hash: r.hash, prevHash: r.prevHash };
  return kind === 'release'
    ? { ...base, kind, id: r.id ?? '' }
    : { ...base, kind, type: r.type ?? '', release: r.release ?? null };
}

/** Entries of one chain with from < seq <= to, by seq. */
async function readRange(
  db: PgSession,
  c: Client,
  kind: StoredEntry['kind'],
  app: string,
  from: number,
  to: number,
): Promise<StoredEntry[]> {
  const sql = `SELECT app, seq, body, hash, prev_hash AS "prevHash", ${COLS[kind]} FROM ${TABLE[kind]} WHERE app = $1 AND seq > $2 AND seq <= $3 ORDER BY seq`;
  return (await db.q(c, sql, [app, from, to])).rows.map((r: Row) => toEntry(kind, r));
}

/** At most `limit` entries with seq > afterSeq, by seq; gaps (a damaged chain) are jumped, not taken for the end. */
export async function readChainPage(
  db: PgSession,
  kind: StoredEntry['kind'],
  app: string,
  afterSeq: number,
  limit: number,
): Promise<StoredEntry[]> {
  return db.read(async (c) => {
    const out: StoredEntry[] = [];
    let from = afterSeq;
    while (out.length < limit) {
      const to = from + (limit - out.length);
      out.push(...(await readRange(db, c, kind, app, from, to)));
      if (out.length >= limit) break;
      const next = (await db.q(c, `SELECT min(seq) AS next FROM ${TABLE[kind]} WHERE app = $1 AND seq > $2`, [app, to]))
        .rows[0] as { next: number | null };
      if (next.next === null) break;
      from = next.next - 1;
    }
    return out;
  });
}

/** Recomputes every hash and link on one snapshot, app by app and range by range. */
export async function verifyChains(db: PgSession, app?: string): Promise<VerifyResult> {
  const verifiers = { release: new ChainVerifier('release'), event: new ChainVerifier('event') };
  let guards = new Set<string>();
  await db.snapshot(async (c) => {
    // tgenabled 'D' = disabled (ALTER TABLE … DISABLE TRIGGER): as good as dropped.
    // And a trigger whose function no longer raises (CREATE OR REPLACE) guards nothing.
    const triggers = await db.q(
      c,
      `SELECT t.tgname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE t.tgrelid IN (to_regclass('releases'), to_regclass('events')) AND NOT t.tgisinternal AND t.tgenabled <> 'D'
          AND p.proname = 'brr_append_only' AND p.prosrc ~* 'RAISE\\s+EXCEPTION'`,
    );
    guards = new Set(triggers.rows.map((r: { tgname: string }) => r.tgname));
    for (const kind of ['release', 'event'] as const) {
      const where = app === undefined ? '' : 'WHERE app = $1';
      const heads = (
        await db.q(
          c,
          `SELECT app, max(seq) AS max FROM ${TABLE[kind]} ${where} GROUP BY app`,
          app === undefined ? [] : [app],
        )
      ).rows as Array<{ app: string; max: number }>;
      // Code-unit order, as the SQLite driver and the problem list sort.
      heads.sort((a, b) => (a.app < b.app ? -1 : a.app > b.app ? 1 : 0));
      for (const head of heads) {
        for (let from = 0; from < head.max; from += PAGE) {
          for (const e of await readRange(db, c, kind, head.app, from, from + PAGE)) verifiers[kind].add(e);
        }
      }
    }
  });
  const problems = [
    ...missingGuardProblems(APPEND_ONLY_TRIGGERS, guards),
    ...[...verifiers.release.problems, ...verifiers.event.problems].sort((a, b) =>
      a.app < b.app ? -1 : a.app > b.app ? 1 : 0,
    ),
  ];
  return {
    ok: problems.length === 0,
    releases: verifiers.release.count,
    events: verifiers.event.count,
    problems,
    heads: headsOf(verifiers.release, verifiers.event),
  };
}

/** Inserts verified entries verbatim in one transaction, refusing apps that already have history. */
export async function importChains(db: PgSession, entries: readonly StoredEntry[]): Promise<void> {
  const apps = [...new Set(entries.map((e) => e.app))];
  const releases = entries.filter((e): e is Extract<StoredEntry, { kind: 'release' }> => e.kind === 'release');
  const events = entries.filter((e): e is Extract<StoredEntry, { kind: 'event' }> => e.kind === 'event');
  await db.transactionFor(apps, async (c) => {
    for (const app of apps) {
      const found = await db.q(
        c,
        'SELECT 1 FROM releases WHERE app = $1 UNION ALL SELECT 1 FROM events WHERE app = $1 LIMIT 1',
        [app],
      );
      if (found.rows.length > 0) throw importTargetNotEmpty(app, db.where);
    }
    // Column arrays through unnest: the bodies go in byte for byte, a thousand rows a round trip.
    for (let i = 0; i < releases.length; i += IMPORT_BATCH) {
      const b = releases.slice(i, i + IMPORT_BATCH);
      await db.q(
        c,
        'INSERT INTO releases (app, seq, id, body, hash, prev_hash) SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[])',
        [
          ...[
            b.map((e) => e.app),
            b.map((e) => e.seq),
            b.map((e) => e.id),
            b.map((e) => e.body),
            b.map((e) => e.hash),
            b.map((e) => e.prevHash),
          ],
        ],
      );
    }
    for (let i = 0; i < events.length; i += IMPORT_BATCH) {
      const b = events.slice(i, i + IMPORT_BATCH);
      await db.q(
        c,
        'INSERT INTO events (app, seq, type, release, body, hash, prev_hash) SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])',
        [
          ...[
            b.map((e) => e.app),
            b.map((e) => e.seq),
            b.map((e) => e.type),
            b.map((e) => e.release),
            b.map((e) => e.body),
            b.map((e) => e.hash),
            b.map((e) => e.prevHash),
          ],
        ],
      );
    }
  });
  // Fresh statistics after a bulk load keep the planner on the primary key for ordinary reads.
  // Best effort: a non-owner gets a warning, not an error, and autovacuum would get there later.
  if (entries.length >= IMPORT_BATCH) await db.read((c) => db.q(c, 'ANALYZE releases, events')).catch(() => undefined);
}
