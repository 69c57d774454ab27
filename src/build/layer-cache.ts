import { createHash } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Manifest } from '../core/types.js';
import { brrVersion } from '../core/version.js';
import { MEDIA_TYPES, type OciLayout } from '../store/oci-layout.js';
import { GZIP_PIECE, GZIP_SETTINGS } from '../store/tar.js';
import { runGit } from './checkout.js';
import { APP_DIR } from '../store/image.js';
import { DEFAULT_SPLIT, DEPENDENCY_MTIME, type AppLayer } from './layers.js';

/**
 * The dependency-layer cache: a code-only commit must not re-read and re-compress 25 MB of
 * committed `node_modules` only to find the same blob already stored. A dependency layer is
 * keyed on the git tree id of its directory plus everything else that decides the layer's
 * bytes, and the stored blob is reused without opening it.
 *
 * When the tree id is a sound key (the choice; docs/registries.md "Dependency layers" says it for users):
 * - the directory is a tree in the commit at `subdir/output/dir` (not created by the build, not
 *   behind a symlink), and no split directory listed before it lies inside it (that one would be
 *   moved out of this layer first);
 * - what `git archive` does to the tree's blobs is part of the key: every `.gitattributes` above
 *   the directory (those inside are in the tree id), `$GIT_DIR/info/attributes`, the global
 *   attributes file and the whole `git config --list` (eol, filters, ...);
 * - so is the layer writer: the prefix, the mtime policy (DEPENDENCY_MTIME, not the commit
 *   time), the gzip settings, Node's zlib version and arch, and brr's version;
 * - when `build.command` runs, the directory *after* the build is what counts: its metadata
 *   (inode, size, mode, mtime, ctime of every entry) is snapshotted before the build and compared
 *   after; any write, create, delete, chmod or rename inside changes some ctime, which no
 *   program can set back. A changed directory falls back to packing (and hashing) as before.
 * Without a build command, a reusable directory is not even checked out.
 */

/** Bump when the layer writer (src/store/tar.ts) or this key changes meaning. */
export const LAYER_CACHE_VERSION = 1;

/** Cache records live beside the blobs: `<oci>/.brr-layers/<key hex>.json`. */
const CACHE_DIR = '.brr-layers';

export interface DependencyCandidate {
  /** Directory relative to build.output (`node_modules`). */
  dir: string;
  /** Git tree id of it in the commit. */
  tree: string;
  /** Cache key (hex). */
  key: string;
  /** The stored layer, when the cache has one (and reuse is allowed). */
  stored: AppLayer | null;
}

export interface DependencyPlan {
  candidates: DependencyCandidate[];
  /** Directories left out of the checkout: reused as stored, no build command can need them. */
  excluded: string[];
}

const HEX64 = /^[0-9a-f]{64}$/;

/** `./dist/` → `dist`, `.` → ``; null for paths leaving the checkout. */
export function normalizeRel(p: string): string | null {
  if (p.startsWith('/')) return null;
  const n = path.posix.normalize(p).replace(/\/+$/, '');
  if (n === '.' || n === '') return '';
  if (n === '..' || n.startsWith('../')) return null;
  return n;
}

/** Split directories that get a layer of their own (in order), each with whether its tree id is a sound key. */
export function splitDirsOf(manifest: Manifest): Array<{ dir: string; sound: boolean }> {
  const raw = manifest.build.layers ?? DEFAULT_SPLIT;
  const dirs = raw.map((d) => normalizeRel(d));
  const out: Array<{ dir: string; sound: boolean }> = [];
  for (const [i, d] of dirs.entries()) {
    if (d === null || d === '' || d !== raw[i]) continue; // only plain names are looked up
    const earlier = dirs.slice(0, i).filter((e): e is string => !!e);
    if (earlier.some((e) => d === e || d.startsWith(`${e}/`))) continue; // packed inside an earlier one
    out.push({ dir: d, sound: !earlier.some((e) => e.startsWith(`${d}/`)) });
  }
  return out;
}

function ancestors(rel: string): string[] {
  const parts = rel.split('/').filter(Boolean);
  return parts.map((_, i) => parts.slice(0, i).join('/'));
}

async function readOptional(file: string): Promise<string> {
  return readFile(file, 'utf8').catch(() => '');
}

/** Everything outside the tree that changes what `git archive` writes for it. */
async function archiveInputs(repo: string, treePaths: string[], commit: string): Promise<string> {
  const attrPaths = [...new Set(treePaths.flatMap(ancestors))].map((a) =>
    a ? `${a}/.gitattributes` : '.gitattributes',
  );
  const [ls, config, infoPath] = await Promise.all([
    runGit(['git', '-C', repo, 'ls-tree', commit, '--', ...attrPaths]),
    runGit(['git', '-C', repo, 'config', '--list', '-z']),
    runGit(['git', '-C', repo, 'rev-parse', '--git-path', 'info/attributes']),
  ]);
  const cfg = config.stdout;
  const attributesFile = /(?:^|\0)core\.attributesfile\n([^\0]*)/i.exec(cfg)?.[1];
  const xdg = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  const globalFile = attributesFile
    ? attributesFile.replace(/^~(?=\/)/, os.homedir())
    : path.join(xdg, 'git', 'attributes');
  const info = infoPath.code === 0 ? path.resolve(repo, infoPath.stdout.trim()) : '';
  const [infoText, globalText] = await Promise.all([info ? readOptional(info) : '', readOptional(globalFile)]);
  return createHash('sha256')
    .update(JSON.stringify([ls.stdout, cfg, infoText, globalText]))
    .digest('hex');
}

/** The cache key of one dependency layer; pure, exported for tests. */
export function layerKey(input: { tree: string; prefix: string; archive: string }): string {
  const parts = {
    v: LAYER_CACHE_VERSION,
    brr: brrVersion(),
    tree: input.tree,
    prefix: input.prefix,
    mtime: DEPENDENCY_MTIME,
    gzip: { ...GZIP_SETTINGS, piece: GZIP_PIECE },
    zlib: process.versions.zlib,
    arch: process.arch,
    platform: process.platform,
    archive: input.archive,
  };
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

function recordPath(layout: OciLayout, key: string): string {
  return path.join(layout.root, CACHE_DIR, `${key}.json`);
}

/** The stored layer for `key`, when its record is well-formed and its blob file has the recorded size. */
async function lookup(layout: OciLayout, key: string, dir: string): Promise<AppLayer | null> {
  try {
    const r = JSON.parse(await readFile(recordPath(layout, key), 'utf8')) as Record<string, unknown>;
    const { digest, diffId, size } = r;
    if (typeof digest !== 'string' || typeof diffId !== 'string' || typeof size !== 'number') return null;
    if (!HEX64.test(digest.slice(7)) || !HEX64.test(diffId.slice(7))) return null;
    const st = await stat(layout.blobPath(digest));
    if (st.size !== size) return null;
    return { descriptor: { mediaType: MEDIA_TYPES.layerGzip, digest, size }, diffId, name: dir };
  } catch {
    return null;
  }
}

/** Remembers a written dependency layer under its key (atomic: temp file, then rename). */
export async function recordLayer(layout: OciLayout, key: string, layer: AppLayer): Promise<void> {
  const file = recordPath(layout, key);
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const { digest, size } = layer.descriptor;
  await writeFile(tmp, JSON.stringify({ digest, diffId: layer.diffId, size }));
  await rename(tmp, file);
}

/**
 * Finds the dependency directories of `commit` that have a sound key, and their stored layers.
 * `reuse: false` (--no-cache) still computes keys, so the fresh layers refresh the records.
 */
export async function planDependencyLayers(opts: {
  layout: OciLayout;
  repo: string;
  commit: string;
  subdir: string;
  manifest: Manifest | null;
  reuse: boolean;
}): Promise<DependencyPlan> {
  const { manifest } = opts;
  const empty: DependencyPlan = { candidates: [], excluded: [] };
  if (!manifest || manifest.build.dockerfile) return empty;
  const output = normalizeRel(manifest.build.output);
  if (output === null) return empty;
  const dirs = splitDirsOf(manifest).filter((d) => d.sound);
  if (dirs.length === 0) return empty;
  const treePath = (d: string) => [opts.subdir, output, d].filter(Boolean).join('/');
  const ls = await runGit(['git', '-C', opts.repo, 'ls-tree', opts.commit, '--', ...dirs.map((d) => treePath(d.dir))]);
  if (ls.code !== 0) return empty;
  const trees = new Map<string, string>();
  for (const line of ls.stdout.split('\n')) {
    const m = /^040000 tree ([0-9a-f]{40,64})\t(.*)$/.exec(line);
    if (m) trees.set(m[2]!, m[1]!);
  }
  const found = dirs.filter((d) => trees.has(treePath(d.dir)));
  if (found.length === 0) return empty;
  const archive = await archiveInputs(
    opts.repo,
    found.map((d) => treePath(d.dir)),
    opts.commit,
  );
  const candidates = await Promise.all(
    found.map(async ({ dir }) => {
      const tree = trees.get(treePath(dir))!;
      const key = layerKey({ tree, prefix: `${APP_DIR}/${dir}`, archive });
      const stored = opts.reuse ? await lookup(opts.layout, key, dir) : null;
      return { dir, tree, key, stored };
    }),
  );
  const noBuild = manifest.build.command.length === 0;
  const excluded = noBuild
    ? candidates.filter((c) => c.stored).map((c) => [output, c.dir].filter(Boolean).join('/'))
    : [];
  return { candidates, excluded };
}

export interface Snapshot {
  /** sha256 over every entry's (name, inode, mode, size, mtime, ctime). */
  hash: string;
  /** Newest ctime seen, ms since the epoch. */
  newestMs: number;
}

/** Metadata of a directory tree, no file contents read; null when it is not a directory. */
export async function snapshotDir(dir: string): Promise<Snapshot | null> {
  const top = await lstat(dir, { bigint: true }).catch(() => null);
  if (!top?.isDirectory()) return null;
  const h = createHash('sha256');
  let newest = top.ctimeNs;
  const line = (rel: string, st: import('node:fs').BigIntStats) => {
    if (st.ctimeNs > newest) newest = st.ctimeNs;
    h.update(`${rel}\0${st.ino}\0${st.mode}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}\n`);
  };
  line('', top);
  const stack = [''];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    const names = (await readdir(path.join(dir, rel))).sort();
    const stats = await Promise.all(names.map((n) => lstat(path.join(dir, rel, n), { bigint: true })));
    for (const [i, n] of names.entries()) {
      const r = rel ? `${rel}/${n}` : n;
      line(r, stats[i]!);
      if (stats[i]!.isDirectory()) stack.push(r);
    }
  }
  return { hash: h.digest('hex'), newestMs: Number(newest / 1_000_000n) };
}

/**
 * Snapshots the candidates with a stored layer before `build.command` runs. Waits until the
 * clock is past the newest ctime (plus a coarse filesystem tick), so a write during the build
 * cannot land on the same timestamp the checkout left.
 */
export async function snapshotBefore(plan: DependencyPlan, outputDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let newest = 0;
  for (const c of plan.candidates) {
    if (!c.stored) continue;
    const s = await snapshotDir(path.join(outputDir, c.dir));
    if (!s) continue;
    out.set(c.dir, s.hash);
    newest = Math.max(newest, s.newestMs);
  }
  const wait = newest + 20 - Date.now();
  if (out.size > 0 && wait > 0) await sleep(wait);
  return out;
}

/** Drops the stored layer of every candidate the build changed (or that was not snapshotted). */
export async function confirmAfter(
  plan: DependencyPlan,
  outputDir: string,
  before: Map<string, string> | null,
  progress: (l: string) => void,
): Promise<void> {
  for (const c of plan.candidates) {
    if (!c.stored) continue;
    const now = before?.has(c.dir) ? await snapshotDir(path.join(outputDir, c.dir)) : null;
    if (!now || now.hash !== before?.get(c.dir)) {
      progress(`${c.dir}: changed by build.command; packing it again`);
      c.stored = null;
    }
  }
}
