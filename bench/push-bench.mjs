// Registry push benchmark: bytes sent and time for the first (full) push of a build versus the
// push after a code-only change, where the dependency layer (node_modules) is already in the
// registry, and versus pushing the build to another repository of the same registry, where every
// blob is mounted from the first (brr knows where it pushed them). Starts its own docker-registry on 127.0.0.1. Run `npm run build` first; prints a
// markdown section to stdout.
//
//   node bench/push-bench.mjs [--runs N]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildImage } from '../dist/build/build.js';
import { homePaths } from '../dist/core/home.js';
import { pushBuild } from '../dist/registry/push-build.js';
import { freePort, stats, fmt } from './lib.mjs';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const DEP_MIB = 8;

if (spawnSync('sh', ['-c', 'command -v docker-registry'], { stdio: 'ignore' }).status !== 0) {
  process.stderr.write('push-bench: docker-registry is not installed (apt-get install -y docker-registry)\n');
  process.exit(1);
}

const scratch = mkdtempSync(path.join(os.tmpdir(), 'brr-push-bench-'));
const port = await freePort();
const host = `127.0.0.1:${port}`;
writeFileSync(
  path.join(scratch, 'registry.yml'),
  `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(scratch, 'data')}\nhttp:\n  addr: ${host}\n  secret: bench\n`,
);
const registry = spawn('docker-registry', ['serve', path.join(scratch, 'registry.yml')], { stdio: 'ignore' });
for (let i = 0; ; i++) {
  try {
    await fetch(`http://${host}/v2/`);
    break;
  } catch {
    if (i > 200) throw new Error('docker-registry did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function git(cwd, args, date) {
  const env = { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
  return execFileSync(
    'git',
    [
      '-c',
      'user.name=bench',
      '-c',
      'user.email=bench@brr.invalid',
      '-c',
      'init.defaultBranch=main',
      '-c',
      'commit.gpgsign=false',
      ...args,
    ],
    { cwd, env, encoding: 'utf8' },
  ).trim();
}

// An app with DEP_MIB of incompressible dependencies (what a real node_modules costs on the wire
// after gzip) and a few KiB of code.
const repo = path.join(scratch, 'repo');
mkdirSync(path.join(repo, 'node_modules', 'dep'), { recursive: true });
const chunks = [];
let h = Buffer.from('bench');
for (let i = 0; i < (DEP_MIB * 1024 * 1024) / 32; i++) chunks.push((h = createHash('sha256').update(h).digest()));
writeFileSync(path.join(repo, 'node_modules', 'dep', 'data.bin'), Buffer.concat(chunks));
writeFileSync(path.join(repo, 'brr.yaml'), 'app: bench\nprocesses:\n  web: { command: "node server.js" }\n');
const code = (v) => `// version ${v}\n${'export const handler = (req) => req.url;\n'.repeat(100)}`;
writeFileSync(path.join(repo, 'server.js'), code(0));
git(repo, ['init', '-q'], '2024-05-06T07:08:09Z');
git(repo, ['add', '-A'], '2024-05-06T07:08:09Z');
git(repo, ['commit', '-q', '-m', 'v0'], '2024-05-06T07:08:09Z');

const timed = async (fn) => {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, r };
};

const full = [];
const inc = [];
const mount = [];
let mountBytes = 0;
let mountBlobs = '';
let fullBytes = 0;
let incBytes = 0;
let incBlobs = '';
let fullBlobs = '';
for (let i = 1; i <= RUNS; i++) {
  // A fresh store per run: it has no record of earlier pushes, so the first push sends everything.
  const home = homePaths(path.join(scratch, `home-${i}`));
  const before = await buildImage({ paths: home, repo });
  writeFileSync(path.join(repo, 'server.js'), code(i));
  git(repo, ['commit', '-qam', `v${i}`], `2024-05-06T07:0${i % 10}:10Z`);
  const after = await buildImage({ paths: home, repo });
  // A fresh repository per run: the first push of `before` sends everything.
  const f = await timed(() => pushBuild({ paths: home, build: before.digest, to: `${host}/bench/run-${i}:v0` }));
  const c = await timed(() => pushBuild({ paths: home, build: after.digest, to: `${host}/bench/run-${i}:v1` }));
  const m = await timed(() => pushBuild({ paths: home, build: after.digest, to: `${host}/bench/copy-${i}:v1` }));
  full.push(f.ms);
  inc.push(c.ms);
  mount.push(m.ms);
  mountBytes = m.r.bytesSent;
  mountBlobs = `${m.r.blobsPushed} / ${m.r.blobsSkipped} (${m.r.blobsMounted} mounted)`;
  fullBytes = f.r.bytesSent;
  incBytes = c.r.bytesSent;
  fullBlobs = `${f.r.blobsPushed} / ${f.r.blobsSkipped}`;
  incBlobs = `${c.r.blobsPushed} / ${c.r.blobsSkipped}`;
}
registry.kill('SIGTERM');
rmSync(scratch, { recursive: true, force: true });

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const sf = stats(full);
const si = stats(inc);
const sm = stats(mount);
process.stdout.write(`## Registry push

\`node bench/push-bench.mjs --runs ${RUNS}\`: an app with ${DEP_MIB} MiB of incompressible
\`node_modules\` and ~4 KiB of code, pushed by \`brr push\`'s code (src/registry/push-build.ts) to
Debian's docker-registry on 127.0.0.1 (plain HTTP, no auth). "Code-only change" pushes the next
commit, which changed only \`server.js\`, to the same repository: the dependency layer has the
same digest and the registry already has it, so only the app layer, the config and the manifest
travel. "Another repository" pushes that commit to a new repository of the same registry: every
blob is mounted from the first one (brr's store records where it pushed), so only the manifest
travels. Bytes are request bodies (blobs + manifest).

| push | bytes sent | blobs pushed / skipped | median | min | max |
|---|---|---|---|---|---|
| first push (everything) | ${kib(fullBytes)} | ${fullBlobs} | ${fmt(sf.median)} | ${fmt(sf.min)} | ${fmt(sf.max)} |
| after a code-only change | ${kib(incBytes)} | ${incBlobs} | ${fmt(si.median)} | ${fmt(si.min)} | ${fmt(si.max)} |
| the same build to another repository | ${kib(mountBytes)} | ${mountBlobs} | ${fmt(sm.median)} | ${fmt(sm.min)} | ${fmt(sm.max)} |

A code-only push sends ${((100 * incBytes) / fullBytes).toFixed(2)} % of the bytes of a full push (${RUNS} runs).
`);
