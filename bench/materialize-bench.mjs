// Run stage: what checking a release directory before it runs costs (issue 11, item 4). A 20 MB
// release (400 files of 50 KB of random bytes, in 20 directories) is built and materialized
// once; then starting it again (materializeRelease on the existing directory) is timed as
// today's start did it (read the marker file) and as it does now (the marker plus an lstat of
// every entry against the snapshot taken when it was materialized). For scale: a full
// re-materialization from the verified store. Run `npm run build` first.
//
//   node bench/materialize-bench.mjs [--runs N]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildImage } from '../dist/build/build.js';
import { homePaths } from '../dist/core/home.js';
import { MARKER, materializeRelease } from '../dist/store/materialize.js';
import { removeTree } from '../dist/store/remove-tree.js';
import { fmt, stats } from './lib.mjs';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 30;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'brr-bench-materialize-'));

function git(cwd, args) {
  const env = { ...process.env, GIT_AUTHOR_DATE: '2024-05-06T07:08:09Z', GIT_COMMITTER_DATE: '2024-05-06T07:08:09Z' };
  const base = ['-c', 'user.name=bench', '-c', 'user.email=bench@brr.invalid', '-c', 'init.defaultBranch=main'];
  return execFileSync('git', [...base, '-c', 'commit.gpgsign=false', ...args], { cwd, env, encoding: 'utf8' }).trim();
}

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

try {
  const repo = path.join(scratch, 'repo');
  mkdirSync(repo);
  writeFileSync(
    path.join(repo, 'brr.yaml'),
    'app: big\nprocesses:\n  web:\n    command: node main.mjs\n    ports: [{ name: http, port: 8080, protocol: tcp }]\n',
  );
  writeFileSync(path.join(repo, 'main.mjs'), 'setInterval(() => {}, 1000);\n');
  for (let d = 0; d < 20; d++) {
    mkdirSync(path.join(repo, 'data', `d${d}`), { recursive: true });
    for (let f = 0; f < 20; f++) writeFileSync(path.join(repo, 'data', `d${d}`, `f${f}.bin`), randomBytes(50 * 1024));
  }
  git(repo, ['init', '-q']);
  git(repo, ['add', '-A']);
  git(repo, ['commit', '-q', '-m', 'big']);
  const paths = homePaths(path.join(scratch, 'home'));
  const { digest } = await buildImage({ paths, repo });
  const dir = await materializeRelease(paths, 'big', 'v1', digest);

  // Today's start: the marker file alone.
  const before = [];
  const now = [];
  for (let i = 0; i < RUNS; i++) {
    before.push(
      await timed(async () => {
        if (readFileSync(path.join(dir, MARKER), 'utf8').trim() !== digest) throw new Error('marker');
      }),
    );
    now.push(
      await timed(async () => {
        if ((await materializeRelease(paths, 'big', 'v1', digest)) !== dir) throw new Error('reuse');
      }),
    );
  }
  const full = [];
  for (let i = 0; i < Math.max(3, Math.round(RUNS / 6)); i++) {
    await removeTree(dir);
    full.push(await timed(() => materializeRelease(paths, 'big', 'v1', digest)));
  }
  const b = stats(before);
  const n = stats(now);
  const f = stats(full);
  const extra = n.median - b.median;
  process.stdout.write(`## Checking a release directory before it runs

\`node bench/materialize-bench.mjs\` — a 20 MB release (400 files of 50 KB random bytes in 20
directories, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}).

| case | n | median | p90 | min | max |
|---|---:|---:|---:|---:|---:|
| start before issue 11: marker file only | ${b.n} | ${fmt(b.median)} | ${fmt(b.p90)} | ${fmt(b.min)} | ${fmt(b.max)} |
| start now: marker + lstat of every entry against the snapshot | ${n.n} | ${fmt(n.median)} | ${fmt(n.p90)} | ${fmt(n.min)} | ${fmt(n.max)} |
| full re-materialization from the verified store (what an edited directory costs) | ${f.n} | ${fmt(f.median)} | ${fmt(f.p90)} | ${fmt(f.min)} | ${fmt(f.max)} |

The check adds ${fmt(extra)} (median) to a start; the goal was under 50 ms.
`);
} finally {
  await removeTree(scratch).catch(() => rmSync(scratch, { recursive: true, force: true }));
}
