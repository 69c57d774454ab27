#!/usr/bin/env node
// Ledger benchmark, PostgreSQL vs SQLite in one run: append latency (median, p99), then
// listReleases newest 20 and verify on 100,000 releases.
// Run after `npm run build`:  node bench/ledger-pg-bench.mjs [--releases 100000] [--samples 1000]
// Starts its own PostgreSQL 15 (initdb + pg_ctl as user postgres when root, loopback port,
// scram-sha-256, fsync on: durable commits on both sides). Markdown on stdout, progress on stderr.
//
// The 100,000 releases are filled in bulk, not by 100,000 appendRelease calls: bodies sealed by
// the drivers' own seal function (dist/ledger/seal.js) and correctly chained, inserted through
// Ledger.importEntries (the path `brr ledger import` takes). Append latency is measured separately
// through appendRelease itself.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { openPostgresLedger } from '../dist/ledger/postgres/ledger.js';
import { openSqliteLedger } from '../dist/ledger/sqlite/ledger.js';
import { draftFor } from './ledger-workload.mjs';
import { sealRelease } from '../dist/ledger/seal.js';
import { numberFlag } from './lib.mjs';

const flag = numberFlag;
const TOTAL = flag('--releases', 100_000);
const SAMPLES = flag('--samples', 1_000);
const log = (s) => process.stderr.write(`${s}\n`);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brr-ledger-pg-bench-'));

// --- a private PostgreSQL, as test/helpers/postgres.ts starts it -------------------------------
const BIN = ['/usr/lib/postgresql/15/bin', '/usr/local/bin'].find(
  (d) => fs.existsSync(path.join(d, 'pg_ctl')) && fs.existsSync(path.join(d, 'initdb')),
);
if (!BIN) {
  log(
    'PostgreSQL 15 binaries not found in /usr/lib/postgresql/15/bin or /usr/local/bin (apt-get install -y postgresql-15)',
  );
  process.exit(1);
}
const root = process.getuid?.() === 0;
const runPg = (bin, argv) => {
  const [cmd, a] = root
    ? ['runuser', ['-u', 'postgres', '--', path.join(BIN, bin), ...argv]]
    : [path.join(BIN, bin), argv];
  const r = spawnSync(cmd, a, { encoding: 'utf8', cwd: '/' });
  if (r.status !== 0) throw new Error(`${bin} failed: ${r.stdout}${r.stderr}`);
};
const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const pgDir = path.join(dir, 'pg');
const password = randomBytes(12).toString('hex');
let port;
async function startPostgres() {
  fs.mkdirSync(path.join(pgDir, 'sock'), { recursive: true });
  fs.writeFileSync(path.join(pgDir, 'pw'), `${password}\n`, { mode: 0o600 });
  if (root) {
    const id = (f) => Number(spawnSync('id', [f, 'postgres'], { encoding: 'utf8' }).stdout.trim());
    for (const p of [dir, pgDir, path.join(pgDir, 'sock'), path.join(pgDir, 'pw')]) fs.chownSync(p, id('-u'), id('-g'));
  }
  runPg('initdb', [
    '-D',
    path.join(pgDir, 'data'),
    '-U',
    'brr',
    '-A',
    'scram-sha-256',
    `--pwfile=${path.join(pgDir, 'pw')}`,
    '-E',
    'UTF8',
    '--locale=C',
  ]);
  port = await freePort();
  runPg('pg_ctl', [
    '-D',
    path.join(pgDir, 'data'),
    '-o',
    `-p ${port} -k ${path.join(pgDir, 'sock')} -c listen_addresses=127.0.0.1`,
    '-l',
    path.join(pgDir, 'log'),
    '-w',
    'start',
  ]);
  const admin = new pg.Client({ connectionString: `postgres://brr:${password}@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE bench');
  await admin.end();
  return `postgres://brr:${password}@127.0.0.1:${port}/bench`;
}

/** TOTAL correctly chained releases of `app`, sealed exactly as appendRelease would. */
function chain(app) {
  const rows = [];
  let latest = null;
  for (let i = 0; i < TOTAL; i++) {
    const s = sealRelease(app, latest, draftFor(i)(latest));
    rows.push({
      kind: 'release',
      app,
      seq: s.body.seq,
      id: s.body.id,
      body: s.text,
      hash: s.hash,
      prevHash: s.body.prevHash,
    });
    latest = { ...s.body, hash: s.hash };
  }
  return rows;
}

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const ms = (x) => `${x.toFixed(3)} ms`;
async function time(fn) {
  const t = performance.now();
  const r = await fn();
  return [performance.now() - t, r];
}
const median = async (n, fn) => {
  const runs = [];
  for (let i = 0; i < n; i++) runs.push(await time(fn));
  runs.sort((a, b) => a[0] - b[0]);
  return runs[Math.floor(n / 2)];
};

async function measure(name, ledger, rows) {
  log(`${name}: ${SAMPLES} appends`);
  const lat = [];
  for (let i = 0; i < SAMPLES; i++) lat.push((await time(() => ledger.appendRelease('upf-append', draftFor(i))))[0]);
  log(`${name}: filling ${TOTAL} releases`);
  const [fillMs] = await time(() => ledger.importEntries(rows));
  const [list20Total] = await time(async () => {
    for (let i = 0; i < 200; i++) await ledger.listReleases('upf', { limit: 20 });
  });
  const [latestMs] = await median(21, () => ledger.latestRelease('upf'));
  log(`${name}: verify`);
  const [verifyMs, result] = await median(3, () => ledger.verify('upf'));
  if (!result.ok || result.releases !== TOTAL)
    throw new Error(`${name}: bench ledger inconsistent: ${JSON.stringify(result)}`);
  return { median: pct(lat, 50), p99: pct(lat, 99), fillMs, list20: list20Total / 200, latestMs, verifyMs };
}

try {
  const url = await startPostgres();
  log(`sealing ${TOTAL} releases`);
  const rows = chain('upf');
  const sqlite = openSqliteLedger(path.join(dir, 'ledger.db'));
  const s = await measure('sqlite', sqlite, rows);
  await sqlite.close();
  const pgLedger = await openPostgresLedger(url);
  const p = await measure('postgres', pgLedger, rows);
  await pgLedger.close();

  const n = TOTAL.toLocaleString('en');
  const row = (what, a, b) => `| ${what} | ${a} | ${b} |`;
  process.stdout.write(
    [
      '## Ledger: PostgreSQL vs SQLite',
      '',
      `Same run, same machine: PostgreSQL 15 on loopback TCP (pg Pool, fsync on, synchronous_commit on) vs SQLite WAL (synchronous=FULL). ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.version}, load average ${os.loadavg()[0].toFixed(1)} at the end.`,
      `The ${n} releases are filled through Ledger.importEntries with bodies sealed by seal.ts (a bulk path); appends are timed through appendRelease.`,
      '',
      '| measurement | PostgreSQL | SQLite |',
      '|---|---|---|',
      row(`appendRelease, median of ${SAMPLES}`, ms(p.median), ms(s.median)),
      row(`appendRelease, p99 of ${SAMPLES}`, ms(p.p99), ms(s.p99)),
      row(
        `fill ${n} releases (importEntries, one transaction)`,
        `${(p.fillMs / 1000).toFixed(1)} s`,
        `${(s.fillMs / 1000).toFixed(1)} s`,
      ),
      row(`latestRelease of ${n} (median of 21)`, ms(p.latestMs), ms(s.latestMs)),
      row(`listReleases newest 20 of ${n} (mean of 200)`, ms(p.list20), ms(s.list20)),
      row(`verify ${n} releases (median of 3)`, ms(p.verifyMs), ms(s.verifyMs)),
      '',
      'Command: `npm run build && node bench/ledger-pg-bench.mjs`',
      '',
    ].join('\n'),
  );
} finally {
  if (port) {
    try {
      runPg('pg_ctl', ['-D', path.join(pgDir, 'data'), '-m', 'fast', '-w', 'stop']);
    } catch (e) {
      log(String(e));
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
