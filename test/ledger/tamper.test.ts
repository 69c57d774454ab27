import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openContext, type Context } from '../../src/app/context.js';
import { appStatus } from '../../src/app/status.js';
import { verifyLedger } from '../../src/app/verify-ledger.js';
import type { ReleaseDraft } from '../../src/ledger/ledger.js';
import { generateSigningKey, loadSigner } from '../../src/release/signing.js';
import { changeTrust, checkReleaseTrusted, trustPolicy } from '../../src/release/trust.js';
import { missingPostgres, startPostgres, type PgServer } from '../helpers/postgres.js';
import { COMMIT_A, DIGEST_A, NOW } from '../release/fixtures.js';

/**
 * Tampering with the ledger behind brr's back, on both drivers, through a Context (which keeps
 * the home's witness): emptied, truncated, tail deleted, triggers dropped, and an unsigned trust
 * change. Each must be named by `verify`, and a write must refuse to build on the damage.
 */

const APP = 'upf';
const draft = (cause: string): ReleaseDraft => ({
  build: { digest: DIGEST_A, commit: COMMIT_A },
  config: { LEVEL: { value: cause, secret: false } },
  formation: { web: 1 },
  cause,
  message: null,
  actor: 'tester',
  createdAt: NOW.toISOString(),
  rollbackOf: null,
});

/** How one driver is opened and tampered with. */
interface Driver {
  name: string;
  /** A fresh ledger URL (undefined: the home's SQLite file). */
  fresh(): Promise<string | undefined>;
  /** Runs raw SQL on the ledger, as someone with write access to the database would. */
  sql(home: string, url: string | undefined, statements: string[]): Promise<void>;
  /** Empties the ledger entirely, as `: > ledger.db` does. */
  empty(home: string, url: string | undefined): Promise<void>;
  dropTriggers: string[];
}

const sqlite: Driver = {
  name: 'sqlite',
  fresh: async () => undefined,
  async sql(home, _url, statements) {
    const db = new Database(path.join(home, 'ledger.db'));
    try {
      for (const s of statements) db.exec(s);
    } finally {
      db.close();
    }
  },
  async empty(home) {
    for (const f of ['ledger.db-wal', 'ledger.db-shm']) fs.rmSync(path.join(home, f), { force: true });
    fs.truncateSync(path.join(home, 'ledger.db'), 0);
  },
  dropTriggers: ['releases_no_delete', 'releases_no_update', 'events_no_delete', 'events_no_update'].map(
    (t) => `DROP TRIGGER ${t}`,
  ),
};

const skipPg = missingPostgres();
let server: PgServer | undefined;
let dbs = 0;
const postgres: Driver = {
  name: 'postgres',
  fresh: () => server!.createDatabase(`tamper${++dbs}`),
  async sql(_home, url, statements) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      for (const s of statements) await c.query(s);
    } finally {
      await c.end();
    }
  },
  async empty(home, url) {
    await postgres.sql(home, url, ['DROP SCHEMA public CASCADE', 'CREATE SCHEMA public']);
  },
  dropTriggers: [
    'DROP TRIGGER releases_append_only ON releases',
    'DROP TRIGGER releases_no_truncate ON releases',
    'DROP TRIGGER events_append_only ON events',
    'DROP TRIGGER events_no_truncate ON events',
  ],
};

beforeAll(async () => {
  if (!skipPg) server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

for (const driver of [sqlite, postgres]) {
  const d = driver.name === 'postgres' && skipPg ? describe.skip : describe;
  d(`tampering with the ${driver.name} ledger`, () => {
    let home: string;
    let url: string | undefined;
    let ctx: Context | undefined;
    const open = (newHistory: string[] = []): Context =>
      (ctx = openContext({ home, ledger: url ?? '', newHistory, actor: 'tester' }));
    const reopen = async (newHistory: string[] = []): Promise<Context> => {
      await ctx?.close();
      return open(newHistory);
    };

    beforeEach(async () => {
      home = fs.mkdtempSync(path.join(os.tmpdir(), 'brr-tamper-'));
      url = await driver.fresh();
      const c = open();
      for (const v of ['v1', 'v2', 'v3']) {
        await c.ledger.appendRelease(APP, () => draft(`deploy ${v}`));
        await c.ledger.appendEvent(APP, {
          type: 'activated',
          release: v,
          detail: {},
          actor: 'sup',
          createdAt: NOW.toISOString(),
        });
      }
      expect((await verifyLedger(c)).ok).toBe(true);
      await c.close();
      ctx = undefined;
    });
    afterEach(async () => {
      await ctx?.close();
      fs.rmSync(home, { recursive: true, force: true });
    });

    it('an emptied ledger fails verify, is not "in sync", and a write refuses to start a new history', async () => {
      await driver.empty(home, url);
      const c = open();
      const r = await verifyLedger(c);
      expect(r.ok).toBe(false);
      expect(r.problems).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ app: APP, kind: 'release', seq: 3, problem: expect.stringMatching(/emptied/) }),
          expect.objectContaining({ app: APP, kind: 'event', seq: 3 }),
        ]),
      );
      expect((await appStatus(c, APP))[0]).toMatchObject({ app: APP, inSync: false });
      await expect(c.ledger.appendRelease(APP, () => draft('config set'))).rejects.toMatchObject({
        code: 'ledger_behind_witness',
        hint: expect.stringContaining(`BRR_NEW_HISTORY=${APP}`),
      });
      expect(await c.ledger.listApps()).toEqual([]); // nothing appended
      // Starting over on purpose: allowed, and the witness then follows the new history.
      const again = await reopen([APP]);
      expect((await again.ledger.appendRelease(APP, () => draft('new start'))).id).toBe('v1');
      expect((await verifyLedger(await reopen())).ok).toBe(true);
    });

    it('a truncated ledger (triggers dropped, every row deleted) names the triggers and the lost history', async () => {
      await driver.sql(home, url, [...driver.dropTriggers, 'DELETE FROM releases', 'DELETE FROM events']);
      const r = await verifyLedger(open());
      expect(r.ok).toBe(false);
      expect(r.problems.filter((p) => p.kind === 'schema')).toHaveLength(4);
      expect(r.problems).toEqual(
        expect.arrayContaining([expect.objectContaining({ app: APP, kind: 'release', seq: 3 })]),
      );
    });

    it('a deleted tail (newest release and its events) fails verify and refuses the next write', async () => {
      await driver.sql(home, url, [
        ...driver.dropTriggers,
        `DELETE FROM releases WHERE app = '${APP}' AND seq = 3`,
        `DELETE FROM events WHERE app = '${APP}' AND release = 'v3'`,
      ]);
      const c = open();
      const r = await verifyLedger(c);
      expect(r.ok).toBe(false);
      expect(r.problems).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            app: APP,
            kind: 'release',
            seq: 3,
            problem: expect.stringMatching(/ledger ends at #2.*tail was deleted/),
          }),
          expect.objectContaining({ app: APP, kind: 'event', seq: 3 }),
        ]),
      );
      await expect(c.ledger.appendRelease(APP, () => draft('next'))).rejects.toMatchObject({
        code: 'ledger_behind_witness',
      });
    });

    it('without the witness file, release directories newer than the ledger still give a deleted tail away', async () => {
      if (driver.name !== 'sqlite') return; // release directories witness only the home's own ledger
      for (const v of ['v1', 'v2', 'v3']) fs.mkdirSync(path.join(home, 'releases', APP, v), { recursive: true });
      fs.rmSync(path.join(home, 'ledger-witness.json'));
      await driver.sql(home, url, [...driver.dropTriggers, `DELETE FROM releases WHERE app = '${APP}' AND seq = 3`]);
      const c = open();
      expect((await verifyLedger(c)).problems).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ app: APP, kind: 'release', seq: 3, problem: expect.stringMatching(/ends at #2/) }),
        ]),
      );
      await expect(c.ledger.appendRelease(APP, () => draft('next'))).rejects.toMatchObject({
        code: 'ledger_behind_witness',
      });
    });

    it('dropped append-only triggers are named by verify', async () => {
      await driver.sql(home, url, driver.dropTriggers.slice(0, 1));
      const r = await verifyLedger(open());
      expect(r.ok).toBe(false);
      expect(r.problems).toEqual([
        expect.objectContaining({
          app: '(ledger)',
          kind: 'schema',
          problem: expect.stringMatching(/^append-only trigger releases_(no_delete|append_only) is missing/),
        }),
      ]);
    });

    it('an unsigned trust change is ignored by the run stage and named by verify', async () => {
      const c = open();
      const a = generateSigningKey();
      await changeTrust(c, APP, { add: a.publicKey }, null); // the bootstrap
      await expect(changeTrust(c, APP, { remove: a.keyId }, null)).rejects.toMatchObject({
        code: 'trust_change_unsigned',
      });
      // Written straight into the ledger, as someone with write access (but not the key) could.
      const forged = await c.ledger.appendEvent(APP, {
        type: 'trust-changed',
        release: null,
        detail: { remove: [a.keyId] },
        actor: 'mallory',
        createdAt: NOW.toISOString(),
      });
      expect(trustPolicy(await c.ledger.listEvents(APP)).map((k) => k.keyId)).toEqual([a.keyId]);
      const v3 = (await c.ledger.getRelease(APP, 'v3'))!;
      await expect(checkReleaseTrusted(c, APP, v3)).rejects.toMatchObject({ code: 'release_untrusted' });
      const r = await verifyLedger(c);
      expect(r.ok).toBe(false);
      expect(r.problems).toEqual([
        expect.objectContaining({
          app: APP,
          kind: 'event',
          seq: forged.seq,
          problem: expect.stringMatching(/not signed/),
        }),
      ]);
      // The key's holder can still change it, signed.
      await changeTrust(c, APP, { remove: a.keyId }, loadSigner(a.privatePem, 'a.pem'));
      expect(trustPolicy(await c.ledger.listEvents(APP))).toEqual([]);
    });

    it('verify of an unknown app is an error', async () => {
      await expect(verifyLedger(open(), 'no-such-app')).rejects.toMatchObject({ code: 'app_unknown', exitCode: 1 });
    });
  });
}
