import { sha256Digest } from '../core/canonical-json.js';
import { BrrError } from '../core/errors.js';
import { readManifest } from '../store/image-read.js';
import { MEDIA_TYPES, type Descriptor, type OciLayout } from '../store/oci-layout.js';
import { hasRemoteBlob, uploadBlob } from './blobs.js';
import type { RegistryClient } from './client.js';
import { hasManifest, putManifest } from './manifests.js';
import { formatImageRef } from './reference.js';

/**
 * Pushes one image from the local layout: every blob the registry lacks, then the manifest (its
 * exact bytes, so the remote digest is the local digest). Blobs go first because a registry
 * refuses a manifest whose blobs it does not have. Round trips are what a push on a fast network
 * costs, so each one is earned: one manifest HEAD, a HEAD per large blob, POST + one monolithic
 * PUT per blob sent.
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

/**
 * Blobs at most this big are uploaded without asking first: a HEAD costs a round trip, about
 * what re-sending a few KiB costs, and the small blobs of a push (config, app layer) are the
 * ones that change from commit to commit.
 */
export const SMALL_BLOB = 64 * 1024;

function damaged(digest: string, what: string): BrrError {
  return new BrrError(
    'store_corrupt',
    `${what} ${digest} is missing or damaged in the local store; refusing to push it`,
    {
      hint: 'rebuild the image (brr build --no-cache) or pull it again',
    },
  );
}

async function pushBlob(
  client: RegistryClient,
  layout: OciLayout,
  d: Descriptor,
  progress: (l: string) => void,
): Promise<boolean> {
  if (d.size > SMALL_BLOB && (await hasRemoteBlob(client, d.digest))) {
    progress(`skip ${d.digest.slice(7, 19)} (already in ${client.registry}/${client.repository})`);
    return false;
  }
  // Only blobs that travel are read here; the registry checks the digest of what it receives too.
  if ((await layout.verifyBlob(d.digest)) !== 'ok') throw damaged(d.digest, 'blob');
  progress(`push ${d.digest.slice(7, 19)} (${d.size} bytes)`);
  await uploadBlob(client, layout, d.digest, d.size);
  return true;
}

/** Runs `fn` over `items`, at most `limit` at a time, results in order. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Pushes the image. The first request asks whether the registry already has this manifest: a
 * registry only accepts a manifest whose blobs it holds, so a yes skips every blob question
 * (re-tagging, promoting the same build again). Otherwise each distinct blob is handled at once
 * (bounded), large ones after a HEAD, and the manifest goes last. The client's keep-alive
 * connections are reused across all of it.
 */
export async function pushImage(opts: PushOptions): Promise<PushResult> {
  const { layout, client, digest } = opts;
  const progress = opts.progress ?? (() => {});
  const bytes = await layout.readBlob(digest).catch(() => null);
  if (!bytes || sha256Digest(bytes) !== digest) {
    throw new BrrError('store_corrupt', `manifest ${digest} is missing or damaged in the local store`, {
      hint: 'rebuild the image (brr build --no-cache)',
    });
  }
  const manifest = await readManifest(layout, digest);
  const seen = new Set<string>();
  const blobs = [manifest.config, ...manifest.layers].filter((d) => !seen.has(d.digest) && !!seen.add(d.digest));
  const before = client.bytesSent;
  let pushed = 0;
  if (await hasManifest(client, digest)) {
    progress(`skip all blobs (manifest ${digest.slice(7, 19)} already in ${client.registry}/${client.repository})`);
  } else {
    const limit = Math.max(1, opts.concurrency ?? 4);
    const done = await pool(blobs, limit, (d) => pushBlob(client, layout, d, progress));
    pushed = done.filter(Boolean).length;
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
