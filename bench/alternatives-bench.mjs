// brr beside the tools people would otherwise use, as whole processes on this machine: builds
// against `podman build` (layered Containerfile, its cache on), pushes against `skopeo copy` of
// the very same image to the same local docker-registry. Each row is a median of paired runs
// (brr and the alternative alternate), and the ratio brr / alternative is what to read. Tools
// that are missing are skipped with the reason. Run `npm run build` first; prints a markdown
// section on stdout, progress on stderr.
//
// Node itself starts ~30 ms slower when NODE_EXTRA_CA_CERTS is set (it parses that certificate
// file before any script runs; skopeo reads no such variable), so when it is set the push rows
// are measured both ways.
//
//   node bench/alternatives-bench.mjs [--runs N] [--only pushes]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BRR, freePort } from './lib.mjs';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const onlyArg = process.argv.indexOf('--only');
const ONLY = onlyArg > 0 ? process.argv[onlyArg + 1] : null;
if (ONLY !== null && ONLY !== 'pushes') throw new Error(`--only takes "pushes", not ${ONLY}`);
const DEP_FILES = 5000;
const DEP_FILE_BYTES = 5000; // 25 MB of node_modules in 5000 JS-like files
const log = (s) => process.stderr.write(`alternatives-bench: ${s}\n`);
const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;

const scratch = mkdtempSync(path.join(os.tmpdir(), 'brr-alt-bench-'));
const skipped = [];

function git(cwd, args, date = '2024-05-06T07:08:09Z') {
  const env = { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
  const base = ['-c', 'user.name=bench', '-c', 'user.email=bench@brr.invalid', '-c', 'init.defaultBranch=main'];
  return execFileSync('git', [...base, '-c', 'commit.gpgsign=false', ...args], { cwd, env, encoding: 'utf8' }).trim();
}

// The app: 4 JS files and ~25 MB of committed node_modules that compresses like real JS (~3×).
const repo = path.join(scratch, 'repo');
const words =
  'const let function return module exports require if else for while async await this new class extends import from export default null undefined true false Object Array String Number Promise prototype length push map filter reduce'.split(
    ' ',
  );
let seed = 1; // mulberry32: the same files every run
const rnd = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
for (let i = 0; i < DEP_FILES; i++) {
  const dir = path.join(repo, 'node_modules', `pkg-${Math.floor(i / 10)}`);
  if (i % 10 === 0) mkdirSync(dir, { recursive: true });
  let s = '';
  while (s.length < DEP_FILE_BYTES) {
    s += rnd() < 0.8 ? words[Math.floor(rnd() * words.length)] : Math.floor(rnd() * 36 ** 4).toString(36);
    s += rnd() < 0.1 ? ';\n' : rnd() < 0.3 ? '.' : ' ';
  }
  writeFileSync(path.join(dir, `f${i % 10}.js`), s);
}
const code = (v) => `// version ${v}\nexport const handler = (req) => req.url;\n`;
writeFileSync(path.join(repo, 'brr.yaml'), 'app: bench\nprocesses:\n  web: { command: "node server.js" }\n');
for (const f of ['server.js', 'routes.js', 'db.js', 'util.js']) writeFileSync(path.join(repo, f), code(0));
writeFileSync(
  path.join(repo, 'Containerfile'),
  'FROM scratch\nCOPY node_modules /app/node_modules\nCOPY server.js routes.js db.js util.js brr.yaml /app/\nWORKDIR /app\n',
);
git(repo, ['init', '-q']);
git(repo, ['add', '-A']);
git(repo, ['commit', '-q', '-m', 'v0']);
let version = 0;
function codeOnlyCommit() {
  version++;
  writeFileSync(path.join(repo, 'server.js'), code(version));
  git(repo, ['commit', '-qam', `v${version}`], `2024-05-06T08:${String(version % 60).padStart(2, '0')}:00Z`);
}

/** The environment without NODE_EXTRA_CA_CERTS (Node's default), for the rows measured both ways. */
const noExtraCa = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'));
const env = (home, base = process.env) => ({ ...base, BRR_HOME: home, NO_COLOR: '1' });
function brr(home, args, base = process.env) {
  const r = spawnSync(process.execPath, [BRR, ...args], { cwd: repo, env: env(home, base), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`brr ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
function timed(fn) {
  const t0 = process.hrtime.bigint();
  const r = fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, r };
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const rows = [];
const row = (what, a, b, alt, goal) =>
  rows.push(
    `| ${what} | ${fmt(median(a))} | ${alt} | ${fmt(median(b))} | ${(median(a) / median(b)).toFixed(2)}× | ${goal} |`,
  );

// --- brr alone: full build (fresh home) vs code-only rebuild (warm home) -----------------------
const warm = path.join(scratch, 'home-warm');
brr(warm, ['build']);
const brrFull = [];
const brrCode = [];
for (let i = 0; i < (ONLY ? 0 : RUNS); i++) {
  brrFull.push(timed(() => brr(path.join(scratch, `home-full-${i}`), ['build'])).ms);
  rmSync(path.join(scratch, `home-full-${i}`), { recursive: true, force: true });
  codeOnlyCommit();
  brrCode.push(timed(() => brr(warm, ['build'])).ms);
}
if (!ONLY) {
  log(`brr full ${fmt(median(brrFull))}, code-only ${fmt(median(brrCode))}`);
  row('code-only rebuild vs brr full build (same app)', brrCode, brrFull, 'brr full build, fresh home', '≤ 0.35×');
}

// --- podman -------------------------------------------------------------------------------
const podmanDir = path.join(scratch, 'podman');
const podmanMissing = !has('podman') ? 'podman not installed' : !has('runc') ? 'runc not installed' : null;
if (ONLY) skipped.push('build rows: --only pushes');
else if (podmanMissing) skipped.push(`podman rows: ${podmanMissing}`);
else {
  mkdirSync(podmanDir);
  const penv = {
    ...process.env,
    CONTAINERS_CONF: path.join(podmanDir, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: path.join(podmanDir, 'storage.conf'),
    CONTAINERS_REGISTRIES_CONF: path.join(podmanDir, 'registries.conf'),
  };
  writeFileSync(
    penv.CONTAINERS_CONF,
    `[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\nnetns = "host"\n\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "${podmanDir}/events.log"\ntmp_dir = "${podmanDir}/tmp"\n`,
  );
  writeFileSync(
    penv.CONTAINERS_STORAGE_CONF,
    `[storage]\ndriver = "vfs"\nrunroot = "${podmanDir}/run"\ngraphroot = "${podmanDir}/graph"\n`,
  );
  writeFileSync(penv.CONTAINERS_REGISTRIES_CONF, '');
  const podman = (args) => {
    const r = spawnSync('podman', args, { cwd: repo, env: penv, encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) throw new Error(`podman ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  const build = (extra = []) => podman(['build', '-q', '--network', 'host', ...extra, '-t', 'bench:latest', '.']);
  build();
  const pCode = [];
  const bCode = [];
  const pFull = [];
  const bFull = [];
  for (let i = 0; i < RUNS; i++) {
    codeOnlyCommit();
    bCode.push(timed(() => brr(warm, ['build'])).ms);
    pCode.push(timed(() => build()).ms);
    // Full: podman without its cache, plus writing the image compressed (what brr's store holds).
    const out = path.join(scratch, `oci-${i}`);
    pFull.push(
      timed(() => {
        build(['--no-cache']);
        podman(['push', '-q', '--compression-format', 'gzip', 'bench:latest', `oci:${out}:bench`]);
      }).ms,
    );
    rmSync(out, { recursive: true, force: true });
    bFull.push(timed(() => brr(path.join(scratch, `home-pfull-${i}`), ['build'])).ms);
    rmSync(path.join(scratch, `home-pfull-${i}`), { recursive: true, force: true });
  }
  log(`podman code-only ${fmt(median(pCode))}, full+push ${fmt(median(pFull))}`);
  row('code-only rebuild', bCode, pCode, '`podman build`, cache on', '< 1×');
  row('full build, fresh home', bFull, pFull, '`podman build --no-cache` + `podman push oci:` (gzip)', '≤ 0.8×');
  spawnSync('podman', ['rmi', '--all', '--force'], { env: penv, stdio: 'ignore' });
}

// --- pushes against skopeo -----------------------------------------------------------------
const skopeoMissing = !has('docker-registry')
  ? 'docker-registry not installed'
  : !has('skopeo')
    ? 'skopeo not installed'
    : null;
if (skopeoMissing) skipped.push(`push rows: ${skopeoMissing}`);
else {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  writeFileSync(
    path.join(scratch, 'registry.yml'),
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(scratch, 'registry')}\nhttp:\n  addr: ${host}\n  secret: bench\n`,
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
  try {
    const oci = path.join(warm, 'oci');
    const refOf = (digest) =>
      JSON.parse(readFileSync(path.join(oci, 'index.json'), 'utf8')).manifests.find((m) => m.digest === digest)
        .annotations['org.opencontainers.image.ref.name'];
    const builds = () => JSON.parse(brr(warm, ['builds', '--json']));
    const skopeo = (digest, to, base = process.env) =>
      execFileSync(
        'skopeo',
        ['copy', '-q', '--dest-tls-verify=false', `oci:${oci}:${refOf(digest)}`, `docker://${to}`],
        { env: base },
      );
    const bare = (base) => spawnSync(process.execPath, ['-e', '0'], { env: base });
    // The push's own work, without the CLI's start-up: brr's code called in this process.
    const { pushBuild } = await import('../dist/registry/push-build.js');
    const { homePaths } = await import('../dist/core/home.js');
    const inProcess = async (digest, to) => {
      const t0 = process.hrtime.bigint();
      await pushBuild({ paths: homePaths(warm), build: digest, to });
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    // Measured as the machine is, and (when NODE_EXTRA_CA_CERTS is set) without it, for all three
    // tools alike; each kind alternates brr, skopeo and `node -e 0` within one run.
    const kinds = [['', process.env]];
    if (process.env.NODE_EXTRA_CA_CERTS) kinds.push([' (NODE_EXTRA_CA_CERTS unset)', noExtraCa]);
    const t = Object.fromEntries(kinds.map(([k]) => [k, { bFirst: [], sFirst: [], bCode: [], sCode: [], node: [] }]));
    const iFirst = [];
    const iCode = [];
    let n = 0;
    for (let i = 0; i < RUNS; i++) {
      for (const [k, base] of kinds) {
        const before = builds()[0].digest;
        codeOnlyCommit();
        brr(warm, ['build']);
        const after = builds()[0].digest;
        n++;
        // Each tool gets its own repositories: first push to an empty one, then the next commit.
        t[k].bFirst.push(timed(() => brr(warm, ['push', before, '--to', `${host}/brr-${n}/app:v0`], base)).ms);
        t[k].sFirst.push(timed(() => skopeo(before, `${host}/skopeo-${n}/app:v0`, base)).ms);
        t[k].node.push(timed(() => bare(base)).ms);
        t[k].bCode.push(timed(() => brr(warm, ['push', after, '--to', `${host}/brr-${n}/app:v1`], base)).ms);
        t[k].sCode.push(timed(() => skopeo(after, `${host}/skopeo-${n}/app:v1`, base)).ms);
        t[k].node.push(timed(() => bare(base)).ms);
        if (k === '') {
          iFirst.push(await inProcess(before, `${host}/in-${n}/app:v0`));
          iCode.push(await inProcess(after, `${host}/in-${n}/app:v1`));
        }
      }
    }
    for (const [k] of kinds) {
      const r = t[k];
      log(
        `push${k} first ${fmt(median(r.bFirst))} vs ${fmt(median(r.sFirst))}, code-only ${fmt(median(r.bCode))} vs ${fmt(median(r.sCode))}, node -e 0 ${fmt(median(r.node))}`,
      );
      row(`first push to a new repository${k}`, r.bFirst, r.sFirst, '`skopeo copy oci:… docker://…`', '≤ 1.5×');
      row(`push after a code-only change${k}`, r.bCode, r.sCode, '`skopeo copy oci:… docker://…`', '≤ 1.5×');
      row(`\`node -e 0\` alone${k}`, r.node, [...r.sFirst, ...r.sCode], '`skopeo copy` (both pushes)', '—');
    }
    row(
      'first push, brr in-process (`pushBuild`, no CLI start-up)',
      iFirst,
      t[''].sFirst,
      '`skopeo copy` (whole process)',
      '—',
    );
    row('code-only push, brr in-process (`pushBuild`)', iCode, t[''].sCode, '`skopeo copy` (whole process)', '—');
  } finally {
    registry.kill('SIGTERM');
  }
}

// Node's own floor and brr's start-up (`--version` loads the whole CLI), for reading whole-process numbers.
const bare = [];
const startup = [];
for (let i = 0; i < RUNS; i++) {
  bare.push(timed(() => spawnSync(process.execPath, ['-e', '0'])).ms);
  startup.push(timed(() => brr(warm, ['--version'])).ms);
}
rmSync(scratch, { recursive: true, force: true });

const depMb = ((DEP_FILES * DEP_FILE_BYTES) / 1e6).toFixed(0);
process.stdout.write(`## brr beside podman and skopeo

\`node bench/alternatives-bench.mjs --runs ${RUNS}\` (after \`npm run build\`): an app of 4 JS files and
${depMb} MB of committed \`node_modules\` (${DEP_FILES} JS-like files, ~3× compressible), no build command.
Whole processes (\`node bin/brr.js …\`, CLI start-up included: \`brr --version\` takes ${fmt(median(startup))},
\`node -e 0\` ${fmt(median(bare))}),
medians of ${RUNS} paired runs on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}.
podman: vfs storage, runc, cgroupfs, host network (the CONTAINERS_CONF recipe of test/helpers/podman.ts),
Containerfile \`FROM scratch\`, node_modules copied in its own layer before the code. Pushes go to
Debian's docker-registry on 127.0.0.1 (plain HTTP); skopeo copies brr's own OCI layout, so both
push the same image. A first push goes to a new repository; from the second run on, both tools
mount the dependency layer from a repository they pushed it to before (skopeo from its blob-info
cache, brr from its store's push records) instead of sending its bytes again.${
  process.env.NODE_EXTRA_CA_CERTS
    ? `
This machine's environment sets NODE_EXTRA_CA_CERTS, which Node reads and parses before any
script runs, in every process (skopeo reads no such variable): the push rows are measured as the
machine is and, for all three tools alike, without it (Node's default). "\`node -e 0\` alone" is
Node's start-up beside skopeo's whole push.`
    : ''
}

| what | brr | alternative | alternative's time | ratio | goal |
|---|---:|---|---:|---:|---|
${rows.join('\n')}
${skipped.length ? `\nSkipped: ${skipped.join('; ')}.\n` : ''}`);
