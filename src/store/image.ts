import { rm } from 'node:fs/promises';
import { canonicalJson } from '../core/canonical-json.js';
import type { ProcessSpec, ReleasePhaseSpec } from '../core/types.js';
import { MEDIA_TYPES, type Descriptor, type OciLayout } from './oci-layout.js';
import { writeLayer } from './tar.js';

/**
 * Writes a build output as a one-layer OCI image. Everything that goes into the blobs is a
 * function of the commit (its files, its time, its brr.yaml) and of brr itself: no wall clock,
 * no host name, no user, no path of the checkout. That is what makes the digest reproducible.
 */

export const IMAGE_LABELS = {
  revision: 'org.opencontainers.image.revision',
  created: 'org.opencontainers.image.created',
  source: 'org.opencontainers.image.source',
  app: 'dev.brr.app',
  manifest: 'dev.brr.manifest',
  /** canonicalJson(ReleasePhaseSpec), only when brr.yaml has a release phase. */
  release: 'dev.brr.release',
  /** The base image pinned by digest (`registry/repo@sha256:…`), only for images built on a base. */
  base: 'dev.brr.base',
  /** Path of the image's tini/dumb-init (found in the base or added by build.image.init), only when there is one. */
  init: 'dev.brr.init',
} as const;

/**
 * Layer annotation naming what an app layer holds (`node_modules`, `app`). Set on brr's own
 * layers when an image has more than one layer (a base, or split dependencies), so the local
 * target can tell them from base layers.
 */
export const APP_LAYER_ANNOTATION = 'dev.brr.layer';

/** Where the build output sits inside the image (and the container's working directory). */
export const APP_DIR = 'app';

export interface ImageInput {
  /** Directory whose contents become `/app` in the image. */
  outputDir: string;
  commit: string;
  /** Commit time, seconds since the epoch: every mtime and the config's `created`. */
  commitTime: number;
  /** Public source URL (credentials removed); null leaves the label out. */
  source: string | null;
  /** `app` from the commit's brr.yaml (never the deploy's name: that would fork digests). */
  app: string | null;
  processes: Record<string, ProcessSpec>;
  /** brr.yaml's release phase; null or absent leaves the label out. */
  release?: ReleasePhaseSpec | null;
}

export interface ImageResult {
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  /** Bytes of manifest + config + layers. */
  size: number;
}

/** The image config; exported for tests, which check its labels. */
export interface ImageConfig {
  architecture: string;
  os: 'linux';
  created: string;
  config: { WorkingDir: string; Labels: Record<string, string> };
  rootfs: { type: 'layers'; diff_ids: string[] };
}

const GOARCH: Record<string, string> = {
  x64: 'amd64',
  ia32: '386',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
};

/** Node's process.arch in the GOARCH vocabulary OCI uses. */
export function goArch(nodeArch: string = process.arch): string {
  return GOARCH[nodeArch] ?? nodeArch;
}

/** The labels every brr image carries; also used by images built on a base (src/build/base-image.ts). */
export function imageLabels(input: Omit<ImageInput, 'outputDir'>): Record<string, string> {
  const labels: Record<string, string> = {
    [IMAGE_LABELS.revision]: input.commit,
    [IMAGE_LABELS.created]: new Date(input.commitTime * 1000).toISOString(),
    [IMAGE_LABELS.manifest]: canonicalJson(input.processes),
  };
  if (input.source) labels[IMAGE_LABELS.source] = input.source;
  if (input.app) labels[IMAGE_LABELS.app] = input.app;
  // A label of its own, present only when set: images of apps without a release phase keep
  // exactly the config (and digest) they had before release phases existed.
  if (input.release) labels[IMAGE_LABELS.release] = canonicalJson({ command: input.release.command });
  return labels;
}

export async function writeImage(layout: OciLayout, input: ImageInput): Promise<ImageResult> {
  const tmp = layout.tempPath('layer');
  let layer: Descriptor;
  let diffId: string;
  try {
    const res = await writeLayer(input.outputDir, tmp, { prefix: APP_DIR, mtime: input.commitTime });
    await layout.adoptBlob(tmp, res.digest);
    layer = { mediaType: MEDIA_TYPES.layerGzip, digest: res.digest, size: res.size };
    diffId = res.diffId;
  } finally {
    await rm(tmp, { force: true });
  }
  return writeImageOfLayer(layout, input, layer, diffId);
}

/**
 * The config and manifest of a one-layer image whose layer is already stored (written by
 * writeImage, or straight from `git archive` by src/build/archive-layers.ts).
 */
export async function writeImageOfLayer(
  layout: OciLayout,
  input: Omit<ImageInput, 'outputDir'>,
  layer: Descriptor,
  diffId: string,
): Promise<ImageResult> {
  const created = new Date(input.commitTime * 1000).toISOString();
  const labels = imageLabels(input);
  const config: ImageConfig = {
    architecture: goArch(),
    os: 'linux',
    created,
    config: { WorkingDir: `/${APP_DIR}`, Labels: labels },
    rootfs: { type: 'layers', diff_ids: [diffId] },
  };
  // Canonical JSON: key order and spacing are part of the digest, so they are fixed.
  const configDesc = await layout.putBlob(canonicalJson(config), MEDIA_TYPES.config);
  const manifestJson = canonicalJson({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: configDesc,
    layers: [layer],
  });
  const manifest = await layout.putBlob(manifestJson, MEDIA_TYPES.manifest);
  return { manifest, config: configDesc, layers: [layer], size: manifest.size + configDesc.size + layer.size };
}
