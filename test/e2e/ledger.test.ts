import { rmSync, truncateSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from './harness.js';

describe('the ledger through the CLI', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await Sandbox.create();
    await sb.ok(['build']);
    await sb.ok(['config', 'set', 'STAGED=1']); // an event row, staged for v1
    await sb.ok(['release']);
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  it('concurrent config changes from many processes never duplicate or lose an id', async () => {
    const writers = 8;
    const results = await Promise.all(
      Array.from({ length: writers }, (_, i) => sb.brr(['config', 'set', `KEY_${i}=v${i}`, '--json'])),
    );
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const ids = results.map((r) => (JSON.parse(r.stdout) as { release: string }).release).sort();
    const rels = await sb.json<Array<{ id: string; seq: number; config: Record<string, string> }>>([
      'releases',
      '--limit',
      '100',
    ]);
    expect(rels.map((r) => r.seq)).toEqual(Array.from({ length: writers + 1 }, (_, i) => writers + 1 - i));
    expect(ids).toEqual(
      rels
        .slice(0, writers)
        .map((r) => r.id)
        .sort(),
    );
    // No lost update: the newest release holds every key.
    expect(Object.keys(rels[0]!.config).sort()).toEqual(
      ['STAGED', ...Array.from({ length: writers }, (_, i) => `KEY_${i}`)].sort(),
    );
    expect((await sb.ok(['verify'])).stdout).toContain('ledger intact');
  });

  it('the database itself refuses UPDATE and DELETE of releases', () => {
    const db = new Database(path.join(sb.home, 'ledger.db'));
    try {
      expect(() => db.prepare("UPDATE releases SET hash = 'x' WHERE seq = 1").run()).toThrow();
      expect(() => db.prepare('DELETE FROM releases').run()).toThrow();
      expect(() => db.prepare('DELETE FROM events').run()).toThrow();
    } finally {
      db.close();
    }
  });

  it("editing the file behind brr's back is caught by verify, naming the first bad entry", async () => {
    const db = new Database(path.join(sb.home, 'ledger.db'));
    try {
      const triggers = db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all() as Array<{
        name: string;
      }>;
      for (const t of triggers) db.exec(`DROP TRIGGER "${t.name}"`);
      const cols = (db.prepare('PRAGMA table_info(releases)').all() as Array<{ name: string }>).map((c) => c.name);
      const bodyCol = cols.find((c) => c === 'body' || c === 'body_json' || c === 'entry')!;
      expect(bodyCol).toBeTruthy();
      const changed = db
        .prepare(`UPDATE releases SET ${bodyCol} = replace(${bodyCol}, 'tester@e2e', 'mallory@e2e') WHERE seq = 4`)
        .run();
      expect(changed.changes).toBe(1);
    } finally {
      db.close();
    }
    const r = await sb.brr(['verify']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/udp-counter release #4/);
    expect(r.stderr).toContain('hint:');
  });

  it('verify of an unknown app is an error, not "ok … 0 releases"', async () => {
    const r = await sb.brr(['verify', '--app', 'no-such-app']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no app "no-such-app"');
    expect(r.stdout).not.toContain('ok');
  });

  it('an emptied ledger fails verify and status, and config set refuses to start a new history', async () => {
    await sb.brr(['shutdown']); // nothing may hold ledger.db open while it is emptied
    const file = path.join(sb.home, 'ledger.db');
    for (const f of [`${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    truncateSync(file, 0); // `: > ledger.db`
    const v = await sb.brr(['verify']);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/TAMPERED: udp-counter release #\d+: missing: .*emptied or replaced/);
    const status = await sb.brr(['status', '--json']);
    expect(status.stdout).toContain('"inSync": false');
    const set = await sb.brr(['config', 'set', 'NEW=1', '--no-run']);
    expect(set.code).toBe(1);
    expect(set.stderr).toContain('lost history this home witnessed');
    expect(set.stderr).toContain('BRR_NEW_HISTORY=udp-counter');
    expect((await sb.json<unknown[]>(['releases'])).length).toBe(0); // nothing appended
  });
});
