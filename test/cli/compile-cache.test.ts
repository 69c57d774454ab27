/**
 * bin/brr.js runs the bundled CLI (dist/brr.cjs) from a per-user V8 code cache (issue 13). The
 * cache must only ever make things faster: a missing, corrupt, foreign or unwritable cache gives
 * the same output, and a cache directory another user could write is never read.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BRR = path.join(ROOT, 'bin', 'brr.js');
const dir = mkdtempSync(path.join(tmpdir(), 'brr-cc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function brr(cacheHome: string, args: string[], extra: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BRR, ...args], {
    env: { ...process.env, XDG_CACHE_HOME: cacheHome, BRR_HOME: path.join(dir, 'home'), NO_COLOR: '1', ...extra },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const caches = (cacheHome: string) =>
  existsSync(path.join(cacheHome, 'brr'))
    ? readdirSync(path.join(cacheHome, 'brr')).filter((f) => f.endsWith('.v8cache'))
    : [];

describe('the CLI code cache', () => {
  it('is written once per command, private to the user, and gives the same output', () => {
    expect(existsSync(path.join(ROOT, 'dist', 'brr.cjs')), 'dist/brr.cjs is built by npm run build').toBe(true);
    const home = path.join(dir, 'a');
    const first = brr(home, ['releases', '--app', 'nope']);
    const files = caches(home);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^cli-[0-9a-f]{32}-releases\.v8cache$/);
    expect(statSync(path.join(home, 'brr')).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(home, 'brr', files[0]!)).mode & 0o777).toBe(0o600);
    const before = statSync(path.join(home, 'brr', files[0]!)).mtimeMs;
    const second = brr(home, ['releases', '--app', 'nope']);
    expect(second).toEqual(first);
    // Accepted by V8: not rewritten.
    expect(statSync(path.join(home, 'brr', files[0]!)).mtimeMs).toBe(before);
    brr(home, ['--version']);
    expect(caches(home)).toHaveLength(2);
  });

  it('a corrupt cache is rejected by V8, the command still works and the file is rewritten', () => {
    const home = path.join(dir, 'b');
    const clean = brr(home, ['releases', '--app', 'nope']);
    const file = path.join(home, 'brr', caches(home)[0]!);
    writeFileSync(file, Buffer.alloc(4096, 0x5a));
    expect(brr(home, ['releases', '--app', 'nope'])).toEqual(clean);
    expect(readFileSync(file).subarray(0, 16)).not.toEqual(Buffer.alloc(16, 0x5a));
  });

  it('a cache directory others can write is never used', () => {
    const home = path.join(dir, 'c');
    mkdirSync(path.join(home, 'brr'), { recursive: true });
    chmodSync(path.join(home, 'brr'), 0o777);
    const r = brr(home, ['--version']);
    expect(r.status).toBe(0);
    expect(caches(home)).toEqual([]);
  });

  it('BRR_COMPILE_CACHE=0 writes none; BRR_BUNDLE=0 runs the ES modules with the same output', () => {
    const home = path.join(dir, 'd');
    const bundled = brr(home, ['releases', '--app', 'nope'], { BRR_COMPILE_CACHE: '0' });
    expect(caches(home)).toEqual([]);
    expect(brr(home, ['releases', '--app', 'nope'], { BRR_COMPILE_CACHE: '0', BRR_BUNDLE: '0' })).toEqual(bundled);
  });

  it('a bundle older than the compiled modules (tsc run alone) is not run: the ES modules are', () => {
    const home = path.join(dir, 'f');
    const main = path.join(ROOT, 'dist', 'cli', 'main.js');
    const bundle = path.join(ROOT, 'dist', 'brr.cjs');
    const bundleTime = statSync(bundle).mtime;
    const expected = brr(home, ['releases', '--app', 'nope']);
    expect(caches(home)).toHaveLength(1);
    rmSync(path.join(home, 'brr'), { recursive: true });
    try {
      utimesSync(bundle, bundleTime, new Date(statSync(main).mtimeMs - 60_000));
      expect(brr(home, ['releases', '--app', 'nope'])).toEqual(expected);
      // The ES modules write no code cache: the bundle did not run.
      expect(caches(home)).toEqual([]);
    } finally {
      utimesSync(bundle, bundleTime, bundleTime);
    }
  });

  it('an unwritable cache home costs nothing but the cache', () => {
    const home = path.join(dir, 'e-file');
    writeFileSync(home, 'not a directory');
    const r = brr(home, ['releases', '--app', 'nope']);
    expect(r).toEqual(brr(home, ['releases', '--app', 'nope'], { BRR_COMPILE_CACHE: '0' }));
  });
});
