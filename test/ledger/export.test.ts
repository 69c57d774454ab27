import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import readline from 'node:readline';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { sha256Hex } from '../../src/core/canonical-json.js';
import { registerLedgerCommands } from '../../src/cli/commands/ledger.js';
import type { Ledger, NewEvent, ReleaseDraft } from '../../src/ledger/ledger.js';
import { exportLedgerLines, importLedger } from '../../src/ledger/export.js';
import { openPostgresLedger } from '../../src/ledger/postgres/ledger.js';
import { openSqliteLedger } from '../../src/ledger/sqlite/ledger.js';
import { missingPostgres, startPostgres, type PgServer } from '../helpers/postgres.js';
import { COMMIT_A, DIGEST_A, NOW } from '../release/fixtures.js';

/** `brr ledger export | import`: a history leaves one ledger and arrives in another byte for byte. */

const skip = missingPostgres();
let server: PgServer | undefined;
let dir: string;
let dbs = 0;

beforeAll(async () => {
  if (!skip) server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brr-export-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const draft = (i: number): ReleaseDraft => ({
  build: { digest: DIGEST_A, commit: COMMIT_A },
  config: { LEVEL: { value: `level-${i}`, secret: false }, TOKEN: { value: `s3cr3t-ü-${i}\n"`, secret: true } },
  formation: { web: 1 + (i % 3) },
  cause: i % 4 === 0 ? `rollback to v${i - 1}` : `set LEVEL ${i}`,
  message: i % 5 === 0 ? 'déploiement ☃' : null,
  actor: `op${i % 2}@host`,
  createdAt: new Date(NOW.getTime() + i * 1000).toISOString(),
  rollbackOf: null,
});
const event = (type: NewEvent['type'], release: string | null, detail: Record<string, unknown> = {}): NewEvent => ({
  type,
  release,
  detail,
  actor: 'sup',
  createdAt: NOW.toISOString(),
});

/** A SQLite ledger with two apps' histories (and a lease, which is not history). */
async function sourceLedger(): Promise<{ file: string; ledger: Ledger }> {
  const file = path.join(dir, 'src-home', 'ledger.db');
  const ledger = openSqliteLedger(file);
  await ledger.appendEvent(
    'upf',
    event('config-staged', null, { set: { A: { value: '1', secret: false } }, unset: [] }),
  );
  for (let i = 1; i <= 25; i++) {
    await ledger.appendRelease('upf', () => draft(i));
    await ledger.appendEvent('upf', event(i % 3 ? 'activated' : 'failed', `v${i}`, { i, reason: ',"prevHash":null' }));
  }
  for (let i = 1; i <= 3; i++) await ledger.appendRelease('smf', () => draft(i));
  await ledger.acquireLease('upf', { owner: 'op@host', host: 'host', pid: 1 }, 60_000, NOW);
  return { file, ledger };
}

async function exportText(ledger: Ledger, apps: string[]): Promise<string> {
  let text = '';
  for await (const line of exportLedgerLines(ledger, apps)) text += `${line}\n`;
  return text;
}
const linesOf = (text: string) => readline.createInterface({ input: Readable.from([text]), crlfDelay: Infinity });

async function history(ledger: Ledger, app: string) {
  return { releases: await ledger.listReleases(app), events: await ledger.listEvents(app) };
}

/** Runs `brr ledger …` in-process through commander, capturing stdout. */
async function brr(args: string[]): Promise<string> {
  const program = new Command('brr').exitOverride();
  registerLedgerCommands(program);
  let stdout = '';
  const spy = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  try {
    await program.parseAsync(['node', 'brr', ...args]);
  } finally {
    spy.mockRestore();
  }
  return stdout;
}

describe('ledger export/import between SQLite files', () => {
  it('refuses a tampered export naming its line, and writes nothing', async () => {
    const { ledger } = await sourceLedger();
    const text = await exportText(ledger, ['upf']);
    await ledger.close();
    const lines = text.trimEnd().split('\n');
    const at = lines.findIndex((l) => l.includes('"seq":7,') && l.startsWith('{"kind":"release"'));
    const target = openSqliteLedger(path.join(dir, 'dst', 'ledger.db'));
    try {
      const edited = [...lines];
      edited[at] = lines[at]!.replace('level-7', 'level-X');
      await expect(importLedger(target, linesOf(edited.join('\n')))).rejects.toMatchObject({
        code: 'ledger_import_invalid',
        exitCode: 2,
        message: expect.stringMatching(new RegExp(`^line ${at + 1}: upf release #7: hash mismatch`)),
      });

      // A forger who also fixes the hash is caught one line later, by the next entry's link.
      const body = (JSON.parse(edited[at]!) as { body: string }).body;
      const forged = JSON.parse(edited[at]!) as Record<string, unknown>;
      edited[at] = JSON.stringify({ ...forged, hash: sha256Hex(body) });
      await expect(importLedger(target, linesOf(edited.join('\n')))).rejects.toMatchObject({
        message: expect.stringMatching(new RegExp(`^line ${at + 2}: upf release #8: prevHash does not match`)),
      });

      // Dropping an entry, or cutting the file off, is refused too.
      await expect(importLedger(target, linesOf(lines.filter((_, i) => i !== at).join('\n')))).rejects.toMatchObject({
        code: 'ledger_import_invalid',
        message: expect.stringContaining('promises 25 releases'),
      });
      await expect(importLedger(target, linesOf(lines.slice(0, -1).join('\n')))).rejects.toMatchObject({
        message: expect.stringContaining('cut off'),
      });
      await expect(importLedger(target, linesOf('{"kind":"release"}\n'))).rejects.toMatchObject({
        message: expect.stringMatching(/^line 1: not a brr ledger export/),
      });
      expect(await target.listApps()).toEqual([]);

      // The untouched file imports; a second import into the same app is refused.
      expect(await importLedger(target, linesOf(text))).toEqual([{ app: 'upf', releases: 25, events: 26 }]);
      await expect(importLedger(target, linesOf(text))).rejects.toMatchObject({ code: 'ledger_import_not_empty' });
      expect(await target.verify()).toMatchObject({ ok: true, releases: 25, events: 26, problems: [] });
    } finally {
      await target.close();
    }
  });
});

describe.skipIf(!!skip)(`ledger export/import SQLite → PostgreSQL${skip ? ` (${skip})` : ''}`, () => {
  it('moves every app intact through the CLI: same bodies, same hashes, verify ok', async () => {
    const { file, ledger } = await sourceLedger();
    const before = { upf: await history(ledger, 'upf'), smf: await history(ledger, 'smf') };
    await ledger.close();
    const url = await server!.createDatabase(`x${++dbs}`);
    const exported = path.join(dir, 'history.jsonl');
    const home = path.dirname(file);

    expect(await brr(['ledger', 'export', '--home', home, '--all', '--out', exported, '--json'])).toContain(
      '"releases": 25',
    );
    expect(fs.statSync(exported).mode & 0o777).toBe(0o600);
    const out = await brr([
      'ledger',
      'import',
      exported,
      '--home',
      path.join(dir, 'other-home'),
      '--ledger',
      url,
      '--json',
    ]);
    expect(out).not.toContain(server!.password);
    expect(JSON.parse(out)).toEqual({
      file: exported,
      apps: [
        { app: 'smf', releases: 3, events: 0 },
        { app: 'upf', releases: 25, events: 26 },
      ],
    });

    const pgLedger = await openPostgresLedger(url);
    try {
      expect(await pgLedger.verify()).toMatchObject({ ok: true, releases: 28, events: 26, problems: [] });
      expect({ upf: await history(pgLedger, 'upf'), smf: await history(pgLedger, 'smf') }).toEqual(before);
      expect(await pgLedger.getLease('upf')).toBeNull();
      // The imported chain continues: the next release links to the imported head.
      const next = await pgLedger.appendRelease('upf', () => draft(26));
      expect([next.id, next.prevHash]).toEqual(['v26', before.upf.releases[0]!.hash]);
      // And it exports back to the very same lines.
      const again = await exportText(pgLedger, ['smf']);
      const fromFile = fs
        .readFileSync(exported, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"app":"smf"') || l.includes('"kind":"header"'));
      expect(again.trimEnd().split('\n')).toEqual(fromFile);
      await expect(
        importLedger(pgLedger, linesOf(fs.readFileSync(exported, 'utf8')), { app: 'smf' }),
      ).rejects.toMatchObject({ code: 'ledger_import_not_empty' });
    } finally {
      await pgLedger.close();
    }
  });

  it('imports one app with --app, and refuses a tampered file before touching PostgreSQL', async () => {
    const { ledger } = await sourceLedger();
    const text = await exportText(ledger, ['upf', 'smf']);
    await ledger.close();
    const pgLedger = await openPostgresLedger(await server!.createDatabase(`x${++dbs}`));
    try {
      const tampered = text.replace('level-3', 'level-9');
      const line = text.split('\n').findIndex((l) => l.includes('level-3')) + 1;
      await expect(importLedger(pgLedger, linesOf(tampered))).rejects.toMatchObject({
        message: expect.stringMatching(new RegExp(`^line ${line}: `)),
      });
      expect(await pgLedger.listApps()).toEqual([]);
      expect(await importLedger(pgLedger, linesOf(tampered), { app: 'smf' })).toEqual([
        { app: 'smf', releases: 3, events: 0 },
      ]);
      expect(await pgLedger.listApps()).toEqual(['smf']);
    } finally {
      await pgLedger.close();
    }
  });
});
