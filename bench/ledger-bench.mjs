#!/usr/bin/env node
// Ledger benchmark: append latency, history listing and verify on 100,000 releases.
// Run after `npm run build`:  node bench/ledger-bench.mjs [--releases 100000]
// Prints a markdown section (`## Ledger`) on stdout; progress goes to stderr.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openSqliteLedger } from '../dist/ledger/sqlite/ledger.js';
import { draftFor } from './ledger-workload.mjs';
import { numberFlag } from './lib.mjs';

const flag = numberFlag;
const TOTAL = flag('--releases', 100_000);
const SAMPLES = flag('--samples', 2_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brr-ledger-bench-'));
const log = (s) => process.stderr.write(`${s}\n`);

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (x) => x.toFixed(3);
async function time(fn) {
  const t = performance.now();
  const cpu = process.cpuUsage();
  const r = await fn();
  const used = process.cpuUsage(cpu);
  return [performance.now() - t, r, (used.user + used.system) / 1000];
}

try {
  // 1. Append latency with the default durability (WAL fsync on every commit).
  const appendFile = path.join(dir, 'append.db');
  const ledger = openSqliteLedger(appendFile);
  const lat = [];
  for (let i = 0; i < SAMPLES; i++) lat.push((await time(() => ledger.appendRelease('upf', draftFor(i))))[0]);
  await ledger.close();
  lat.sort((a, b) => a - b);
  log(`append: ${SAMPLES} samples`);

  // 2. A ledger of TOTAL releases. Filled through appendRelease itself (the real code path), with
  //    durability 'normal' so the fill is not bound by one fsync per release; reads don't care.
  const bigFile = path.join(dir, 'big.db');
  const big = openSqliteLedger(bigFile, { durability: 'normal' });
  const [fillMs] = await time(async () => {
    for (let i = 0; i < TOTAL; i++) {
      await big.appendRelease('upf', draftFor(i));
      if ((i + 1) % 20_000 === 0) log(`filled ${i + 1}`);
    }
  });
  await big.close();
  const sizeMb = fs.statSync(bigFile).size / 1e6;

  // 3. Reads on a freshly opened handle, as a CLI command would see them.
  const reader = openSqliteLedger(bigFile);
  const [openMs] = await time(async () => reader.latestRelease('upf'));
  const rounds = (n, fn) =>
    time(async () => {
      for (let i = 0; i < n; i++) await fn();
    }).then(([t]) => t / n);
  const list20 = await rounds(200, () => reader.listReleases('upf', { limit: 20 }));
  // Median of 5: on a shared machine a single run of a 100k scan swings by 2x with the load.
  const median5 = async (fn) => {
    const runs = [];
    for (let i = 0; i < 5; i++) runs.push(await time(fn));
    runs.sort((a, b) => a[0] - b[0]);
    return runs[2];
  };
  const [listAll, all, listAllCpu] = await median5(() => reader.listReleases('upf'));
  const [verifyMs, result, verifyCpu] = await median5(() => reader.verify());
  await reader.close();
  if (all.length !== TOTAL || !result.ok || result.releases !== TOTAL)
    throw new Error(`bench ledger inconsistent: ${JSON.stringify(result)}`);

  const row = (what, value, goal) => `| ${what} | ${value} | ${goal} |`;
  const out = [
    '## Ledger',
    '',
    `SQLite ledger (WAL, better-sqlite3), ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.version}, load average ${os.loadavg()[0].toFixed(1)} at the end.`,
    '',
    '| measurement | result | goal |',
    '|---|---|---|',
    row(`append release, median of ${SAMPLES} (synchronous=FULL)`, `${ms(pct(lat, 50))} ms`, '< 2 ms'),
    row(`append release, p99 of ${SAMPLES}`, `${ms(pct(lat, 99))} ms`, ''),
    row(
      `fill ${TOTAL.toLocaleString('en')} releases via appendRelease (synchronous=NORMAL)`,
      `${(fillMs / 1000).toFixed(1)} s (${ms(fillMs / TOTAL)} ms each), ${sizeMb.toFixed(0)} MB`,
      '',
    ),
    row('open + latestRelease', `${ms(openMs)} ms`, ''),
    row(`listReleases newest 20 of ${TOTAL.toLocaleString('en')}`, `${ms(list20)} ms`, '≪ 1 s'),
    row(
      `listReleases all ${TOTAL.toLocaleString('en')} (median of 5)`,
      `${ms(listAll)} ms (CPU ${ms(listAllCpu)} ms)`,
      '< 1 s',
    ),
    row(
      `verify ${TOTAL.toLocaleString('en')} releases (median of 5)`,
      `${ms(verifyMs)} ms (CPU ${ms(verifyCpu)} ms)`,
      '< 1 s',
    ),
    '',
    'Command: `npm run build && node bench/ledger-bench.mjs`',
    '',
  ];
  process.stdout.write(out.join('\n'));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
