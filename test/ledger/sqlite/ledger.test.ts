import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/core/canonical-json.js';
import type { ReleaseDraft, VerifyProblem, VerifyResult } from '../../../src/ledger/ledger.js';
import { SCHEMA_VERSION, translateSqliteError } from '../../../src/ledger/sqlite/db.js';
import { openSqliteLedger, type SqliteLedger } from '../../../src/ledger/sqlite/ledger.js';
import { COMMIT_A, DIGEST_A, NOW } from '../../release/fixtures.js';
import { describeLedgerContract } from '../ledger-contract.js';

const dirs: string[] = [];
function tempFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brr-ledger-'));
  dirs.push(dir);
  return path.join(dir, 'home', 'ledger.db');
}
async function removeTempDirs(): Promise<void> {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

describeLedgerContract('sqlite', async () => openSqliteLedger(tempFile()), removeTempDirs);

/** The chain problems of a verify result, without the missing-trigger ones the tampering itself causes. */
const chainProblems = (r: VerifyResult): VerifyProblem[] => r.problems.filter((p) => p.kind !== 'schema');

const draft = (level = 'info'): ReleaseDraft => ({
  build: { digest: DIGEST_A, commit: COMMIT_A },
  config: { LOG_LEVEL: { value: level, secret: false }, TOKEN: { value: 'hunter2', secret: true } },
  formation: { web: 1 },
  cause: 'deploy 1a2b3c4',
  message: null,
  actor: 'tester',
  createdAt: NOW.toISOString(),
  rollbackOf: null,
});
const event = { type: 'activated' as const, release: 'v1', detail: {}, actor: 'sup', createdAt: NOW.toISOString() };

describe('SqliteLedger file', () => {
  let file: string;
  let ledger: SqliteLedger;
  beforeEach(() => {
    file = tempFile();
    ledger = openSqliteLedger(file);
  });
  afterEach(async () => {
    await ledger.close();
    await removeTempDirs();
  });

  it('is owner-only (db, wal and shm), WAL, at the current schema version', async () => {
    await ledger.appendRelease('a', () => draft());
    for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    raw.close();
  });

  it('tightens the mode of an existing, too open file', async () => {
    await ledger.close();
    fs.chmodSync(file, 0o644);
    ledger = openSqliteLedger(file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('keeps everything across close and reopen, also through another path to the file', async () => {
    const r = await ledger.appendRelease('a', () => draft());
    await ledger.close();
    fs.symlinkSync(path.dirname(file), `${path.dirname(file)}-link`);
    ledger = openSqliteLedger(path.join(`${path.dirname(file)}-link`, 'ledger.db'));
    expect(await ledger.latestRelease('a')).toEqual(r);
    expect((await ledger.verify()).ok).toBe(true);
  });

  it('migrates a ledger written before leases (schema 1) in place, history untouched', async () => {
    const r = await ledger.appendRelease('a', () => draft());
    await ledger.close();
    const raw = new Database(file);
    raw.exec('DROP TABLE leases');
    raw.exec('DROP INDEX events_by_release');
    raw.pragma('user_version = 1');
    raw.close();
    ledger = openSqliteLedger(file);
    expect(await ledger.latestRelease('a')).toEqual(r);
    expect((await ledger.acquireLease('a', { owner: 'o', host: 'h', pid: 1 }, 1000, NOW)).token).toBe(1);
    expect((await ledger.verify()).ok).toBe(true);
  });

  it('migrates a schema-2 ledger to events by release, and per-release event reads use that index', async () => {
    await ledger.appendEvent('a', {
      type: 'activated',
      release: 'v1',
      detail: {},
      actor: 'o',
      createdAt: NOW.toISOString(),
    });
    await ledger.close();
    let raw = new Database(file);
    raw.exec('DROP INDEX events_by_release');
    raw.pragma('user_version = 2');
    raw.close();
    ledger = openSqliteLedger(file);
    expect((await ledger.lastEventOf('a', ['activated'], { release: 'v1' }))?.release).toBe('v1');
    raw = new Database(file, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const plan = raw
      .prepare(
        "EXPLAIN QUERY PLAN SELECT seq FROM events WHERE app = 'a' AND type = 'activated' AND release = 'v1' ORDER BY seq DESC LIMIT 1",
      )
      .all() as Array<{ detail: string }>;
    raw.close();
    expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING (COVERING )?INDEX events_by_release/);
  });

  it('keeps leases mutable but history append-only', async () => {
    const lease = await ledger.acquireLease('a', { owner: 'o', host: 'h', pid: 1 }, 1000, NOW);
    const raw = new Database(file);
    expect(raw.prepare("UPDATE leases SET expires_at = 'x' WHERE app = 'a'").run().changes).toBe(1);
    raw.close();
    expect((await ledger.getLease('a'))?.token).toBe(lease.token);
  });

  it('refuses a ledger written by a newer schema', async () => {
    await ledger.close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => openSqliteLedger(file)).toThrow(expect.objectContaining({ code: 'ledger_too_new' }));
    ledger = openSqliteLedger(tempFile());
  });

  it('refuses a file that is not a database', async () => {
    const other = tempFile();
    fs.mkdirSync(path.dirname(other), { recursive: true });
    fs.writeFileSync(other, 'x'.repeat(4096));
    expect(() => openSqliteLedger(other)).toThrow(expect.objectContaining({ code: 'ledger_corrupt' }));
  });

  it('has the database itself reject UPDATE and DELETE on both tables', async () => {
    await ledger.appendRelease('a', () => draft());
    await ledger.appendEvent('a', event);
    const raw = new Database(file);
    const attempts = [
      "UPDATE releases SET body = replace(body, 'info', 'debug')",
      "UPDATE releases SET hash = 'x'",
      'DELETE FROM releases',
      "UPDATE events SET type = 'stopped'",
      'DELETE FROM events',
    ];
    for (const sql of attempts) {
      let code: string | undefined;
      try {
        raw.exec(sql);
      } catch (e) {
        code = (e as { code?: string }).code;
        expect(translateSqliteError(e, file)).toMatchObject({ code: 'ledger_append_only' });
      }
      expect(code, sql).toBe('SQLITE_CONSTRAINT_TRIGGER');
    }
    raw.close();
    expect((await ledger.verify()).ok).toBe(true);
    expect(await ledger.listReleases('a')).toHaveLength(1);
  });

  it('turns a UNIQUE violation into a ledger_conflict', async () => {
    await ledger.appendRelease('a', () => draft());
    const raw = new Database(file);
    try {
      raw
        .prepare("INSERT INTO releases (app, seq, id, body, hash, prev_hash) VALUES ('a', 1, 'v9', '{}', 'h', NULL)")
        .run();
      expect.unreachable();
    } catch (e) {
      expect(translateSqliteError(e, file)).toMatchObject({ code: 'ledger_conflict', exitCode: 1 });
    } finally {
      raw.close();
    }
  });

  it('gives up with ledger_busy when another writer holds the lock too long', async () => {
    await ledger.close();
    ledger = openSqliteLedger(file, { busyTimeoutMs: 150 });
    const raw = new Database(file);
    raw.exec('BEGIN IMMEDIATE');
    const started = Date.now();
    await expect(ledger.appendRelease('a', () => draft())).rejects.toMatchObject({ code: 'ledger_busy' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    raw.exec('ROLLBACK');
    raw.close();
    expect((await ledger.appendRelease('a', () => draft())).id).toBe('v1');
  });

  it('serializes two handles on one file in one process without stalling', async () => {
    const second = openSqliteLedger(file);
    const slow = (l: SqliteLedger) =>
      l.appendRelease('a', async (latest) => {
        await new Promise((r) => setTimeout(r, 5));
        return draft(latest?.id ?? 'none');
      });
    const started = Date.now();
    const results = await Promise.all([slow(ledger), slow(second), slow(ledger), slow(second)]);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(results.map((r) => r.id).sort()).toEqual(['v1', 'v2', 'v3', 'v4']);
    await second.close();
    expect((await ledger.verify()).ok).toBe(true);
  });
});

describe('SqliteLedger verify against tampering', () => {
  let file: string;
  let ledger: SqliteLedger;
  let raw: Database.Database;
  beforeEach(async () => {
    file = tempFile();
    ledger = openSqliteLedger(file);
    for (const app of ['a', 'b']) {
      for (let i = 1; i <= 5; i++) await ledger.appendRelease(app, () => draft(`level-${i}`));
      for (let i = 1; i <= 3; i++) await ledger.appendEvent(app, { ...event, release: `v${i}` });
    }
    expect(await ledger.verify()).toMatchObject({ ok: true, releases: 10, events: 6, problems: [] });
    // What an attacker with file access does first: remove the guard rails.
    raw = new Database(file);
    for (const t of ['releases_no_update', 'releases_no_delete', 'events_no_update', 'events_no_delete'])
      raw.exec(`DROP TRIGGER ${t}`);
    // …which verify names, whatever else it finds (the tests below look at the chains).
    await expect(ledger.verify()).resolves.toMatchObject({
      problems: expect.arrayContaining([expect.objectContaining({ kind: 'schema' })]),
    });
  });
  afterEach(async () => {
    raw.close();
    await ledger.close();
    await removeTempDirs();
  });

  const body = (app: string, seq: number): string =>
    (raw.prepare('SELECT body FROM releases WHERE app = ? AND seq = ?').get(app, seq) as { body: string }).body;

  it('names the edited release when a config value changes inside its body', async () => {
    raw
      .prepare('UPDATE releases SET body = ? WHERE app = ? AND seq = 3')
      .run(body('a', 3).replace('"level-3"', '"level-X"'), 'a');
    expect(await ledger.verify()).toMatchObject({ ok: false });
    expect(chainProblems(await ledger.verify())).toEqual([
      { app: 'a', kind: 'release', seq: 3, problem: expect.stringContaining('hash mismatch') },
    ]);
    expect(chainProblems(await ledger.verify('b'))).toEqual([]);
  });

  it('catches an edit whose own hash was recomputed at the next release', async () => {
    const forged = body('a', 3).replace('"level-3"', '"level-X"');
    raw.prepare('UPDATE releases SET body = ?, hash = ? WHERE app = ? AND seq = 3').run(forged, sha256Hex(forged), 'a');
    const result = await ledger.verify('a');
    expect(chainProblems(result)).toEqual([
      { app: 'a', kind: 'release', seq: 4, problem: 'prevHash does not match the previous entry' },
    ]);
  });

  it('catches a deleted release as a sequence gap', async () => {
    raw.prepare("DELETE FROM releases WHERE app = 'b' AND seq = 2").run();
    expect(chainProblems(await ledger.verify())).toEqual([
      { app: 'b', kind: 'release', seq: 3, problem: 'sequence gap: expected seq 2, found 3' },
    ]);
  });

  it('catches an index column that disagrees with the hashed body', async () => {
    raw.prepare("UPDATE releases SET id = 'v40' WHERE app = 'a' AND seq = 4").run();
    expect(chainProblems(await ledger.verify())).toEqual([
      { app: 'a', kind: 'release', seq: 4, problem: 'stored id column disagrees with the body' },
    ]);
  });

  it('catches a row moved to another app and a body replaced by other JSON', async () => {
    raw.prepare("UPDATE releases SET app = 'c' WHERE app = 'a' AND seq = 5").run();
    const other = '{"hello":"world"}';
    raw.prepare("UPDATE releases SET body = ?, hash = ? WHERE app = 'b' AND seq = 2").run(other, sha256Hex(other));
    expect(chainProblems(await ledger.verify())).toEqual([
      { app: 'b', kind: 'release', seq: 2, problem: 'body is not canonical JSON of a ledger entry' },
      { app: 'c', kind: 'release', seq: 5, problem: 'stored app column disagrees with the body' },
    ]);
  });

  it('catches an event whose release column was pointed elsewhere', async () => {
    raw.prepare("UPDATE events SET release = 'v1' WHERE app = 'a' AND seq = 3").run();
    expect(chainProblems(await ledger.verify('a'))).toEqual([
      { app: 'a', kind: 'event', seq: 3, problem: 'stored release column disagrees with the body' },
    ]);
  });

  it('checks the event chain too, and reports the first bad entry per app', async () => {
    raw.prepare("UPDATE events SET body = replace(body, '\"v2\"', '\"v9\"') WHERE app = 'b' AND seq = 2").run();
    raw.prepare("UPDATE events SET type = 'stopped' WHERE app = 'a' AND seq = 1").run();
    raw
      .prepare('UPDATE releases SET body = ? WHERE app = ? AND seq = 1')
      .run(body('a', 1).replace('"level-1"', '"level-0"'), 'a');
    raw
      .prepare('UPDATE releases SET body = ? WHERE app = ? AND seq = 2')
      .run(body('a', 2).replace('"level-2"', '"level-0"'), 'a');
    const result = await ledger.verify();
    expect(result.ok).toBe(false);
    expect(chainProblems(result).map((p) => [p.app, p.kind, p.seq])).toEqual([
      ['a', 'release', 1],
      ['a', 'event', 1],
      ['b', 'event', 2],
    ]);
    expect(chainProblems(result)[1]?.problem).toBe('stored type column disagrees with the body');
  });
});
