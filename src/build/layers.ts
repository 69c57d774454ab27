import { lstat, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { BrrError } from '../core/errors.js';
import { APP_DIR, APP_LAYER_ANNOTATION } from '../store/image.js';
import { MEDIA_TYPES, type Descriptor, type OciLayout } from '../store/oci-layout.js';
import { writeLayer } from '../store/tar.js';

/**
 * The app's layers. Dependency directories (node_modules by default, `build.layers` in brr.yaml)
 * each get a layer of their own below the app code, so a commit that changes only code changes
 * only the top layer: the dependency blobs keep their digests and a push skips them.
 */

/**
 * mtime of every entry in a dependency layer. Not the commit time: that changes with every
 * commit and would change the layer's bytes with it. One second past the epoch, as jib does
 * (some tools treat a zero mtime as "unset").
 */
export const DEPENDENCY_MTIME = 1;

/** Directories split out when brr.yaml does not say: only used when present in the output. */
export const DEFAULT_SPLIT = ['node_modules'];

/** Layer annotation naming what an app layer holds (`node_modules`, `app`); materialize reads it. */
export const LAYER_ANNOTATION = APP_LAYER_ANNOTATION;

export interface AppLayer {
  descriptor: Descriptor;
  /** sha256 of the uncompressed tar (the config's diff_id). */
  diffId: string;
  /** What it holds: a split directory (relative to /app) or `app` for the rest. */
  name: string;
}

async function writeOne(
  layout: OciLayout,
  dir: string,
  prefix: string,
  mtime: number,
  name: string,
): Promise<AppLayer> {
  const tmp = layout.tempPath('layer');
  try {
    const res = await writeLayer(dir, tmp, { prefix, mtime });
    await layout.adoptBlob(tmp, res.digest);
    return {
      descriptor: { mediaType: MEDIA_TYPES.layerGzip, digest: res.digest, size: res.size },
      diffId: res.diffId,
      name,
    };
  } finally {
    await rm(tmp, { force: true });
  }
}

/** The split directories that exist in `outputDir` as real directories (a symlink is left in place). */
export async function presentSplitDirs(outputDir: string, dirs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const d of dirs) {
    const st = await lstat(path.join(outputDir, d)).catch(() => null);
    if (st?.isDirectory()) out.push(d);
  }
  return out;
}

/**
 * Writes the split directories, then the rest, as layers (bottom first). A split directory is
 * moved out of the output into `scratch` (same filesystem) so the app layer does not hold it too;
 * the output is a throw-away checkout, so nothing is put back. A directory with symlinks out of
 * itself cannot be a layer of its own and stays in the app layer. A directory in `stored` (the
 * dependency-layer cache, src/build/layer-cache.ts) is taken as stored, its blob never opened;
 * it may be absent from the output (left out of the checkout).
 */
export async function writeAppLayers(
  layout: OciLayout,
  outputDir: string,
  commitTime: number,
  dirs: readonly string[],
  scratch: string,
  progress: (l: string) => void = () => {},
  stored: ReadonlyMap<string, AppLayer> = new Map(),
): Promise<AppLayer[]> {
  const layers: AppLayer[] = [];
  for (const [i, d] of dirs.entries()) {
    const from = path.join(outputDir, d);
    const reuse = stored.get(d);
    if (reuse) {
      // Still moved out, so the app layer does not hold it; absent when it was never checked out.
      if ((await lstat(from).catch(() => null))?.isDirectory()) await rename(from, path.join(scratch, `split-${i}`));
      progress(`${d}: layer ${reuse.descriptor.digest.slice(7, 19)} reused (same git tree)`);
      layers.push(reuse);
      continue;
    }
    if (!(await lstat(from).catch(() => null))?.isDirectory()) continue; // inside one split before
    const moved = path.join(scratch, `split-${i}`);
    await rename(from, moved);
    try {
      layers.push(await writeOne(layout, moved, `${APP_DIR}/${d}`, DEPENDENCY_MTIME, d));
    } catch (e) {
      if (!(e instanceof BrrError && e.code === 'tar_unsafe_entry')) throw e;
      await rename(moved, from);
      progress(`${d}: kept in the app layer (it has symlinks pointing out of it)`);
    }
  }
  layers.push(await writeOne(layout, outputDir, APP_DIR, commitTime, 'app'));
  return layers;
}
