// Build-stage benchmark: a cache hit (the common `brr deploy` path) and a full build of the
// sample network function. Run `npm run build` first; prints a markdown section to stdout.
//
//   node bench/build-bench.mjs [--runs N]
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImage } from '../dist/build/build.js';
import { homePaths } from '../dist/core/home.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const sample = path.join(here, '..', 'examples', 'udp-counter');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 20;
const FULL_RUNS = Math.max(3, Math.round(RUNS / 4));

const scratch = mkdtempSync(path.join(os.tmpdir(), 'brr-bench-'));
const homes = [];
const freshHome = () => {
  const h = homePaths(mkdtempSync(path.join(scratch, 'home-')));
  homes.push(h);
  return h;
};

function git(cwd, args) {
  const env = { ...process.env, GIT_AUTHOR_DATE: '2024-05-06T07:08:09Z', GIT_COMMITTER_DATE: '2024-05-06T07:08:09Z' };
  const base = [
    '-c',
    'user.name=bench',
    '-c',
    'user.email=bench@brr.invalid',
    '-c',
    'init.defaultBranch=main',
    '-c',
    'commit.gpgsign=false',
  ];
  return execFileSync('git', [...base, ...args], { cwd, env, encoding: 'utf8' }).trim();
}

const repo = path.join(scratch, 'repo');
cpSync(sample, repo, { recursive: true });
git(repo, ['init', '-q']);
git(repo, ['add', '-A']);
git(repo, ['commit', '-q', '-m', 'sample']);

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, r };
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { n: s.length, median, min: s[0], max: s[s.length - 1] };
}

const fmt = (ms) => `${ms.toFixed(1)} ms`;

// Full builds: a fresh home each time (checkout, `node build.mjs`, tar + gzip, index update).
const full = [];
let digest;
for (let i = 0; i < FULL_RUNS; i++) {
  const { ms, r } = await timed(() => buildImage({ paths: freshHome(), repo }));
  if (digest && r.digest !== digest) throw new Error(`not reproducible: ${digest} then ${r.digest}`);
  digest = r.digest;
  full.push(ms);
}

// Cache hits in one warm home: what `brr deploy` pays when the commit was built before.
const warm = freshHome();
await buildImage({ paths: warm, repo });
const hits = [];
for (let i = 0; i < RUNS; i++) {
  const { ms, r } = await timed(() => buildImage({ paths: warm, repo }));
  if (!r.cached || r.digest !== digest) throw new Error('expected a cache hit with the same digest');
  hits.push(ms);
}

// The same hit from a new process: time since the process started (performance.now()) when
// the hit returns, minus the same reading in a script that does nothing. What remains is
// brr's module loading plus the hit, i.e. the cost "beyond Node start-up".
const buildJs = path.join(here, '..', 'dist', 'build', 'build.js');
const homeJs = path.join(here, '..', 'dist', 'core', 'home.js');
const hitScript = `const { buildImage } = await import(${JSON.stringify(buildJs)}); const { homePaths } = await import(${JSON.stringify(homeJs)});
const r = await buildImage({ paths: homePaths(${JSON.stringify(warm.root)}), repo: ${JSON.stringify(repo)} }); if (!r.cached) process.exit(1);
process.stdout.write(String(performance.now()));`;
const sinceStart = (script) =>
  Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
const bare = [];
const proc = [];
for (let i = 0; i < Math.max(9, FULL_RUNS); i++) {
  bare.push(sinceStart('process.stdout.write(String(performance.now()));'));
  proc.push(sinceStart(hitScript));
}
const nodeStart = stats(bare).median;
const overhead = proc.map((ms) => ms - nodeStart);

const rows = [
  ['cache hit, in-process `buildImage`', stats(hits)],
  ['cache hit in a new process, beyond Node start-up (' + fmt(nodeStart) + ')', stats(overhead)],
  ['full build of examples/udp-counter, fresh home', stats(full)],
];

const out = [];
out.push('## Build', '');
out.push(
  'Command: `npm run build && node bench/build-bench.mjs` ' +
    `(Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}, ${os.platform()}/${os.arch()}).`,
  '',
);
out.push('| case | runs | median | min | max |', '|---|---:|---:|---:|---:|');
for (const [name, s] of rows) out.push(`| ${name} | ${s.n} | ${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} |`);
out.push('', `Every full build produced the same digest \`${digest}\` (reproducible across fresh homes).`, '');
process.stdout.write(out.join('\n'));

rmSync(scratch, { recursive: true, force: true });
