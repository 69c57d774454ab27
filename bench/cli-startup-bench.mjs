// CLI start-up vs Node's floor (issue 13): whole processes `node bin/brr.js CMD` for the
// read-only commands and `config set --no-run`, each paired with a `node -e 0` run just before
// it, so machine noise hits both sides alike; ratio = median(brr) / median(node -e 0). Runs from
// the sample app's repo (so the app comes from brr.yaml, as a user would type it) with one build
// and release in a fresh home. Run `npm run build` first; prints a markdown section on stdout.
//
//   node bench/cli-startup-bench.mjs [--runs N]
import { spawnSync } from 'node:child_process';
import { BRR, sandbox, stats } from './lib.mjs';

const i = process.argv.indexOf('--runs');
const RUNS = i > 0 ? Number(process.argv[i + 1]) : 15;
const sb = await sandbox();
const env = { ...process.env, BRR_HOME: sb.home, NO_COLOR: '1' };
// Wall time of the whole process, and its CPU time (user + sys, from bash's `time`), which other
// engineers' load on the shared cores disturbs far less than the wall clock.
const q = (a) => `'${a.replaceAll("'", "'\\''")}'`;
function time(args) {
  const t0 = performance.now();
  const r = spawnSync(
    'bash',
    ['-c', `TIMEFORMAT='%U %S'; time ${q(process.execPath)} ${args.map(q).join(' ')} >/dev/null`],
    {
      cwd: sb.repo,
      env,
      encoding: 'utf8',
    },
  );
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
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
try {
  sb.brr('build');
  sb.brr('config', 'set', 'GREETING=a');
  sb.brr('release');
  for (const c of cases) {
    process.stderr.write(`cli-startup: ${c.name}\n`);
    const floor = [];
    const brr = [];
    const floorCpu = [];
    const brrCpu = [];
    for (let r = 0; r < RUNS + 1; r++) {
      // Each `config set` changes a value, so every run records a release as a user's would.
      const extra = c.vary ? [`BENCH=${r}`] : [];
      const f = time(['-e', '0']);
      const b = time([BRR, ...c.args, ...extra]);
      if (r === 0) continue; // warm-up pair
      floor.push(f.ms);
      brr.push(b.ms);
      floorCpu.push(f.cpu);
      brrCpu.push(b.cpu);
    }
    const fm = stats(floor).median;
    const bm = stats(brr).median;
    const cpuRatio = stats(brrCpu).median / stats(floorCpu).median;
    rows.push({ ...c, floor: fm, brr: bm, ratio: bm / fm, cpuRatio });
  }
} finally {
  sb.cleanup();
}
const out = [
  '## CLI start-up vs `node -e 0`',
  '',
  `\`node bench/cli-startup-bench.mjs --runs ${RUNS}\` (after \`npm run build\`): whole processes from the sample`,
  `app's repo (app from brr.yaml), SQLite ledger, one release; medians of ${RUNS} paired runs. Node ${process.version}.`,
  '',
  '| command | `node -e 0` | brr | ratio (wall) | ratio (CPU) | goal |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| \`brr ${r.name}\` | ${r.floor.toFixed(1)} ms | ${r.brr.toFixed(1)} ms | ${r.ratio.toFixed(2)}× | ${r.cpuRatio.toFixed(2)}× | ≤ ${r.goal}× ${r.ratio <= r.goal ? '✓' : '✗'} |`,
  ),
  '',
];
process.stdout.write(out.join('\n'));
