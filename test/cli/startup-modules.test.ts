/**
 * What a command loads (issue 13): read-only commands and `config set --no-run` must not load
 * drivers, the YAML parser, Kubernetes, registry, build or supervisor code they do not use. A
 * correctness test, not a timing one: the real CLI from dist/ runs under a module hook that
 * lists every file it loads. Also checks cli/command-table.ts against what each command module
 * registers, and brr.yaml's fast `app:` path against the YAML parser.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { parseDocument } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { commandNameOf, commandTable } from '../../src/cli/command-table.js';
import { plainAppLine } from '../../src/app/resolve-app.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BRR = path.join(ROOT, 'bin', 'brr.js');
const HOOK = path.join(ROOT, 'test', 'helpers', 'load-log', 'register.mjs');
const dir = mkdtempSync(path.join(tmpdir(), 'brr-startup-'));
const home = path.join(dir, 'home');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs brr and returns what it loaded: npm packages and brr's own modules (relative to dist/).
 * By default the CLI's ES modules in dist/ (BRR_BUNDLE=0), which show module by module what a
 * command reaches; with `bundled`, what bin/brr.js really runs (dist/brr.cjs: one file of brr's
 * own, so only its npm packages tell).
 */
function loaded(
  args: string[],
  cwd = dir,
  bundled = false,
): { packages: Set<string>; own: string[]; status: number | null } {
  const log = path.join(dir, `load-${Math.random().toString(36).slice(2)}.log`);
  writeFileSync(log, '');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BRR_HOME: home,
    BRR_LOAD_LOG: log,
    NO_COLOR: '1',
    BRR_BUNDLE: bundled ? '1' : '0',
  };
  delete env.BRR_APP;
  delete env.BRR_LEDGER_URL;
  const r = spawnSync(process.execPath, ['--import', HOOK, BRR, ...args], { cwd, env, encoding: 'utf8' });
  const urls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  const packages = new Set<string>();
  const own: string[] = [];
  for (const u of urls) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
    if (m) packages.add(m[1]!);
    else if (u.includes('/dist/')) own.push(u.slice(u.indexOf('/dist/') + 6));
  }
  return { packages, own, status: r.status };
}

const NEVER_PACKAGES = ['pg', 'yaml', '@kubernetes/client-node'];
const NEVER_OWN = [
  /^registry\//,
  /^build\//,
  /^run\/kubernetes\//,
  /^run\/local\/supervisor\.js$/,
  /^app\/run-release\.js$/,
];

function expectLean(args: string[], cwd?: string): void {
  const { packages, own } = loaded(args, cwd);
  expect(own.length, `brr ${args.join(' ')} loaded nothing of brr: is dist/ built?`).toBeGreaterThan(0);
  for (const p of NEVER_PACKAGES) expect([...packages], `brr ${args.join(' ')} loads ${p}`).not.toContain(p);
  const extra = own.filter((f) => NEVER_OWN.some((re) => re.test(f)));
  expect(extra, `brr ${args.join(' ')} loads modules it does not use`).toEqual([]);
  // Only the invoked command's module among the command files.
  const commandFiles = own.filter((f) => f.startsWith('cli/commands/'));
  expect(commandFiles.length, `brr ${args.join(' ')} loads command files ${commandFiles.join(', ')}`).toBe(1);
}

describe('read-only commands load only what they use', () => {
  it('seeds a release-less app (the commands still run end to end)', () => {
    expect(loaded(['config', 'set', '--no-run', 'A=1', '--app', 'demo']).status).toBe(0);
  });
  for (const args of [
    ['releases', '--app', 'demo'],
    ['status', '--app', 'demo'],
    ['ps'],
    ['config', '--app', 'demo'],
    ['config', 'show', '--app', 'demo'],
    ['show', 'v1', '--app', 'demo'],
    ['config', 'set', '--no-run', 'B=2', '--app', 'demo'],
  ]) {
    it(`brr ${args.join(' ')}`, () => expectLean(args));
  }
  it('brr ps (no ledger) loads no SQLite driver', () => {
    expect([...loaded(['ps']).packages]).not.toContain('better-sqlite3');
  });
  it('a plain brr.yaml names the app without the YAML parser', () => {
    const repo = path.join(dir, 'repo');
    rmSync(repo, { recursive: true, force: true });
    spawnSync('mkdir', ['-p', repo]);
    writeFileSync(path.join(repo, 'brr.yaml'), 'app: demo # the app\nprocesses:\n  web: { command: node web.js }\n');
    expectLean(['releases'], repo);
  });
  it('the bundled CLI (what bin/brr.js runs) requires no npm package a read-only command does not use', () => {
    for (const args of [
      ['releases', '--app', 'demo'],
      ['status', '--app', 'demo'],
      ['config', '--app', 'demo'],
      ['show', 'v1', '--app', 'demo'],
      ['config', 'set', '--no-run', 'C=3', '--app', 'demo'],
    ]) {
      const { packages } = loaded(args, dir, true);
      expect([...packages], `brr ${args.join(' ')} (bundled)`).toContain('better-sqlite3');
      for (const p of NEVER_PACKAGES)
        expect([...packages], `brr ${args.join(' ')} (bundled) loads ${p}`).not.toContain(p);
    }
  });
  it('--help still lists every command (all modules are loaded for it)', () => {
    const r = spawnSync(process.execPath, [BRR, '--help'], { encoding: 'utf8' });
    for (const m of commandTable) for (const n of m.names) expect(r.stdout).toMatch(new RegExp(`\\n  ${n}\\b`));
  });
});

describe('cli/command-table.ts', () => {
  it('names exactly the top-level commands each module registers', async () => {
    for (const m of commandTable) {
      const program = new Command('brr');
      program.option('--signing-key <file>');
      (await m.load())(program);
      expect(program.commands.map((c) => c.name())).toEqual(m.names);
    }
  });
  it('finds the command name past root options', () => {
    expect(commandNameOf(['--signing-key', 'k.pem', 'release', '--app', 'x'])).toBe('release');
    expect(commandNameOf(['--signing-key=k.pem', 'config', 'set'])).toBe('config');
    expect(commandNameOf(['--help'])).toBeUndefined();
    expect(commandNameOf([])).toBeUndefined();
  });
});

describe("brr.yaml's app: fast path agrees with the YAML parser", () => {
  const viaParser = (t: string) => {
    const raw = parseDocument(t).toJS() as { app?: unknown } | null;
    return raw && typeof raw.app === 'string' ? raw.app : undefined;
  };
  for (const text of [
    'app: demo\n',
    'app: "demo"\nprocesses: {}\n',
    "app: 'demo' # comment\n",
    'processes:\n  web: { command: x }\napp: upf-2\n',
  ]) {
    it(JSON.stringify(text), () => expect(plainAppLine(text)).toBe(viaParser(text)));
  }
  for (const text of [
    '---\napp: demo\n',
    'app: &a demo\n',
    'app:\n  demo\n',
    'app: demo\napp: other\n',
    'app: Demo\n',
  ]) {
    it(`leaves ${JSON.stringify(text)} to the parser`, () => expect(plainAppLine(text)).toBeUndefined());
  }
});
