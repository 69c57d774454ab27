// Shared bits for benchmarks: a temp home + git repo with the sample NF on free ports, the CLI.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BRR = path.join(ROOT, 'bin', 'brr.js');

export async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

export async function sandbox(patch = (y) => y) {
  const dir = mkdtempSync(path.join(tmpdir(), 'brr-bench-'));
  const home = path.join(dir, 'home');
  const repo = path.join(dir, 'repo');
  const httpPort = await freePort();
  const udpPort = await freePort();
  cpSync(path.join(ROOT, 'examples', 'udp-counter'), repo, { recursive: true });
  const yml = readFileSync(path.join(repo, 'brr.yaml'), 'utf8')
    .replace('port: 18080', `port: ${httpPort}`)
    .replace('port: 12152', `port: ${udpPort}`);
  writeFileSync(path.join(repo, 'brr.yaml'), patch(yml));
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'b',
    GIT_AUTHOR_EMAIL: 'b@example.invalid',
    GIT_COMMITTER_NAME: 'b',
    GIT_COMMITTER_EMAIL: 'b@example.invalid',
  };
  for (const args of [
    ['init', '-q', '-b', 'main'],
    ['add', '-A'],
    ['commit', '-q', '-m', 'bench'],
  ])
    spawnSync('git', args, { cwd: repo, env });
  const brr = (...args) => {
    const r = spawnSync(process.execPath, [BRR, ...args], {
      cwd: repo,
      env: { ...process.env, BRR_HOME: home, NO_COLOR: '1' },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`brr ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  return {
    dir,
    home,
    repo,
    httpPort,
    udpPort,
    brr,
    cleanup() {
      try {
        brr('shutdown');
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, median: q(0.5), p90: q(0.9), min: s[0], max: s[s.length - 1] };
}

export const fmt = (ms) => `${ms.toFixed(1)} ms`;

/** A numeric command-line flag (`--runs 5`), or `dflt` when it is not given. */
export function numberFlag(name, dflt) {
  const i = process.argv.indexOf(name, 2);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
