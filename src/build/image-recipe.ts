import path from 'node:path';
import type { Manifest } from '../core/types.js';
import { IMAGE_LABELS, imageLabels, writeImage, type ImageInput, type ImageResult } from '../store/image.js';
import type { OciLayout } from '../store/oci-layout.js';
import { resolveBase, composeImage, type BaseImage } from './base-image.js';
import { runGit } from './checkout.js';
import { buildDockerfile } from './dockerfile.js';
import { findInit, writeInitLayer } from './init-layer.js';
import { DEFAULT_SPLIT, presentSplitDirs, writeAppLayers } from './layers.js';

/**
 * Which of brr's three ways turns a build output into an image: the plain one-layer image (the
 * original format, digests unchanged), layers appended onto a base and/or split by directory,
 * or a Dockerfile run by a container engine.
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
}): Promise<BaseImage | null> {
  const manifest = await manifestAtCommit(opts.repo, opts.commit, opts.subdir);
  if (!manifest?.build.image?.base || manifest.build.dockerfile) return null;
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
}

export async function writeBuildImage(input: BuildImageInput): Promise<ImageResult> {
  const { layout, manifest, image } = input;
  if (manifest.build.dockerfile) {
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
  const split = await presentSplitDirs(image.outputDir, manifest.build.layers ?? DEFAULT_SPLIT);
  if (!input.base && !manifest.build.image && split.length === 0) return writeImage(layout, image);
  // Before the app layers: writing them moves split directories out of the output.
  const spec = manifest.build.image;
  const init = spec?.init ? await writeInitLayer(layout, spec.init, input.src, input.work) : null;
  const initPath = init?.path ?? (input.base ? await findInit(layout, input.base.layers) : null);
  if (initPath) input.progress(`init ${initPath}${init ? ' (build.image.init)' : ' (from the base)'}`);
  const layers = await writeAppLayers(layout, image.outputDir, image.commitTime, split, input.work, input.progress);
  return composeImage(layout, {
    base: input.base,
    init: init?.layer ?? null,
    layers,
    labels: initPath ? { ...imageLabels(image), [IMAGE_LABELS.init]: initPath } : imageLabels(image),
    spec: manifest.build.image ?? null,
    commitTime: image.commitTime,
  });
}
