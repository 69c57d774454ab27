import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresLedger } from '../../../src/ledger/postgres/ledger.js';
import { missingPostgres, startPostgres, type PgServer } from '../../helpers/postgres.js';

/**
 * Several real OS processes, each playing a different host, write to one PostgreSQL ledger at
 * once: racing plain appends (serialized by the per-app advisory lock) and leased deploys
 * (serialized by the lease, fenced by its token). The workers run this very driver, compiled on
 * its own into a temp dir as in the SQLite process test. They also open the brand-new database
 * all at once, so the concurrent schema migration is exercised too.
 */

const ROOT = path.resolve(import.meta.dirname, '../../..');
const WORKERS = 6;
const PER_WORKER = 25;
const DEPLOYS = 3;
const skip = missingPostgres();
let dir: string;
let server: PgServer;

const WORKER = `
import { openPostgresLedger } from './dist/ledger/postgres/ledger.js';
const [url, worker, count, deploys] = [process.env.LEDGER_URL, process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const host = 'host-' + worker;
const ledger = await openPostgresLedger(url);
const draft = (latest, extra) => ({
  build: { digest: 'sha256:' + 'a'.repeat(64), commit: 'b'.repeat(40) },
  config: { SAW: { value: latest ? latest.id : 'none', secret: false }, ...extra },
  formation: { web: 1 },
  cause: 'race ' + worker,
  message: null,
  actor: 'worker-' + worker + '@' + host,
  createdAt: new Date().toISOString(),
  rollbackOf: null,
});
for (let i = 0; i < count; i++) {
  await ledger.appendRelease('race', async (latest) => {
    await new Promise((r) => setTimeout(r, Math.random() * 3));
    return draft(latest, { WRITER: { value: worker + ':' + i, secret: false } });
  });
  if (i % 5 === 0) await ledger.appendEvent('race', { type: 'activated', release: null, detail: { worker, i }, actor: 'worker-' + worker, createdAt: new Date().toISOString() });
}
// Leased deploys: wait for the lease, write fenced, give it back.
for (let d = 0; d < deploys; d++) {
  let lease;
  for (;;) {
    try {
      lease = await ledger.acquireLease('leased', { owner: 'worker-' + worker, host, pid: process.pid }, 10_000, new Date());
      break;
    } catch (e) {
      if (e.code !== 'lease_held') throw e;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
    }
  }
  const r = await ledger.appendRelease('leased', (latest) => draft(latest, { TOKEN: { value: String(lease.token), secret: false } }), { fence: lease.token });
  await ledger.appendEvent('leased', { type: 'activated', release: r.id, detail: { token: lease.token }, actor: 'worker-' + worker, createdAt: new Date().toISOString() }, { fence: lease.token });
  await ledger.releaseLease('leased', lease.token);
}
await ledger.close();
`;

function run(url: string, worker: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [path.join(dir, 'worker.mjs'), String(worker), String(PER_WORKER), String(DEPLOYS)],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LEDGER_URL: url } },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe.skipIf(!!skip)(`PostgresLedger with concurrent processes on several hosts${skip ? ` (${skip})` : ''}`, () => {
  beforeAll(async () => {
    server = await startPostgres();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brr-pg-procs-'));
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
          '--esModuleInterop',
          '--types',
          'node',
        ],
        path.join(ROOT, 'src/ledger/postgres/ledger.ts'),
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(tsc.stdout + tsc.stderr).toBe('');
    fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    fs.writeFileSync(path.join(dir, 'worker.mjs'), WORKER);
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`${WORKERS} processes × ${PER_WORKER} releases + ${DEPLOYS} leased deploys each: ids 1..N, nothing lost, chain intact`, async () => {
    const url = await server.createDatabase('race');
    const results = await Promise.all(Array.from({ length: WORKERS }, (_, w) => run(url, w)));
    for (const r of results) expect(r.stderr).toBe('');
    expect(results.map((r) => r.code)).toEqual(Array(WORKERS).fill(0));

    const ledger = await openPostgresLedger(url);
    try {
      const total = WORKERS * PER_WORKER;
      const releases = (await ledger.listReleases('race')).reverse();
      expect(releases.map((r) => r.id)).toEqual(Array.from({ length: total }, (_, i) => `v${i + 1}`));
      // Every draft saw its true predecessor: no two writers planned against the same latest.
      for (const r of releases) expect(r.config.SAW?.value).toBe(r.seq === 1 ? 'none' : `v${r.seq - 1}`);
      for (let w = 0; w < WORKERS; w++) {
        const mine = releases.filter((r) => r.actor === `worker-${w}@host-${w}`).map((r) => r.config.WRITER?.value);
        expect(mine).toEqual(Array.from({ length: PER_WORKER }, (_, i) => `${w}:${i}`));
      }
      const events = await ledger.listEvents('race');
      expect(events.map((e) => e.seq)).toEqual(
        Array.from({ length: WORKERS * Math.ceil(PER_WORKER / 5) }, (_, i) => i + 1),
      );

      // Leased deploys: one token per deploy, never shared, in the order the releases landed.
      const leased = (await ledger.listReleases('leased')).reverse();
      const tokens = leased.map((r) => Number(r.config.TOKEN?.value));
      expect(leased).toHaveLength(WORKERS * DEPLOYS);
      expect(tokens).toEqual(Array.from({ length: WORKERS * DEPLOYS }, (_, i) => i + 1));
      expect((await ledger.listEvents('leased')).map((e) => e.detail.token)).toEqual(tokens);
      expect(await ledger.getLease('leased')).toBeNull();
      expect(await ledger.verify()).toMatchObject({
        ok: true,
        releases: total + leased.length,
        events: events.length + leased.length,
        problems: [],
      });
    } finally {
      await ledger.close();
    }
  });
});
