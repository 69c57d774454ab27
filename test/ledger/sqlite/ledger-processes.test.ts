import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteLedger } from '../../../src/ledger/sqlite/ledger.js';

/**
 * Several real OS processes append to one ledger file at once. The workers run this very
 * driver: it is compiled on its own into a temp dir (not dist/, so a type error elsewhere in
 * the tree cannot block or skew this test), next to a node_modules link for better-sqlite3.
 */

const ROOT = path.resolve(import.meta.dirname, '../../..');
const WORKERS = 6;
const PER_WORKER = 30;
let dir: string;

const WORKER = `
import { openSqliteLedger } from './dist/ledger/sqlite/ledger.js';
const [file, worker, count] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const ledger = openSqliteLedger(file);
for (let i = 0; i < count; i++) {
  await ledger.appendRelease('race', async (latest) => {
    // Hold the write lock across real awaits, as a draft that reads the store would.
    await new Promise((r) => setTimeout(r, Math.random() * 3));
    return {
      build: { digest: 'sha256:' + 'a'.repeat(64), commit: 'b'.repeat(40) },
      config: { SAW: { value: latest ? latest.id : 'none', secret: false }, WRITER: { value: worker + ':' + i, secret: false } },
      formation: { web: 1 },
      cause: 'race ' + worker,
      message: null,
      actor: 'worker-' + worker,
      createdAt: new Date().toISOString(),
      rollbackOf: null,
    };
  });
  if (i % 3 === 0) await ledger.appendEvent('race', { type: 'activated', release: null, detail: { worker, i }, actor: 'worker-' + worker, createdAt: new Date().toISOString() });
}
await ledger.close();
`;

function run(file: string, worker: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(dir, 'worker.mjs'), file, String(worker), String(PER_WORKER)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('SqliteLedger with concurrent processes', () => {
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brr-ledger-procs-'));
    const tsc = spawnSync(
      process.execPath,
      [
        path.join(ROOT, 'node_modules/typescript/bin/tsc'),
        ...['--outDir', path.join(dir, 'dist'), '--rootDir', path.join(ROOT, 'src')],
        ...[
          '--module',
          'nodenext',
          '--moduleResolution',
          'nodenext',
          '--target',
          'es2022',
          '--strict',
          '--skipLibCheck',
          '--types',
          'node',
        ],
        path.join(ROOT, 'src/ledger/sqlite/ledger.ts'),
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(tsc.stdout + tsc.stderr).toBe('');
    fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    fs.writeFileSync(path.join(dir, 'worker.mjs'), WORKER);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`${WORKERS} processes × ${PER_WORKER} releases on a fresh file: ids 1..N, nothing lost, chain intact`, async () => {
    const file = path.join(dir, 'home', 'ledger.db');
    const results = await Promise.all(Array.from({ length: WORKERS }, (_, w) => run(file, w)));
    for (const r of results) expect(r.stderr).toBe('');
    expect(results.map((r) => r.code)).toEqual(Array(WORKERS).fill(0));

    const ledger = openSqliteLedger(file);
    try {
      const total = WORKERS * PER_WORKER;
      const releases = (await ledger.listReleases('race')).reverse();
      expect(releases.map((r) => r.id)).toEqual(Array.from({ length: total }, (_, i) => `v${i + 1}`));
      // Every draft saw its true predecessor: no two writers planned against the same latest.
      for (const r of releases) expect(r.config.SAW?.value).toBe(r.seq === 1 ? 'none' : `v${r.seq - 1}`);
      // Every worker's appends all landed, in that worker's order.
      for (let w = 0; w < WORKERS; w++) {
        const mine = releases.filter((r) => r.actor === `worker-${w}`).map((r) => r.config.WRITER?.value);
        expect(mine).toEqual(Array.from({ length: PER_WORKER }, (_, i) => `${w}:${i}`));
      }
      const events = await ledger.listEvents('race');
      expect(events.map((e) => e.seq)).toEqual(
        Array.from({ length: WORKERS * Math.ceil(PER_WORKER / 3) }, (_, i) => i + 1),
      );
      expect(await ledger.verify()).toMatchObject({ ok: true, releases: total, events: events.length, problems: [] });
    } finally {
      await ledger.close();
    }
  });
});
