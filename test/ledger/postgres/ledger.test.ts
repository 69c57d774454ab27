import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/core/canonical-json.js';
import type { ReleaseDraft, VerifyProblem, VerifyResult } from '../../../src/ledger/ledger.js';
import { translatePgError } from '../../../src/ledger/postgres/errors.js';
import { openPostgresLedger, type PostgresLedger } from '../../../src/ledger/postgres/ledger.js';
import { PG_SCHEMA_VERSION } from '../../../src/ledger/postgres/schema.js';
import { sealRelease } from '../../../src/ledger/seal.js';
import { missingPostgres, startPostgres, type PgServer } from '../../helpers/postgres.js';
import { COMMIT_A, DIGEST_A, NOW } from '../../release/fixtures.js';
import { describeLedgerContract } from '../ledger-contract.js';

const skip = missingPostgres();
let server: PgServer;
let dbs = 0;
/** A fresh, empty database per ledger: the contract wants each test to start from nothing. */
const freshUrl = (): Promise<string> => server.createDatabase(`t${++dbs}`);

beforeAll(async () => {
  if (!skip) server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

/** The chain problems of a verify result, without the missing-trigger ones the tampering itself causes. */
const chainProblems = (r: VerifyResult): VerifyProblem[] => r.problems.filter((p) => p.kind !== 'schema');

const draft = (level = 'info'): ReleaseDraft => ({
  build: { digest: DIGEST_A, commit: COMMIT_A },
  config: { LOG_LEVEL: { value: level, secret: false } },
  formation: { web: 1 },
  cause: 'deploy 1a2b3c4',
  message: null,
  actor: 'tester',
  createdAt: NOW.toISOString(),
  rollbackOf: null,
});
const event = { type: 'activated' as const, release: 'v1', detail: {}, actor: 'sup', createdAt: NOW.toISOString() };

if (skip) {
  describe.skip(`PostgreSQL ledger (${skip})`, () => it('needs PostgreSQL', () => undefined));
} else {
  describeLedgerContract('postgres', async () => openPostgresLedger(await freshUrl()));

  describe('PostgresLedger database', () => {
    let url: string;
    let ledger: PostgresLedger;
    let raw: pg.Client;
    beforeEach(async () => {
      url = await freshUrl();
      ledger = await openPostgresLedger(url);
      raw = new pg.Client({ connectionString: url });
      await raw.connect();
    });
    afterEach(async () => {
      await raw.end();
      await ledger.close();
    });

    it('has the database itself reject UPDATE, DELETE and TRUNCATE on history', async () => {
      await ledger.appendRelease('a', () => draft());
      await ledger.appendEvent('a', event);
      for (const sql of [
        "UPDATE releases SET body = replace(body, 'info', 'debug')",
        "UPDATE releases SET hash = 'x'",
        'DELETE FROM releases',
        'TRUNCATE releases',
        "UPDATE events SET type = 'stopped'",
        'DELETE FROM events',
        'TRUNCATE events',
        'TRUNCATE releases, events',
      ]) {
        const err = await raw.query(sql).then(
          () => null,
          (e: unknown) => e,
        );
        expect((err as { code?: string } | null)?.code, sql).toBe('BRR01');
        expect(translatePgError(err, 'x', [])).toMatchObject({ code: 'ledger_append_only' });
      }
      expect(await ledger.verify()).toMatchObject({ ok: true, releases: 1, events: 1, problems: [] });
    });

    it('stores the hashed text verbatim (TEXT, not jsonb) and keeps the schema version', async () => {
      const r = await ledger.appendRelease('a', () => draft());
      const row = (await raw.query("SELECT body, hash, pg_typeof(body)::text AS t FROM releases WHERE app = 'a'"))
        .rows[0] as { body: string; hash: string; t: string };
      expect([row.t, sha256Hex(row.body), row.hash]).toEqual(['text', r.hash, r.hash]);
      expect((await raw.query('SELECT version FROM brr_schema')).rows).toEqual([{ version: PG_SCHEMA_VERSION }]);
    });

    it('turns a UNIQUE violation into ledger_conflict', async () => {
      await ledger.appendRelease('a', () => draft());
      const err = await raw
        .query("INSERT INTO releases (app, seq, id, body, hash) VALUES ('a', 1, 'v9', '{}', 'h')")
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(translatePgError(err, 'x', [])).toMatchObject({ code: 'ledger_conflict', exitCode: 1 });
    });

    it('catches tampering done with the triggers disabled', async () => {
      for (let i = 1; i <= 4; i++) await ledger.appendRelease('a', () => draft(`level-${i}`));
      await raw.query('ALTER TABLE releases DISABLE TRIGGER USER');
      expect((await ledger.verify()).problems.filter((p) => p.kind === 'schema').map((p) => p.problem)).toEqual([
        expect.stringMatching(/^append-only trigger releases_append_only is missing or disabled/),
        expect.stringMatching(/^append-only trigger releases_no_truncate is missing or disabled/),
      ]);
      await raw.query("UPDATE releases SET body = replace(body, 'level-2', 'level-X') WHERE app = 'a' AND seq = 2");
      expect(chainProblems(await ledger.verify())).toEqual([
        {
          app: 'a',
          kind: 'release',
          seq: 2,
          problem: 'hash mismatch: the stored body does not hash to the stored hash',
        },
      ]);
      const forged = (await raw.query("SELECT body FROM releases WHERE app = 'a' AND seq = 2")).rows[0].body as string;
      await raw.query("UPDATE releases SET hash = $1 WHERE app = 'a' AND seq = 2", [sha256Hex(forged)]);
      await raw.query("DELETE FROM releases WHERE app = 'a' AND seq = 4");
      expect(chainProblems(await ledger.verify())).toEqual([
        { app: 'a', kind: 'release', seq: 3, problem: 'prevHash does not match the previous entry' },
      ]);
    });

    it('gives up with ledger_busy when another writer holds the app too long (lock_timeout, 55P03)', async () => {
      const impatient = await openPostgresLedger(url, { busyTimeoutMs: 150 });
      await raw.query("BEGIN; SELECT pg_advisory_xact_lock(1651667456, hashtext('a'))");
      const started = Date.now();
      await expect(impatient.appendRelease('a', () => draft())).rejects.toMatchObject({
        code: 'ledger_busy',
        exitCode: 1,
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      // Other apps are not held up by it.
      expect((await impatient.appendRelease('b', () => draft())).id).toBe('v1');
      await raw.query('ROLLBACK');
      expect((await impatient.appendRelease('a', () => draft())).id).toBe('v1');
      await impatient.close();
    });

    it('pages entries across a gap left by tampering instead of stopping at it', async () => {
      for (let i = 1; i <= 10; i++) await ledger.appendRelease('a', () => draft(`level-${i}`));
      await raw.query('ALTER TABLE releases DISABLE TRIGGER USER');
      await raw.query("DELETE FROM releases WHERE app = 'a' AND seq BETWEEN 3 AND 6");
      expect((await ledger.readEntries('a', 'release', 0, 3)).map((e) => e.seq)).toEqual([1, 2, 7]);
      expect((await ledger.readEntries('a', 'release', 2, 10)).map((e) => e.seq)).toEqual([7, 8, 9, 10]);
      expect(await ledger.readEntries('a', 'release', 10, 10)).toEqual([]);
      expect(chainProblems(await ledger.verify('a'))).toEqual([
        { app: 'a', kind: 'release', seq: 7, problem: 'sequence gap: expected seq 3, found 7' },
      ]);
    });

    it('verifies a chain longer than one page, across apps, in bounded reads', async () => {
      // Correctly chained bodies sealed by the driver's own seal function, inserted in bulk.
      for (const [app, n] of [
        ['big', 12_003],
        ['small', 3],
      ] as const) {
        const rows: unknown[][] = [];
        let latest: { seq: number; hash: string } | null = null;
        for (let i = 0; i < n; i++) {
          const s = sealRelease(app, latest, draft(`l${i}`));
          rows.push([app, s.body.seq, s.body.id, s.text, s.hash, s.body.prevHash]);
          latest = { seq: s.body.seq, hash: s.hash };
        }
        const cols = [0, 1, 2, 3, 4, 5].map((k) => rows.map((r) => r[k]));
        await raw.query(
          'INSERT INTO releases SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[])',
          cols,
        );
      }
      expect(await ledger.verify()).toMatchObject({ ok: true, releases: 12_006, events: 0, problems: [] });
      expect((await ledger.listReleases('big', { limit: 1 }))[0]?.id).toBe('v12003');
      expect((await ledger.appendRelease('big', () => draft())).id).toBe('v12004');
    });

    it('migrates once when several handles open a new database at once', async () => {
      const fresh = await freshUrl();
      const opened = await Promise.all(Array.from({ length: 6 }, () => openPostgresLedger(fresh)));
      await Promise.all(opened.map((l, i) => l.appendEvent('m', { ...event, release: `v${i}` })));
      expect((await opened[0]!.listEvents('m')).length).toBe(6);
      await Promise.all(opened.map((l) => l.close()));
    });

    it('refuses a ledger written by a newer schema', async () => {
      await raw.query('UPDATE brr_schema SET version = version + 1');
      await expect(openPostgresLedger(url)).rejects.toMatchObject({ code: 'ledger_too_new' });
    });
  });

  describe('PostgresLedger URL handling', () => {
    const leaks = (e: unknown): string =>
      JSON.stringify({ m: (e as Error).message, h: (e as { hint?: string }).hint, s: (e as Error).stack });

    it('refuses a wrong password without ever echoing the password', async () => {
      const good = await freshUrl();
      const wrong = good.replace(server.password, 'Sup3r-s3cret-guess');
      const err = await openPostgresLedger(wrong).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'ledger_auth_failed', exitCode: 1 });
      expect(leaks(err)).not.toContain('Sup3r-s3cret-guess');
      expect((err as Error).message).toContain('brr:***@127.0.0.1');
    });

    it('reports an unreachable server and a missing database, redacted', async () => {
      const down = `postgres://brr:${server.password}@127.0.0.1:1/x`;
      const err = await openPostgresLedger(down).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'ledger_unreachable' });
      expect(leaks(err)).not.toContain(server.password);
      const missing = await openPostgresLedger(server.url('nope')).then(
        () => null,
        (e: unknown) => e,
      );
      expect(missing).toMatchObject({ code: 'ledger_database_missing' });
      expect(leaks(missing)).not.toContain(server.password);
      await expect(openPostgresLedger('mysql://u:p@h/x')).rejects.toMatchObject({
        code: 'ledger_url_invalid',
        exitCode: 2,
      });
    });

    it('names the server, redacted, for display', async () => {
      const l = await openPostgresLedger(await freshUrl());
      expect(l.where).toMatch(/^postgres:\/\/brr:\*\*\*@127\.0\.0\.1:\d+\/t\d+$/);
      await l.close();
    });
  });
}
