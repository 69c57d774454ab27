import { BrrError } from '../core/errors.js';
import { readManifest } from '../store/image-read.js';
import { MEDIA_TYPES, type Descriptor, type OciLayout } from '../store/oci-layout.js';
import { hasRemoteBlob, uploadBlob } from './blobs.js';
import type { RegistryClient } from './client.js';
import { putManifest } from './manifests.js';
import { formatImageRef } from './reference.js';

/**
 * Pushes one image from the local layout: every blob the registry lacks, then the manifest (its
 * exact bytes, so the remote digest is the local digest). Blobs go first because a registry
 * refuses a manifest whose blobs it does not have.
 */

export interface PushResult {
  /** `registry/repo@sha256:…` */
  reference: string;
  digest: string;
  tag: string | null;
  /** Blob and manifest bytes sent. */
  bytesSent: number;
  blobsPushed: number;
  blobsSkipped: number;
}

export interface PushOptions {
  layout: OciLayout;
  digest: string;
  client: RegistryClient;
  tag: string | null;
  progress?: (line: string) => void;
  /** Blobs uploaded at once. */
  concurrency?: number;
}

async function pushBlob(
  client: RegistryClient,
  layout: OciLayout,
  d: Descriptor,
  progress: (l: string) => void,
): Promise<boolean> {
  if ((await layout.verifyBlob(d.digest)) !== 'ok') {
    throw new BrrError(
      'store_corrupt',
      `blob ${d.digest} is missing or damaged in the local store; refusing to push it`,
      { hint: 'rebuild the image (brr build --no-cache) or pull it again' },
    );
  }
  if (await hasRemoteBlob(client, d.digest)) {
    progress(`skip ${d.digest.slice(7, 19)} (already in ${client.registry}/${client.repository})`);
    return false;
  }
  progress(`push ${d.digest.slice(7, 19)} (${d.size} bytes)`);
  await uploadBlob(client, layout, d.digest, d.size);
  return true;
}

export async function pushImage(opts: PushOptions): Promise<PushResult> {
  const { layout, client, digest } = opts;
  const progress = opts.progress ?? (() => {});
  if ((await layout.verifyBlob(digest)) !== 'ok') {
    throw new BrrError('store_corrupt', `manifest ${digest} is missing or damaged in the local store`, {
      hint: 'rebuild the image (brr build --no-cache)',
    });
  }
  const bytes = await layout.readBlob(digest);
  const manifest = await readManifest(layout, digest);
  const blobs = [manifest.config, ...manifest.layers];
  const before = client.bytesSent;
  let pushed = 0;
  const limit = Math.max(1, opts.concurrency ?? 4);
  for (let i = 0; i < blobs.length; i += limit) {
    const done = await Promise.all(blobs.slice(i, i + limit).map((d) => pushBlob(client, layout, d, progress)));
    pushed += done.filter(Boolean).length;
  }
  const mediaType = manifest.mediaType ?? MEDIA_TYPES.manifest;
  await putManifest(client, opts.tag ?? digest, mediaType, bytes);
  return {
    reference: formatImageRef({ registry: client.registry, repository: client.repository, digest }),
    digest,
    tag: opts.tag,
    bytesSent: client.bytesSent - before,
    blobsPushed: pushed,
    blobsSkipped: blobs.length - pushed,
  };
}
