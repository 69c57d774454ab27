import { appendFile, lstat, mkdir, open, readFile, readdir, readlink, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Digest } from '../core/types.js';
import { withFileLock } from './file-lock.js';
import { readManifest } from './image-read.js';
import { ANNOTATIONS, type Descriptor, type OciLayout } from './oci-layout.js';
import { removeTree } from './remove-tree.js';

/**
 * Store-side helpers for `brr gc`: read what is on disk, and delete exactly what a plan names.
 * Deciding what may go is not done here (see src/release/retention.ts and src/app/gc-plan.ts).
 */

/** OciLayout's lock file name: index.json is only ever rewritten while holding it. */
const INDEX_LOCK = 'index.json.lock';
/** OciLayout's scratch directory (temp blobs, index rewrites). */
const LAYOUT_TMP = '.brr-tmp';

export interface BlobFile {
  digest: Digest;
  size: number;
  mtimeMs: number;
}

export interface PathInfo {
  path: string;
  bytes: number;
  mtimeMs: number;
}

/** Every blob file under blobs/sha256 (names that are not 64 hex digits are not blobs and are skipped). */
export async function listBlobFiles(layout: OciLayout): Promise<BlobFile[]> {
  const dir = path.join(layout.root, 'blobs', 'sha256');
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: BlobFile[] = [];
  for (const name of names.filter((n) => /^[0-9a-f]{64}$/.test(n)).sort()) {
    const st = await lstat(path.join(dir, name)).catch(() => null);
    if (st?.isFile()) out.push({ digest: `sha256:${name}`, size: st.size, mtimeMs: st.mtimeMs });
  }
  return out;
}

/**
 * The blobs an image needs: its manifest, config and layers. An unreadable manifest yields just
 * itself: whatever it pointed at can no longer be found through it.
 */
export async function imageBlobs(layout: OciLayout, manifestDigest: Digest): Promise<Digest[]> {
  const m = await readManifest(layout, manifestDigest).catch(() => null);
  if (!m) return [manifestDigest];
  return [manifestDigest, m.config.digest, ...m.layers.map((l) => l.digest)];
}

/** Bytes of a file or a whole tree (symlinks counted as links, never followed). */
export async function treeSize(p: string): Promise<number> {
  const st = await lstat(p).catch(() => null);
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const d of await readdir(p).catch(() => [] as string[])) n += await treeSize(path.join(p, d));
  return n;
}

/** The entries of a directory with size and mtime (missing directory: none). */
export async function listEntries(dir: string): Promise<PathInfo[]> {
  const out: PathInfo[] = [];
  for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) {
    const p = path.join(dir, name);
    const st = await lstat(p).catch(() => null);
    if (st) out.push({ path: p, bytes: await treeSize(p), mtimeMs: st.mtimeMs });
  }
  return out;
}

/** Temp files in the layout's scratch directory (left by crashed writers). */
export function listLayoutTemp(layout: OciLayout): Promise<PathInfo[]> {
  return listEntries(path.join(layout.root, LAYOUT_TMP));
}

/** The release `releases/<app>/current` points at, or null. */
export async function currentLinkTarget(releasesRoot: string, app: string): Promise<string | null> {
  return readlink(path.join(releasesRoot, app, 'current')).then(
    (t) => path.basename(t),
    () => null,
  );
}

/** Removes a path; read-only release trees are made writable first. */
export async function removePath(p: string): Promise<void> {
  const st = await lstat(p).catch(() => null);
  if (!st) return;
  if (st.isDirectory()) await removeTree(p);
  else await rm(p, { force: true });
}

export interface CollectImagesResult {
  /** Index entries removed. */
  entries: Descriptor[];
  /** Blobs deleted, with their sizes. */
  blobs: Array<{ digest: Digest; size: number }>;
}

/**
 * Under the index lock: drops the index entries named by `refs` (ref name + digest, as planned),
 * then deletes the candidate blobs that no remaining entry reaches. Reachability is computed
 * again here, from the index as it is now, so an image added by a build after the plan was made
 * keeps every blob it shares with a collected one.
 */
export async function collectImages(
  layout: OciLayout,
  refs: ReadonlyArray<{ ref: string; digest: Digest }>,
  candidates: ReadonlyArray<{ digest: Digest; size: number }>,
): Promise<CollectImagesResult> {
  const indexPath = path.join(layout.root, 'index.json');
  return withFileLock(path.join(layout.root, INDEX_LOCK), async () => {
    // OciLayout's reader first, so a corrupt index is reported the same way everywhere; the raw
    // file is then rewritten with its other top-level members intact.
    const listed = await layout.listImages();
    const text = await readFile(indexPath, 'utf8').catch(() => null);
    const raw = (text === null ? { schemaVersion: 2, manifests: listed } : JSON.parse(text)) as {
      manifests: Descriptor[];
    } & Record<string, unknown>;
    const drop = (d: Descriptor) =>
      refs.some((r) => r.digest === d.digest && r.ref === (d.annotations?.[ANNOTATIONS.refName] ?? ''));
    const removed = raw.manifests.filter(drop);
    const kept = raw.manifests.filter((d) => !drop(d));
    if (removed.length > 0) await writeIndexAtomic(layout, indexPath, { ...raw, manifests: kept });
    const reachable = new Set<Digest>();
    for (const d of kept) for (const b of await imageBlobs(layout, d.digest)) reachable.add(b);
    const blobs: CollectImagesResult['blobs'] = [];
    for (const c of candidates) {
      if (reachable.has(c.digest)) continue;
      await rm(layout.blobPath(c.digest), { force: true });
      blobs.push(c);
    }
    return { entries: removed, blobs };
  });
}

async function writeIndexAtomic(layout: OciLayout, indexPath: string, idx: unknown): Promise<void> {
  const tmp = layout.tempPath('index.json');
  const fh = await open(tmp, 'wx');
  try {
    await fh.writeFile(JSON.stringify(idx, null, 2) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, indexPath);
}

/**
 * What gc remembers about a collected build, so the error for a release that needs it can say
 * exactly how to rebuild it (the ledger holds the commit, but not the subdirectory or source).
 * Kept beside the store as JSON Lines: appended, never rewritten.
 */
export interface CollectedBuild {
  digest: Digest;
  commit: string;
  path: string;
  source: string;
  app: string | null;
  collectedAt: string;
}

function tombstoneFile(home: string): string {
  return path.join(home, 'gc', 'collected.jsonl');
}

export async function recordCollected(home: string, builds: readonly CollectedBuild[]): Promise<void> {
  if (builds.length === 0) return;
  await mkdir(path.join(home, 'gc'), { recursive: true });
  await appendFile(tombstoneFile(home), builds.map((b) => JSON.stringify(b)).join('\n') + '\n');
}

/** The newest record of `digest` being collected, or null (never collected, or by another home). */
export async function findCollected(home: string, digest: Digest): Promise<CollectedBuild | null> {
  const text = await readFile(tombstoneFile(home), 'utf8').catch(() => '');
  let found: CollectedBuild | null = null;
  for (const line of text.split('\n')) {
    if (!line.includes(digest)) continue;
    try {
      const b = JSON.parse(line) as CollectedBuild;
      if (b.digest === digest) found = b;
    } catch {
      // A line torn by a crash mid-append says nothing; the next one may.
    }
  }
  return found;
}
