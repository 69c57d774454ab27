#!/usr/bin/env node
// The `brr` executable. It runs dist/brr.cjs (the whole CLI in one script, made by
// scripts/bundle.mjs) compiled from a V8 code cache, so a command pays neither for resolving and
// reading some 60 modules nor for compiling them again (issue 13: Node 20 has no compile cache of
// its own). The cache is per user, in $XDG_CACHE_HOME/brr or ~/.cache/brr (a directory 0700 that
// must be the user's own; anything else is not used), one file per bundle file (its inode, size
// and times), Node version, architecture and command; V8 itself rejects a cache it cannot use and
// the file is then rewritten; the newest 64 files are kept.
// BRR_COMPILE_CACHE=0 turns the cache off; without dist/brr.cjs, with one older than dist/ (tsc
// run alone), or with BRR_BUNDLE=0, the CLI's ES modules in dist/ are imported as they are. This file is CommonJS
// (bin/package.json), so a command does not start Node's ES module loader either.
'use strict';
const { createHash } = require('node:crypto');
const {
  closeSync,
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
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');

module_.enableCompileCache?.();
const bundle = path.join(__dirname, '..', 'dist', 'brr.cjs');
let source = null;
if (process.env.BRR_BUNDLE !== '0' && bundleIsCurrent()) source = readFileSync(bundle, 'utf8');
if (source === null) import('../dist/cli/main.js');
else runBundle(source);

/**
 * Whether dist/brr.cjs exists and was made after the last compile: a `tsc` run alone (without
 * scripts/bundle.mjs) leaves the bundle behind the code, and the ES modules are then what is current.
 */
function bundleIsCurrent() {
  try {
    return statSync(bundle).mtimeMs >= statSync(path.join(__dirname, '..', 'dist', 'cli', 'main.js')).mtimeMs;
  } catch (e) {
    if (e.code === 'ENOENT') return false;
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
  const base = process.env.XDG_CACHE_HOME || (os.homedir() && path.join(os.homedir(), '.cache'));
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
  // Keyed on the bundle file's identity rather than a hash of its 650 KB (which would cost more
  // than a few ms per command); V8 checks the source length and its own version and flags too.
  let id;
  try {
    const st = statSync(bundle, { bigint: true });
    id = `${st.dev} ${st.ino} ${st.size} ${st.mtimeNs} ${st.ctimeNs}`;
  } catch {
    return null;
  }
  const key = createHash('sha256').update(`${process.version} ${process.arch} ${id}`).digest('hex');
  // One cache per command: each holds the functions its command compiled (V8 cannot merge them).
  const word = process.argv.slice(2).find((a) => !a.startsWith('-'));
  const command = word && /^[a-z][a-z-]{0,19}$/.test(word) ? word : 'other';
  return path.join(dir, `cli-${key.slice(0, 32)}-${command}.v8cache`);
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
