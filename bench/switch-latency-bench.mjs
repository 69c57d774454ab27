// Switch latency (issue 13 goal: ≤ 600 ms beyond the app's own start-up): `brr config set` on a
// running app with a 50 ms health interval, timed from the command's start to the old process
// being told to stop (SIGTERM). The app's own start-up — from its process's birth
// (performance.timeOrigin) to its first /healthz request — is measured inside the process by a
// preloaded stamp (NODE_OPTIONS=--require, set as app config) and subtracted, so what remains is
// brr's share: CLI start-up, ledger, supervisor spawn, health polling, the hand-off.
// Run `npm run build` first; prints a markdown section on stdout.
//
//   node bench/switch-latency-bench.mjs [--runs N]
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BRR, fmt, sandbox, stats } from './lib.mjs';

const i = process.argv.indexOf('--runs');
const RUNS = i > 0 ? Number(process.argv[i + 1]) : 9;
const sb = await sandbox((y) => y.replace('timeout: 15s', 'timeout: 15s, interval: 50ms'));
const stampLog = path.join(sb.dir, 'stamps.log');
const stamp = path.join(sb.dir, 'stamp.cjs');
writeFileSync(stampLog, '');
writeFileSync(
  stamp,
  `const fs = require('node:fs');
const http = require('node:http');
const log = (what) => fs.appendFileSync(${JSON.stringify(stampLog)}, what + ' ' + process.pid + ' ' + Date.now() + '\\n');
log('born ' + Math.round(performance.timeOrigin));
process.prependListener('SIGTERM', () => log('term'));
const emit = http.Server.prototype.emit;
let first = true;
http.Server.prototype.emit = function (ev, req, ...rest) {
  if (first && ev === 'request' && req.url === '/healthz') { first = false; log('healthz'); }
  return emit.call(this, ev, req, ...rest);
};
`,
);
const env = { ...process.env, BRR_HOME: sb.home, NO_COLOR: '1' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Lines are "born <timeOrigin> <pid> <now>" (the birth is the process's timeOrigin) or "<what> <pid> <now>".
const stamps = () =>
  readFileSync(stampLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' '))
    .map(([what, a, b]) => (what === 'born' ? { what, pid: b, at: Number(a) } : { what, pid: a, at: Number(b) }));
const rows = [];
try {
  sb.brr('build');
  sb.brr('config', 'set', 'GREETING=a', `NODE_OPTIONS=--require ${stamp}`);
  sb.brr('release');
  sb.brr('run');
  await sleep(500);
  for (let r = 0; r < RUNS + 1; r++) {
    const before = stamps().length;
    const oldPids = new Set(
      stamps()
        .filter((s) => s.what === 'born')
        .map((s) => s.pid),
    );
    const t0 = Date.now();
    const c = spawnSync(process.execPath, [BRR, 'config', 'set', `GREETING=v${r}`], {
      cwd: sb.repo,
      env,
      encoding: 'utf8',
    });
    const t1 = Date.now();
    if (c.status !== 0) throw new Error(`brr config set failed: ${c.stderr}`);
    await sleep(600); // the old process's drain, out of the next measurement
    const fresh = stamps().slice(before);
    const born = fresh.find((s) => s.what === 'born' && !oldPids.has(s.pid));
    const healthz = born && fresh.find((s) => s.what === 'healthz' && s.pid === born.pid);
    const term = fresh.find((s) => s.what === 'term' && oldPids.has(s.pid));
    if (!born || !healthz || !term) throw new Error(`switch ${r}: missing stamps ${JSON.stringify(fresh)}`);
    if (r === 0) continue; // warm-up
    const toStop = term.at - t0;
    const appStart = healthz.at - born.at;
    rows.push({ toStop, appStart, beyond: toStop - appStart, command: t1 - t0, spawnAfter: born.at - t0 });
  }
} finally {
  sb.cleanup();
}
const m = (k) => stats(rows.map((r) => r[k])).median;
process.stdout.write(
  [
    '## Switch latency (`brr config set` on a running app)',
    '',
    `\`node bench/switch-latency-bench.mjs --runs ${RUNS}\` (after \`npm run build\`): the sample NF with a 50 ms health`,
    `interval; medians of ${RUNS} switches. Node ${process.version}.`,
    '',
    '| measure | median |',
    '|---|---:|',
    `| command start → new process born | ${fmt(m('spawnAfter'))} |`,
    `| app's own start-up (birth → first /healthz) | ${fmt(m('appStart'))} |`,
    `| command start → old process told to stop | ${fmt(m('toStop'))} |`,
    `| **beyond the app's start-up** (goal ≤ 600 ms) | **${fmt(m('beyond'))}** ${m('beyond') <= 600 ? '✓' : '✗'} |`,
    `| whole command (includes the old process's drain) | ${fmt(m('command'))} |`,
    '',
  ].join('\n'),
);
