import path from 'node:path';
import type { Manifest } from '../core/types.js';
import {
  IMAGE_LABELS,
  imageLabels,
  writeImage,
  writeImageOfLayer,
  type ImageInput,
  type ImageResult,
} from '../store/image.js';
import type { OciLayout } from '../store/oci-layout.js';
import type { BaseImage } from './base-image.js';
import { runGit } from './checkout.js';
import { findInit, writeInitLayer } from './init-layer.js';
import { recordLayer, type DependencyPlan } from './layer-cache.js';
import { DEFAULT_SPLIT, presentSplitDirs, writeAppLayers, type AppLayer } from './layers.js';

/**
 * Which of brr's three ways turns a build output into an image: the plain one-layer image (the
 * original format, digests unchanged), layers appended onto a base and/or split by directory,
 * or a Dockerfile run by a container engine. The registry client (base images) and the engine
 * runner are imported only by the builds that use them: a cache hit loads neither.
 */

/** brr.yaml of `commit` read straight from git (no checkout), or null when there is none. */
export async function manifestAtCommit(repo: string, commit: string, subdir: string): Promise<Manifest | null> {
  const r = await runGit(['git', '-C', repo, 'show', `${commit}:${subdir ? `${subdir}/` : ''}brr.yaml`]);
  if (r.code !== 0) return null;
  const { parseManifest } = await import('../manifest/load.js');
  return parseManifest(r.stdout);
}

/**
 * The base image of the commit's `build.image`, resolved to a digest before any checkout: the
 * digest is part of the cache key, so a moved tag is a cache miss and an unchanged one a hit.
 */
export async function resolveBuildBase(opts: {
  layout: OciLayout;
  repo: string;
  commit: string;
  subdir: string;
  insecure?: boolean;
  progress?: (l: string) => void;
  /** brr.yaml at the commit when the caller has read it already (undefined: read it here). */
  manifest?: Manifest | null;
}): Promise<BaseImage | null> {
  const manifest =
    opts.manifest !== undefined ? opts.manifest : await manifestAtCommit(opts.repo, opts.commit, opts.subdir);
  if (!manifest?.build.image?.base || manifest.build.dockerfile) return null;
  const { resolveBase } = await import('./base-image.js');
  return resolveBase(opts.layout, manifest.build.image, { insecure: opts.insecure, progress: opts.progress });
}

export interface BuildImageInput {
  layout: OciLayout;
  manifest: Manifest;
  /** The clean checkout of the built directory (a Dockerfile's context). */
  src: string;
  /** What writeImage would get: output directory, commit, labels' inputs. */
  image: ImageInput;
  base: BaseImage | null;
  /** Scratch space on the store's filesystem. */
  work: string;
  logFile: string;
  progress: (line: string) => void;
  /** Dependency layers keyed on their git tree (src/build/layer-cache.ts); none when absent. */
  deps?: DependencyPlan;
  /**
   * The app layers already written straight from `git archive` (src/build/archive-layers.ts):
   * what presentSplitDirs and writeAppLayers would give. `image.outputDir` is then not read.
   */
  packed?: { split: string[]; layers: AppLayer[] };
}

export async function writeBuildImage(input: BuildImageInput): Promise<ImageResult> {
  const { layout, manifest, image } = input;
  if (manifest.build.dockerfile) {
    const { buildDockerfile } = await import('./dockerfile.js');
    return buildDockerfile({
      layout,
      context: input.src,
      dockerfile: manifest.build.dockerfile,
      commit: image.commit,
      epoch: image.commitTime,
      labels: imageLabels(image),
      work: path.join(input.work, 'engine'),
      logFile: input.logFile,
      progress: input.progress,
    });
  }
  const stored = new Map<string, AppLayer>();
  for (const c of input.deps?.candidates ?? []) if (c.stored) stored.set(c.dir, c.stored);
  const wanted = manifest.build.layers ?? DEFAULT_SPLIT;
  const { packed } = input;
  const present = packed ? null : new Set(await presentSplitDirs(image.outputDir, wanted));
  // A reused directory may have been left out of the checkout: it still gets its layer, in order.
  const split = packed?.split ?? wanted.filter((d) => present!.has(d) || stored.has(d));
  if (!input.base && !manifest.build.image && split.length === 0) {
    if (!packed) return writeImage(layout, image);
    const app = packed.layers[packed.layers.length - 1]!;
    return writeImageOfLayer(layout, image, app.descriptor, app.diffId);
  }
  // Before the app layers: writing them moves split directories out of the output.
  const spec = manifest.build.image;
  const init = spec?.init ? await writeInitLayer(layout, spec.init, input.src, input.work) : null;
  const initPath = init?.path ?? (input.base ? await findInit(layout, input.base.layers) : null);
  if (initPath) input.progress(`init ${initPath}${init ? ' (build.image.init)' : ' (from the base)'}`);
  const layers =
    packed?.layers ??
    (await writeAppLayers(layout, image.outputDir, image.commitTime, split, input.work, input.progress, stored));
  for (const c of input.deps?.candidates ?? []) {
    const written = c.stored ? null : layers.find((l) => l.name === c.dir);
    if (written) await recordLayer(layout, c.key, written);
  }
  const { composeImage } = await import('./base-image.js');
  return composeImage(layout, {
    base: input.base,
    init: init?.layer ?? null,
    layers,
    labels: initPath ? { ...imageLabels(image), [IMAGE_LABELS.init]: initPath } : imageLabels(image),
    spec: manifest.build.image ?? null,
    commitTime: image.commitTime,
  });
}
