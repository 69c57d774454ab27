import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { canonicalJson } from '../core/canonical-json.js';
import { isBrrError } from '../core/errors.js';
import type { Manifest } from '../core/types.js';
import { APP_DIR } from '../store/image.js';
import { MEDIA_TYPES, type OciLayout } from '../store/oci-layout.js';
import { ByteReader, MAX_META_BODY, padOf } from '../store/tar-extract.js';
import { BLOCK, decodeHeader, linkStaysInside, parsePax, safeRelative } from '../store/tar-header.js';
import { TarLayerWriter } from '../store/tar.js';
import { archiveArgv, gitEnv } from './checkout.js';
import { normalizeRel } from './layer-cache.js';
import { DEFAULT_SPLIT, DEPENDENCY_MTIME, type AppLayer } from './layers.js';

/**
 * A build without a build command packs its layers straight from the `git archive` stream: no
 * checkout written to disk, nothing read back. Creating thousands of files is what a full build
 * of an app with committed `node_modules` spent most of its time on (docs/benchmarks.md).
 *
 * The layers must be byte for byte the ones the checkout path writes (src/build/layers.ts over
 * src/store/tar.ts): the same entries, names, order, modes, mtimes and PAX headers. What makes
 * that hold:
 * - `git archive` of a tree lists entries in git's tree order, which is the byte order of the
 *   full paths with a `/` after directory names: the order the checkout path sorts into. Each
 *   layer checks that its names rise (JavaScript's comparison, as the sort uses), and a tree
 *   where they do not (names with characters beyond U+FFFF next to U+E000–U+FFFF) goes the
 *   checkout way;
 * - the same `git archive` command line as the checkout, so attributes, filters and
 *   export-ignore act the same; a file's mode keeps only whether it is executable after the
 *   umask, as it would on disk;
 * - brr.yaml and Procfile are read out of the archive and give the manifest loadManifest would;
 *   its `build` must be the one that chose this path (read with `git show` beforehand).
 * Anything the checkout path would treat specially sends the build there instead (`reason`):
 * an empty directory (a submodule, or a directory emptied by export-ignore), a symlink leaving
 * the tree or its layer, a symlink on the way to build.output or a split directory, a
 * duplicate or out-of-order entry, git failing, a manifest that does not load. The checkout path
 * then does what it always did, errors included; the blobs written here are dropped unstored.
 */

/** Why a commit cannot be packed from the archive stream (internal: caught by packFromArchive). */
class Unpackable extends Error {}

/** Pure: why a build with this manifest (brr.yaml at the commit) needs a checkout, or null when it does not. */
export function checkoutNeeded(m: Manifest | null): string | null {
  if (!m) return 'no brr.yaml at the commit';
  if (m.build.command.length > 0) return 'build.command runs on a checkout';
  if (m.build.dockerfile) return 'a Dockerfile build needs its context on disk';
  if (m.build.image?.init) return 'build.image.init is read from the checkout';
  if (normalizeRel(m.build.output) === null) return 'build.output is not a plain path';
  for (const d of m.build.layers ?? DEFAULT_SPLIT) {
    if (d === '' || normalizeRel(d) !== d) return `build.layers entry "${d}" is not a plain path`;
  }
  return null;
}

export interface ArchivePackInput {
  layout: OciLayout;
  repo: string;
  commit: string;
  subdir: string;
  /** Directories (relative to subdir) left out of the archive: their layers are reused as stored. */
  exclude: readonly string[];
  /** brr.yaml at the commit, for which checkoutNeeded gave null. */
  manifest: Manifest;
  commitTime: number;
  /** Stored dependency layers, by split directory (src/build/layer-cache.ts). */
  stored: ReadonlyMap<string, AppLayer>;
  /** Names brr.yaml in manifest errors. */
  where: string;
  progress: (line: string) => void;
}

export type ArchivePack =
  | {
      /** The manifest as loadManifest would read it from a checkout. */
      manifest: Manifest;
      /** The split directories present (or reused), in brr.yaml's order: writeBuildImage's `split`. */
      split: string[];
      /** The app layers, bottom first, `app` last: what writeAppLayers returns. */
      layers: AppLayer[];
    }
  | { reason: string };

type Kind = 'file' | 'dir' | 'symlink';
type ManifestOfTexts = typeof import('../manifest/load.js').manifestOfTexts;

/** One layer being written: names relative to its root (`inner`), the root itself being ''. */
class LayerSink {
  readonly writer: TarLayerWriter;
  /** Directories written so far (inner paths), the root included. */
  readonly dirs = new Set<string>(['']);
  /** Symlinks of the layer (inner path → target), for the layer's own containment check. */
  readonly links = new Map<string, string>();
  private last: string;

  constructor(
    readonly tmp: string,
    readonly prefix: string,
    readonly mtime: number,
  ) {
    this.writer = new TarLayerWriter(tmp);
    this.last = `${prefix}/`;
  }

  /** Writes the root directory entry, as collect() lists the prefix first. */
  start(): Promise<void> {
    return this.writer.header({ name: this.last, type: 'dir', mode: 0o755, size: 0, mtime: this.mtime, linkname: '' });
  }

  private async header(inner: string, type: Kind, mode: number, size: number, linkname: string): Promise<void> {
    // A directory git left out (it never does) is what a checkout's mkdir -p would have made.
    const up = inner.lastIndexOf('/') > 0 ? inner.slice(0, inner.lastIndexOf('/')) : '';
    if (!this.dirs.has(up)) await this.header(up, 'dir', 0o755, 0, '');
    if (type === 'dir') this.dirs.add(inner);
    const name = `${this.prefix}/${inner}${type === 'dir' ? '/' : ''}`;
    if (!(name > this.last)) throw new Unpackable(`"${name}" is out of the order the checkout path sorts into`);
    this.last = name;
    await this.writer.header({ name, type, mode, size, mtime: this.mtime, linkname });
  }

  dir(inner: string): Promise<void> {
    return this.header(inner, 'dir', 0o755, 0, '');
  }

  file(inner: string, executable: boolean, size: number): Promise<void> {
    return this.header(inner, 'file', executable ? 0o755 : 0o644, size, '');
  }

  symlink(inner: string, target: string): Promise<void> {
    this.links.set(inner, target);
    return this.header(inner, 'symlink', 0o777, 0, target);
  }
}

/** The process umask, which the checkout path's files are created under. */
function umask(): number {
  try {
    return process.umask();
  } catch {
    return 0o022;
  }
}

/** Path components longer than this cannot be checked out (ext4, xfs, btrfs). */
const NAME_MAX = 255;

/**
 * Packs the app layers of `commit` from one `git archive` stream. Returns the layers, stored in
 * the layout, or why the checkout path must build this commit instead (nothing stored then).
 */
export async function packFromArchive(input: ArchivePackInput): Promise<ArchivePack> {
  const { layout } = input;
  const output = normalizeRel(input.manifest.build.output)!;
  const wanted = input.manifest.build.layers ?? DEFAULT_SPLIT;
  const sinks = new Map<string, LayerSink>(); // '' is the app layer
  const ended = new Map<string, { digest: string; diffId: string; size: number }>();
  const argv = archiveArgv(input.repo, input.commit, input.subdir, input.exclude);
  const child = spawn(argv[0]!, argv.slice(1), { env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const err: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const exited = new Promise<number>((resolve) => {
    child.on('error', () => resolve(-1));
    child.on('close', (code) => resolve(code ?? 1));
  });

  const sinkOf = async (layer: string): Promise<LayerSink> => {
    let s = sinks.get(layer);
    if (!s) {
      const prefix = layer ? `${APP_DIR}/${layer}` : APP_DIR;
      s = new LayerSink(layout.tempPath('layer'), prefix, layer ? DEPENDENCY_MTIME : input.commitTime);
      sinks.set(layer, s);
      await s.start();
    }
    return s;
  };

  try {
    await sinkOf(''); // the app layer exists even when the output is empty
    const tree = await readArchive(child.stdout, input, output, wanted, sinkOf);
    const code = await exited;
    if (code !== 0) throw new Unpackable(`git archive failed (exit ${code}): ${Buffer.concat(err).toString().trim()}`);
    for (const [layer, s] of sinks) ended.set(layer, await s.writer.end());
    // Loaded here, not at the top: the YAML parser stays out of cache hits (as in build.ts).
    const { manifestOfTexts } = await import('../manifest/load.js');
    const { manifest, split } = check(manifestOfTexts, tree, input, output, wanted, sinks);

    const layers: AppLayer[] = [];
    const adopt = async (layer: string, name: string): Promise<AppLayer> => {
      const res = ended.get(layer)!;
      await layout.adoptBlob(sinks.get(layer)!.tmp, res.digest);
      return {
        descriptor: { mediaType: MEDIA_TYPES.layerGzip, digest: res.digest, size: res.size },
        diffId: res.diffId,
        name,
      };
    };
    // As writeAppLayers: a reused directory every time it is listed, a written one once.
    const written = new Set<string>();
    for (const d of split) {
      const reuse = input.stored.get(d);
      if (reuse) {
        input.progress(`${d}: layer ${reuse.descriptor.digest.slice(7, 19)} reused (same git tree)`);
        layers.push(reuse);
      } else if (sinks.has(d) && !written.has(d)) {
        written.add(d);
        layers.push(await adopt(d, d));
      }
    }
    layers.push(await adopt('', 'app'));
    return { manifest, split, layers };
  } catch (e) {
    if (e instanceof Unpackable) return { reason: e.message };
    // A stream cut short (git dying half way) is for the checkout path to report, as git's failure.
    if (isBrrError(e) && e.code === 'tar_invalid') return { reason: `the archive stream broke off: ${e.message}` };
    throw e;
  } finally {
    // Unread output would keep the pipe (and so 'close') from ever ending when we stopped half way.
    child.stdout.destroy();
    if (child.exitCode === null && child.signalCode === null) child.kill();
    await exited;
    for (const [layer, s] of sinks) if (!ended.has(layer)) await s.writer.abort();
    await Promise.all([...sinks.values()].map((s) => rm(s.tmp, { force: true })));
  }
}

/** What the archive held, for the checks a checkout would have made. */
interface TreeSeen {
  kinds: Map<string, Kind>;
  /** Every symlink of the tree (path → target). */
  links: Map<string, string>;
  /** Directories with at least one entry below them. */
  filled: Set<string>;
  texts: { yaml: Buffer[] | null; procfile: Buffer[] | null };
}

/**
 * Reads the archive, sending each entry to its layer: below build.output, into the first split
 * directory (brr.yaml order) that holds it, else the app layer; entries outside build.output go
 * nowhere. The checks mirror the extractor's (src/store/tar-extract.ts).
 */
async function readArchive(
  stream: AsyncIterable<Buffer>,
  input: ArchivePackInput,
  output: string,
  wanted: readonly string[],
  sinkOf: (layer: string) => Promise<LayerSink>,
): Promise<TreeSeen> {
  const r = new ByteReader(stream);
  const seen: TreeSeen = {
    kinds: new Map(),
    links: new Map(),
    filled: new Set(),
    texts: { yaml: null, procfile: null },
  };
  const { kinds } = seen;
  const mask = umask();
  let pax: Record<string, string> = {};
  let gnuName: string | undefined;
  let gnuLink: string | undefined;

  const route = (rel: string, kind: Kind): { layer: string; inner: string } | null => {
    let inner = rel;
    if (output) {
      if (!rel.startsWith(`${output}/`)) return null; // outside build.output, or its root
      inner = rel.slice(output.length + 1);
    }
    for (const d of wanted) {
      if (inner === d && kind === 'dir') return { layer: d, inner: '' };
      if (inner.startsWith(`${d}/`)) return { layer: d, inner: inner.slice(d.length + 1) };
    }
    return { layer: '', inner };
  };
  const sinkFor = async (to: { layer: string } | null): Promise<LayerSink | null> =>
    to === null || input.stored.has(to.layer) ? null : sinkOf(to.layer);

  while (await r.fill(BLOCK)) {
    const h = decodeHeader(await r.exact(BLOCK));
    if (!h) break;
    if (!Number.isSafeInteger(h.size) || h.size < 0) throw new Unpackable(`entry "${h.name}" has a bad size`);
    if (h.flag === 'g') {
      await r.skip(h.size + padOf(h.size));
      continue;
    }
    if (h.flag === 'x' || h.flag === 'L' || h.flag === 'K') {
      if (h.size > MAX_META_BODY) throw new Unpackable(`entry "${h.name}" has an oversized extended header`);
      const body = await r.exact(h.size);
      await r.skip(padOf(h.size));
      if (h.flag === 'x') pax = parsePax(body);
      else if (h.flag === 'L') gnuName = body.toString('utf8').replace(/\0+$/, '');
      else gnuLink = body.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    if (pax.size !== undefined && !/^[0-9]{1,15}$/.test(pax.size)) throw new Unpackable('a PAX size is not a number');
    const size = pax.size !== undefined ? Number(pax.size) : h.size;
    const name = pax.path ?? gnuName ?? h.name;
    const linkname = pax.linkpath ?? gnuLink ?? h.linkname;
    pax = {};
    gnuName = gnuLink = undefined;
    const isFile = h.flag === '0' || h.flag === '\0' || h.flag === '7';
    const kind: Kind | null = isFile ? 'file' : h.flag === '5' ? 'dir' : h.flag === '2' ? 'symlink' : null;
    if (kind === null) throw new Unpackable(`entry "${name}" has type "${h.flag}"`);
    if (!isFile && size !== 0) throw new Unpackable(`entry "${name}" is not a file but has data`);

    const rel = safeRelative(name);
    if (rel === null) throw new Unpackable(`entry "${name}" leaves the tree`);
    if (rel === '') {
      await r.skip(size + padOf(size));
      continue;
    }
    const parts = rel.split('/');
    if (parts.some((p) => Buffer.byteLength(p) > NAME_MAX))
      throw new Unpackable(`"${rel}" has a name too long to check out`);
    for (let i = 1; i < parts.length; i++) {
      const up = parts.slice(0, i).join('/');
      const k = kinds.get(up);
      if (k === 'file' || k === 'symlink') throw new Unpackable(`"${rel}" is below a ${k}`);
      if (k === undefined) kinds.set(up, 'dir'); // made by mkdir -p in a checkout
      seen.filled.add(up);
    }
    if (kinds.has(rel)) throw new Unpackable(`"${rel}" appears twice`);
    kinds.set(rel, kind);
    if ((rel === 'brr.yaml' || rel === 'Procfile') && kind !== 'file') throw new Unpackable(`${rel} is a ${kind}`);

    const to = route(rel, kind);
    const sink = await sinkFor(to);
    const inner = to?.inner ?? '';
    if (kind === 'dir') {
      if (sink && inner !== '') await sink.dir(inner);
    } else if (kind === 'symlink') {
      seen.links.set(rel, linkname);
      if (sink) await sink.symlink(inner, linkname);
    } else {
      // Created with the archive's mode under the umask; only the executable bit is kept.
      const executable = (h.mode & ~mask & 0o111) !== 0;
      const text: Buffer[] | null = rel === 'brr.yaml' || rel === 'Procfile' ? [] : null;
      if (rel === 'brr.yaml') seen.texts.yaml = text;
      if (rel === 'Procfile') seen.texts.procfile = text;
      if (sink) await sink.file(inner, executable, size);
      for (let left = size; left > 0;) {
        const chunk = await r.some(Math.min(left, 1 << 20));
        left -= chunk.length;
        text?.push(chunk);
        if (sink) await sink.writer.data(chunk);
      }
      await r.skip(padOf(size));
      if (sink) await sink.writer.endFile(size);
    }
  }
  await r.drain();
  return seen;
}

/**
 * After the stream: the checks a checkout and the layer writer would have made, and the
 * manifest. Throws Unpackable where the checkout path would do something else.
 */
function check(
  manifestOfTexts: ManifestOfTexts,
  tree: TreeSeen,
  input: ArchivePackInput,
  output: string,
  wanted: readonly string[],
  sinks: ReadonlyMap<string, LayerSink>,
): { manifest: Manifest; split: string[] } {
  const { kinds, links } = tree;
  // A directory left out of the archive is no submodule, should git ever list it bare.
  const left = new Set(input.exclude);
  for (const [rel, k] of kinds) {
    if (k === 'dir' && !tree.filled.has(rel) && !left.has(rel)) {
      throw new Unpackable(`"${rel}" is an empty directory (a submodule?)`);
    }
  }
  for (const [rel, target] of links) {
    if (!linkStaysInside(rel, target, links)) throw new Unpackable(`symlink "${rel}" resolves outside the tree`);
  }
  if (output && kinds.get(output) !== 'dir') throw new Unpackable(`build.output "${output}" is not a directory`);
  const join = (d: string) => (output ? `${output}/${d}` : d);
  for (const d of wanted) {
    const parts = join(d).split('/');
    for (let i = 1; i < parts.length; i++) {
      if (kinds.get(parts.slice(0, i).join('/')) === 'symlink') throw new Unpackable(`a symlink is on the way to ${d}`);
    }
  }
  for (const [layer, s] of sinks) {
    for (const [inner, target] of s.links) {
      if (!linkStaysInside(inner, target, s.links)) {
        throw new Unpackable(`symlink "${join(layer ? `${layer}/${inner}` : inner)}" points out of its layer`);
      }
    }
  }
  const text = (b: Buffer[] | null) => (b === null ? null : Buffer.concat(b).toString('utf8'));
  let manifest: Manifest;
  try {
    manifest = manifestOfTexts(text(tree.texts.yaml), text(tree.texts.procfile), input.where);
  } catch (e) {
    throw new Unpackable(`brr.yaml does not load: ${(e as Error).message}`);
  }
  if (canonicalJson(manifest.build) !== canonicalJson(input.manifest.build)) {
    throw new Unpackable('brr.yaml in the archive differs from the one git show gave');
  }
  const split = wanted.filter((d) => input.stored.has(d) || kinds.get(join(d)) === 'dir');
  return { manifest, split };
}
