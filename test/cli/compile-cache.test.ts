/**
 * bin/brr.js runs the bundled CLI (dist/brr.cjs) from a per-user V8 code cache (issue 13). The
 * cache must only ever make things faster: a missing, corrupt, foreign or unwritable cache gives
 * the same output, and a cache directory another user could write is never read.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { commandTable, ROOT_VALUE_OPTIONS } from '../../src/cli/command-table.js';

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
/** dist/bundles/commands.json's `commands`: command name → its bundle's file name. */
const commandBundles = (): Record<string, string> =>
  (
    JSON.parse(readFileSync(path.join(ROOT, 'dist', 'bundles', 'commands.json'), 'utf8')) as {
      commands: Record<string, string>;
    }
  ).commands;
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
    // Named after the bundle that ran (the release commands' own) and the command.
    expect(files[0]).toMatch(/^cli-[0-9a-f]{32}-release-releases\.v8cache$/);
    expect(statSync(path.join(home, 'brr')).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(home, 'brr', files[0]!)).mode & 0o777).toBe(0o600);
    const before = statSync(path.join(home, 'brr', files[0]!)).mtimeMs;
    const second = brr(home, ['releases', '--app', 'nope']);
    expect(second).toEqual(first);
    // Accepted by V8: not rewritten.
    expect(statSync(path.join(home, 'brr', files[0]!)).mtimeMs).toBe(before);
    brr(home, ['--version']);
    expect(caches(home)).toHaveLength(2);
    // `--version` names no command: the whole CLI ran.
    expect(caches(home).some((f) => /^cli-[0-9a-f]{32}-all-other\.v8cache$/.test(f))).toBe(true);
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
    const bundle = path.join(ROOT, 'dist', 'bundles', commandBundles().releases!);
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

  it('an installed package (no src/) runs its bundles whatever order npm gave the files their times', () => {
    // As `npm install` unpacks it: bin/, dist/ and package.json, with dist/cli/main.js newer than the bundles.
    const pkg = path.join(dir, 'installed');
    mkdirSync(pkg);
    for (const part of ['bin', 'dist', 'package.json'])
      cpSync(path.join(ROOT, part), path.join(pkg, part), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
    const later = new Date(Date.now() + 60_000);
    utimesSync(path.join(pkg, 'dist', 'cli', 'main.js'), later, later);
    const home = path.join(dir, 'i');
    const r = spawnSync(process.execPath, [path.join(pkg, 'bin', 'brr.js'), 'releases', '--app', 'nope'], {
      env: { ...process.env, XDG_CACHE_HOME: home, BRR_HOME: path.join(dir, 'home'), NO_COLOR: '1' },
      encoding: 'utf8',
    });
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual(brr(home, ['releases', '--app', 'nope']));
    // Its own bundle ran (and wrote its cache), not the ES modules.
    expect(caches(home).filter((f) => f.includes('-release-releases.'))).toHaveLength(2);
  });

  it('an unwritable cache home costs nothing but the cache', () => {
    const home = path.join(dir, 'e-file');
    writeFileSync(home, 'not a directory');
    const r = brr(home, ['releases', '--app', 'nope']);
    expect(r).toEqual(brr(home, ['releases', '--app', 'nope'], { BRR_COMPILE_CACHE: '0' }));
  });
});

describe('command bundles (dist/bundles)', () => {
  it('name every command of the table, and each runs its command (help from its own bundle)', () => {
    const table = commandBundles();
    expect(Object.keys(table).sort()).toEqual(commandTable.flatMap((m) => [...m.names]).sort());
    const home = path.join(dir, 'g');
    for (const name of Object.keys(table)) {
      const r = brr(home, [name, '--help']);
      expect(r.status, `brr ${name} --help: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(`Usage: brr ${name}`);
      // Same text as the whole CLI's.
      expect(r).toEqual(brr(home, [name, '--help'], { BRR_BUNDLE: '0' }));
    }
    const part = (f: string) => /^cli-[0-9a-f]{32}-([a-z-]+)-[a-z-]+\.v8cache$/.exec(f)?.[1];
    expect(new Set(caches(home).map(part))).toEqual(new Set(Object.values(table).map((f) => f.replace(/\.cjs$/, ''))));
  });

  it('are picked past root options exactly as the CLI finds the command', () => {
    // bin/brr.js skips the same root options with values as cli/command-table.ts.
    const written = JSON.parse(readFileSync(path.join(ROOT, 'dist', 'bundles', 'commands.json'), 'utf8')) as {
      rootValueOptions: string[];
    };
    expect(written.rootValueOptions).toEqual([...ROOT_VALUE_OPTIONS]);
    const home = path.join(dir, 'h');
    const key = path.join(dir, 'no-such-key.pem');
    for (const args of [
      ['--signing-key', key, 'push', '--help'],
      [`--signing-key=${key}`, 'push', '--help'],
    ]) {
      const r = brr(home, args);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('Usage: brr push');
    }
    expect(caches(home).every((f) => f.includes('-registry-push.'))).toBe(true);
    // Help and unknown commands need every command: the whole CLI.
    const help = brr(home, ['help']);
    for (const m of commandTable) for (const n of m.names) expect(help.stdout).toMatch(new RegExp(`\\n  ${n}\\b`));
    const typo = brr(home, ['pussh']);
    expect(typo.status).toBe(2);
    expect(typo.stderr).toMatch(/Did you mean push\?/);
  });

  it('a command bundle holds its own command module only', () => {
    const registry = readFileSync(path.join(ROOT, 'dist', 'bundles', commandBundles().push!), 'utf8');
    expect(registry).toContain('// dist/cli/commands/registry.js');
    expect(registry).not.toContain('// dist/cli/commands/build.js');
    expect(registry).not.toContain('// dist/build/');
    expect(registry).not.toContain('// dist/run/local/supervisor.js');
  });
});
