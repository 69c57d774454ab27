// CLI start-up vs Node's floor (issue 13): whole processes `node bin/brr.js CMD` for the
// read-only commands and `config set --no-run`, each paired with a `node -e 0` run just before
// it, so machine noise hits both sides alike; ratio = median(brr) / median(node -e 0). Runs from
// the sample app's repo (so the app comes from brr.yaml, as a user would type it) with one build
// and release in a fresh home. Run `npm run build` first; prints a markdown section on stdout.
//
// Then the read-only commands again on a home whose ledger holds a long history (--history N
// releases, each with its switch-started and activated events; 0 skips it): what they read must
// not grow with it.
//
//   node bench/cli-startup-bench.mjs [--runs N] [--history N]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BRR, numberFlag, sandbox, stats } from './lib.mjs';
import { fillHistory } from './ledger-workload.mjs';

const i = process.argv.indexOf('--runs');
const RUNS = i > 0 ? Number(process.argv[i + 1]) : 15;
const HISTORY = numberFlag('--history', 100_000);
const sb = await sandbox();
let env = { ...process.env, BRR_HOME: sb.home, NO_COLOR: '1' };
let cwd = sb.repo;
// Wall time of the whole process, and its CPU time (user + sys, from bash's `time`), which other
// engineers' load on the shared cores disturbs far less than the wall clock.
const q = (a) => `'${a.replaceAll("'", "'\\''")}'`;
function time(args, exitCodes = [0]) {
  const t0 = performance.now();
  const r = spawnSync(
    'bash',
    ['-c', `TIMEFORMAT='%U %S'; time ${q(process.execPath)} ${args.map(q).join(' ')} >/dev/null`],
    {
      cwd,
      env,
      encoding: 'utf8',
    },
  );
  const ms = performance.now() - t0;
  if (!exitCodes.includes(r.status)) throw new Error(`node ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  const [u, sys] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  return { ms, cpu: (u + sys) * 1000 };
}
const cases = [
  { name: 'status', args: ['status'], goal: 1.5 },
  { name: 'releases', args: ['releases'], goal: 1.5 },
  { name: 'ps', args: ['ps'], goal: 1.5 },
  { name: 'config', args: ['config'], goal: 1.5 },
  { name: 'show v1', args: ['show', 'v1'], goal: 1.5 },
  { name: 'config set --no-run', args: ['config', 'set', '--no-run'], goal: 2, vary: true },
];
const rows = [];
/** Paired runs of each case (after a warm-up pair); the medians and ratios go to `into`. */
function measure(list, into) {
  for (const c of list) {
    process.stderr.write(`cli-startup: ${c.name}\n`);
    const floor = [];
    const brr = [];
    const floorCpu = [];
    const brrCpu = [];
    for (let r = 0; r < RUNS + 1; r++) {
      // Each `config set` changes a value, so every run records a release as a user's would.
      const extra = c.vary ? [`BENCH=${r}`] : [];
      const f = time(['-e', '0']);
      const b = time([BRR, ...c.args, ...extra], c.exitCodes);
      if (r === 0) continue; // warm-up pair
      floor.push(f.ms);
      brr.push(b.ms);
      floorCpu.push(f.cpu);
      brrCpu.push(b.cpu);
    }
    const fm = stats(floor).median;
    const bm = stats(brr).median;
    const cpuRatio = stats(brrCpu).median / stats(floorCpu).median;
    into.push({ ...c, floor: fm, brr: bm, ratio: bm / fm, cpuRatio });
  }
}
try {
  sb.brr('build');
  sb.brr('config', 'set', 'GREETING=a');
  sb.brr('release');
  measure(cases, rows);
} finally {
  sb.cleanup();
}

// The long history: a ledger filled through the driver (ledger-workload.mjs, as api-bench.mjs).
const longRows = [];
if (HISTORY > 0) {
  const home = mkdtempSync(path.join(os.tmpdir(), 'brr-long-history-'));
  try {
    process.stderr.write(`cli-startup: filling ${HISTORY} releases\n`);
    await fillHistory(path.join(home, 'ledger.db'), HISTORY);
    env = { ...process.env, BRR_HOME: home, NO_COLOR: '1' };
    cwd = home;
    const app = ['--app', 'upf'];
    measure(
      [
        // Nothing runs what the history says ran: status exits 1, as it should.
        { name: 'status', args: ['status', ...app], goal: 1.5, exitCodes: [1] },
        { name: 'releases', args: ['releases', ...app], goal: 1.5 },
        { name: 'config', args: ['config', ...app], goal: 1.5 },
        { name: `show v${HISTORY}`, args: ['show', `v${HISTORY}`, ...app], goal: 1.5 },
        // The newest release never runs here, so each change also asks whether it ever ran.
        { name: 'config set --no-run', args: ['config', 'set', '--no-run', ...app], goal: 2, vary: true },
        // Not among the issue's read-only commands (it loads the Kubernetes command module): shown, no goal.
        { name: 'apps', args: ['apps'], goal: null },
      ],
      longRows,
    );
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
const table = (list) => [
  '| command | `node -e 0` | brr | ratio (wall) | ratio (CPU) | goal |',
  '|---|---:|---:|---:|---:|---:|',
  ...list.map(
    (r) =>
      `| \`brr ${r.name}\` | ${r.floor.toFixed(1)} ms | ${r.brr.toFixed(1)} ms | ${r.ratio.toFixed(2)}× | ${r.cpuRatio.toFixed(2)}× | ${r.goal === null ? '—' : `≤ ${r.goal}× ${r.ratio <= r.goal ? '✓' : '✗'}`} |`,
  ),
];
const out = [
  '## CLI start-up vs `node -e 0`',
  '',
  `\`node bench/cli-startup-bench.mjs --runs ${RUNS} --history ${HISTORY}\` (after \`npm run build\`): whole processes from the sample`,
  `app's repo (app from brr.yaml), SQLite ledger, one release; medians of ${RUNS} paired runs. Node ${process.version}.`,
  '',
  ...table(rows),
  '',
  ...(longRows.length > 0
    ? [
        `The same on a ledger holding ${HISTORY.toLocaleString('en-US')} releases of app \`upf\` and ${(2 * HISTORY).toLocaleString('en-US')} run-stage events`,
        '(`switch-started`, `activated` per release), `--app upf`:',
        '',
        ...table(longRows),
        '',
      ]
    : []),
];
process.stdout.write(out.join('\n'));
