import { BrrError, notFound } from '../core/errors.js';
import { readJsonBlob, type ImageManifest } from '../store/image-read.js';
import type { OciLayout } from '../store/oci-layout.js';
import { downloadBlob } from './blobs.js';
import type { RegistryClient } from './client.js';
import { getManifest } from './manifests.js';
import { formatPlatform, isIndexType, selectPlatform, type IndexEntry, type Platform } from './media-types.js';

/**
 * Pulls one image into the local layout: the manifest bytes as received (so the local digest is
 * the registry's), its config and its layers, each verified against its digest. An index is
 * stored too and resolved to the requested platform, so the same `@sha256:<index>` reference
 * resolves offline next time.
 */

export interface PulledImage {
  /** Digest of the platform manifest (what a build pins and a release runs). */
  digest: string;
  /** Digest of the index it was selected from, when the reference named an index. */
  indexDigest: string | null;
  mediaType: string;
  manifest: ImageManifest;
  /** The image config as stored (OCI or Docker v2; same shape). */
  config: Record<string, unknown> & {
    config?: Record<string, unknown>;
    rootfs?: { diff_ids?: string[] };
    history?: unknown[];
    architecture?: string;
    os?: string;
  };
  /** Bytes of blobs actually downloaded (0 when everything was already in the store). */
  bytesReceived: number;
}

export type ImageConfigJson = PulledImage['config'];

function platformNotFound(where: string, want: Platform, entries: IndexEntry[]): BrrError {
  const have = entries.filter((e) => e.platform).map((e) => formatPlatform(e.platform!));
  return notFound(
    'image_platform_not_found',
    `${where} has no image for ${formatPlatform(want)} (it has: ${have.join(', ') || 'no platforms'})`,
    'pick one of its platforms (build.image.platform or --platform)',
  );
}

function indexEntries(json: Record<string, unknown>): IndexEntry[] {
  return Array.isArray(json.manifests) ? (json.manifests as IndexEntry[]) : [];
}

function checkManifest(where: string, m: ImageManifest): void {
  const ok = (d: unknown) =>
    !!d &&
    typeof (d as { digest?: unknown }).digest === 'string' &&
    /^sha256:[0-9a-f]{64}$/.test((d as { digest: string }).digest);
  if (!ok(m.config) || !Array.isArray(m.layers) || !m.layers.every(ok)) {
    throw new BrrError('image_unsupported', `${where} is not a valid image manifest`, {
      hint: 'brr reads OCI and Docker v2 image manifests',
    });
  }
}

/** Pulls `reference` (a tag or a digest) for `platform`. */
export async function pullImage(
  client: RegistryClient,
  layout: OciLayout,
  reference: string,
  platform: Platform,
): Promise<PulledImage> {
  const where = `${client.registry}/${client.repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
  let top = await getManifest(client, reference);
  let indexDigest: string | null = null;
  if (isIndexType(top.mediaType)) {
    indexDigest = top.digest;
    await layout.putBlob(top.bytes, top.mediaType);
    const entry = selectPlatform(indexEntries(top.json), platform);
    if (!entry) throw platformNotFound(where, platform, indexEntries(top.json));
    top = await getManifest(client, entry.digest);
    if (isIndexType(top.mediaType))
      throw new BrrError('image_unsupported', `${where}: nested indexes are not supported`, {
        hint: 'reference the platform manifest by digest',
      });
  }
  const manifest = top.json as unknown as ImageManifest;
  checkManifest(where, manifest);
  let bytesReceived = 0;
  for (const d of [manifest.config, ...manifest.layers]) {
    if (await downloadBlob(client, layout, d.digest, typeof d.size === 'number' ? d.size : null))
      bytesReceived += d.size;
  }
  // The manifest goes in last: a manifest blob in the store means its blobs are there too.
  await layout.putBlob(top.bytes, top.mediaType);
  const config = await readJsonBlob<ImageConfigJson>(layout, manifest.config.digest, 'config');
  return {
    digest: top.digest,
    indexDigest,
    mediaType: top.mediaType,
    manifest: { ...manifest, mediaType: top.mediaType },
    config,
    bytesReceived,
  };
}

/**
 * The same resolution from the local layout only (no network): `digest` names a manifest or an
 * index pulled before. Null when anything is missing or damaged, so the caller pulls instead.
 */
export async function readLocalImage(
  layout: OciLayout,
  digest: string,
  platform: Platform,
): Promise<PulledImage | null> {
  if ((await layout.verifyBlob(digest)) !== 'ok') return null;
  let json = await readJsonBlob<Record<string, unknown>>(layout, digest, 'manifest').catch(() => null);
  if (!json) return null;
  let manifestDigest = digest;
  let indexDigest: string | null = null;
  if (isIndexType(String(json.mediaType ?? '')) || (json.manifests && !json.layers)) {
    const entry = selectPlatform(indexEntries(json), platform);
    if (!entry) throw platformNotFound(`index ${digest}`, platform, indexEntries(json));
    indexDigest = digest;
    manifestDigest = entry.digest;
    if ((await layout.verifyBlob(manifestDigest)) !== 'ok') return null;
    json = await readJsonBlob<Record<string, unknown>>(layout, manifestDigest, 'manifest').catch(() => null);
    if (!json) return null;
  }
  const manifest = json as unknown as ImageManifest;
  try {
    checkManifest(`manifest ${manifestDigest}`, manifest);
  } catch {
    return null;
  }
  for (const d of [manifest.config, ...manifest.layers]) if (!(await layout.hasBlob(d.digest))) return null;
  const config = await readJsonBlob<ImageConfigJson>(layout, manifest.config.digest, 'config').catch(() => null);
  if (!config) return null;
  const mediaType = typeof json.mediaType === 'string' ? json.mediaType : 'application/vnd.oci.image.manifest.v1+json';
  return {
    digest: manifestDigest,
    indexDigest,
    mediaType,
    manifest: { ...manifest, mediaType },
    config,
    bytesReceived: 0,
  };
}
