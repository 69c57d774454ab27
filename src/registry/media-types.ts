import { invalidInput } from '../core/errors.js';
import { goArch } from '../store/image.js';
import { MEDIA_TYPES } from '../store/oci-layout.js';

/**
 * Media types brr reads from registries (OCI and Docker v2), and platform selection in an image
 * index. Docker schema 1 is not supported: registries have converted it away for years.
 */

export const DOCKER_TYPES = {
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  list: 'application/vnd.docker.distribution.manifest.list.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  layerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  foreignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export const MANIFEST_ACCEPT = [MEDIA_TYPES.manifest, MEDIA_TYPES.index, DOCKER_TYPES.manifest, DOCKER_TYPES.list];

export function isIndexType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPES.index || mediaType === DOCKER_TYPES.list;
}

export function isManifestType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPES.manifest || mediaType === DOCKER_TYPES.manifest;
}

/**
 * The OCI media type for a layer of a base image: Docker's gzip layer is byte-for-byte the OCI
 * gzip layer, so an image brr writes on a Docker base is a pure OCI manifest.
 */
export function ociLayerType(mediaType: string): string {
  if (mediaType === DOCKER_TYPES.layerGzip) return MEDIA_TYPES.layerGzip;
  if (mediaType === DOCKER_TYPES.foreignLayerGzip)
    return 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
  return mediaType;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** The host's platform in OCI words: linux/<GOARCH>. */
export function hostPlatform(): Platform {
  return { os: 'linux', architecture: goArch() };
}

/** Parses `os/arch[/variant]`, e.g. `linux/arm64` or `linux/arm/v7`. */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_]+$/.test(p))) {
    throw invalidInput(
      'platform_invalid',
      `"${s}" is not a platform`,
      'write it as os/arch[/variant], e.g. linux/amd64 or linux/arm64',
    );
  }
  return parts[2]
    ? { os: parts[0]!, architecture: parts[1]!, variant: parts[2] }
    : { os: parts[0]!, architecture: parts[1]! };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** arm64 without a variant means v8, so `linux/arm64` and `linux/arm64/v8` are the same. */
function variantOf(p: Platform): string {
  return p.variant ?? (p.architecture === 'arm64' ? 'v8' : '');
}

export interface IndexEntry {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
}

/**
 * The manifest for `want` in an index: same os and architecture, and the same variant when the
 * caller names one. Attestation entries (`unknown/unknown`) never match.
 */
export function selectPlatform(entries: IndexEntry[], want: Platform): IndexEntry | null {
  const candidates = entries.filter(
    (e) =>
      e.platform &&
      e.platform.os === want.os &&
      e.platform.architecture === want.architecture &&
      isManifestType(e.mediaType),
  );
  if (want.variant === undefined) return candidates[0] ?? null;
  return candidates.find((e) => variantOf(e.platform!) === variantOf(want)) ?? null;
}
