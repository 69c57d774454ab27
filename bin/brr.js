#!/usr/bin/env node
// The `brr` executable. It runs the CLI bundled by scripts/bundle.mjs, compiled from a V8 code
// cache, so a command pays neither for resolving and reading some 60 modules nor for compiling
// them again (issue 13: Node 20 has no compile cache of its own). A command named in
// dist/bundles/commands.json runs its own bundle (the CLI's entry, commander and that command's
// module with what it imports: a push reads and compiles a fifth of the whole CLI); help, typos and
// `--version` run dist/brr.cjs, which holds every command. The cache is per user, in
// $XDG_CACHE_HOME/brr or ~/.cache/brr (a directory 0700 that must be the user's own; anything else
// is not used), one file per bundle file (its inode, size and times), Node version, architecture
// and command; V8 itself rejects a cache it cannot use and the file is then rewritten; the newest
// 64 files are kept.
// BRR_COMPILE_CACHE=0 turns the cache off; without the bundles, with ones older than dist/ in a
// checkout (tsc run alone), or with BRR_BUNDLE=0, the CLI's ES modules in dist/ are imported as
// they are. This file is CommonJS (bin/package.json), so a command does not start Node's ES
// module loader either, and it loads only what it needs from Node itself (node:crypto alone would
// cost ~3 ms).
'use strict';
const {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} = require('node:fs');
const module_ = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

module_.enableCompileCache?.();
const dist = path.join(__dirname, '..', 'dist');
const table = readCommandTable();
const command = commandNameOf(process.argv.slice(2), table?.rootValueOptions ?? []);
const bundle = process.env.BRR_BUNDLE === '0' ? null : currentBundle(command, table);
if (bundle === null) import('../dist/cli/main.js');
else runBundle(readFileSync(bundle, 'utf8'));

/** dist/bundles/commands.json (scripts/bundle.mjs): { rootValueOptions, commands }, or null without it. */
function readCommandTable() {
  try {
    return JSON.parse(readFileSync(path.join(dist, 'bundles', 'commands.json'), 'utf8'));
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * The command named on the command line, as cli/command-table.ts's commandNameOf finds it (from
 * the same list of root options that take a value): the first argument that is not an option or
 * such a value, or the one after `--`.
 */
function commandNameOf(argv, rootValueOptions) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return argv[i + 1];
    if (rootValueOptions.includes(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return a;
  }
  return undefined;
}

/**
 * The bundle to run: the named command's own, else the whole CLI (dist/brr.cjs); null when the
 * bundle does not exist or is older than the last compile (a `tsc` run alone leaves the bundles
 * behind the code, and the ES modules are then what is current).
 */
function currentBundle(name, commands) {
  let file = path.join(dist, 'brr.cjs');
  if (name !== undefined && commands && Object.hasOwn(commands.commands, name))
    file = path.join(dist, 'bundles', commands.commands[name]);
  try {
    const built = statSync(file).mtimeMs;
    // An installed package has no src/ (package.json "files"): nothing recompiles it, and npm
    // gives its files the times they were unpacked, in no useful order. Only a checkout can hold
    // modules compiled after the bundles.
    if (!existsSync(path.join(__dirname, '..', 'src'))) return file;
    return built >= statSync(path.join(dist, 'cli', 'main.js')).mtimeMs ? file : null;
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw e;
  }
}

function runBundle(text) {
  const cacheFile = process.env.BRR_COMPILE_CACHE === '0' ? null : cachePath();
  let cachedData;
  if (cacheFile) {
    try {
      cachedData = readFileSync(cacheFile);
    } catch {}
  }
  const script = new vm.Script(module_.wrap(text), {
    filename: bundle,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (cacheFile && (cachedData === undefined || script.cachedDataRejected)) {
    // Written at exit, so the cache holds every function this command compiled, not only the top level.
    process.once('exit', () => writeCache(cacheFile, script));
  }
  const req = module_.createRequire(bundle);
  const mod = { exports: {}, filename: bundle, id: bundle, loaded: false, require: req };
  script.runInThisContext()(mod.exports, req, mod, bundle, path.dirname(bundle));
}

/** Where this bundle's cache lives, or null when there is no private cache directory to use. */
function cachePath() {
  const home = process.env.HOME || require('node:os').homedir();
  const base = process.env.XDG_CACHE_HOME || (home && path.join(home, '.cache'));
  if (!base || !path.isAbsolute(base)) return null;
  const dir = path.join(base, 'brr');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    // Code from a cache runs as this user: never read one another user could have written.
    if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid()) || (st.mode & 0o022) !== 0) return null;
  } catch {
    return null;
  }
  // Keyed on the bundle file's identity rather than a hash of its contents (which would cost more
  // than a few ms per command); V8 checks the source length and its own version and flags too.
  let id;
  try {
    const st = statSync(bundle, { bigint: true });
    id = `${st.dev} ${st.ino} ${st.size} ${st.mtimeNs} ${st.ctimeNs}`;
  } catch {
    return null;
  }
  const key = fnv128(`${process.version} ${process.arch} ${bundle} ${id}`);
  // One cache per command: each holds the functions its command compiled (V8 cannot merge them).
  const word = command && /^[a-z][a-z-]{0,19}$/.test(command) ? command : 'other';
  const part = path.dirname(bundle) === dist ? 'all' : path.basename(bundle, '.cjs');
  return path.join(dir, `cli-${key}-${part}-${word}.v8cache`);
}

/** 32 hex digits naming a cache file (four FNV-1a 32-bit hashes with different seeds): no node:crypto needed. */
function fnv128(text) {
  let out = '';
  for (const seed of [0x811c9dc5, 0x01000193, 0x9e3779b9, 0x85ebca6b]) {
    let h = seed;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
    out += h.toString(16).padStart(8, '0');
  }
  return out;
}

function writeCache(file, script) {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, script.createCachedData());
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    pruneCaches(path.dirname(file));
  } catch {
    // A cache that cannot be written only costs the next command its compile time.
  }
}

/** Every rebuilt or upgraded brr makes new cache files: keep the newest MAX_CACHES (about 15 MB at most). */
const MAX_CACHES = 64;
function pruneCaches(dir) {
  const files = readdirSync(dir)
    .filter((f) => f.startsWith('cli-') && f.endsWith('.v8cache'))
    .map((f) => ({ f, t: statSync(path.join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of files.slice(MAX_CACHES)) unlinkSync(path.join(dir, f));
}
