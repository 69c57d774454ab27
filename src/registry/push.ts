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
 * costs, so each one is earned: a manifest HEAD only when the build may be there already; per
 * blob either a HEAD (large blobs, or ones this repository is known to hold), a cross-repository
 * mount (one POST, for a blob known to be in another repository of the registry), or nothing
 * before POST + one monolithic PUT. Blobs are checked against their digest while they are sent
 * (blobs.ts), not read twice.
 */

export interface PushResult {
  /** `registry/repo@sha256:…` */
  reference: string;
  digest: string;
  tag: string | null;
  /** Blob and manifest bytes sent. */
  bytesSent: number;
  blobsPushed: number;
  /** Blobs not sent: already in the repository, or mounted from another one. */
  blobsSkipped: number;
  /** Of the skipped, those the registry mounted from another repository. */
  blobsMounted: number;
}

export interface PushOptions {
  layout: OciLayout;
  digest: string;
  client: RegistryClient;
  tag: string | null;
  progress?: (line: string) => void;
  /** Blobs uploaded at once. */
  concurrency?: number;
  /**
   * Repositories of this registry known (from earlier pushes and pulls) to hold a blob, most
   * recent first, by blob digest. Only a hint: the registry's answer decides.
   */
  homes?: ReadonlyMap<string, readonly string[]>;
  /**
   * Whether to ask first if the registry has the manifest (default true). Worth a round trip
   * only when it may: a push that was never made to this repository goes straight to the blobs.
   */
  askManifest?: boolean;
}

/**
 * Blobs at most this big are uploaded without asking first: a HEAD costs a round trip, about
 * what re-sending a few KiB costs, and the small blobs of a push (config, app layer) are the
 * ones that change from commit to commit.
 */
export const SMALL_BLOB = 64 * 1024;

type BlobOutcome = 'pushed' | 'skipped' | 'mounted';

async function pushBlob(
  client: RegistryClient,
  layout: OciLayout,
  d: Descriptor,
  homes: readonly string[],
  progress: (l: string) => void,
): Promise<BlobOutcome> {
  const short = d.digest.slice(7, 19);
  const known = homes.includes(client.repository);
  const from = homes.find((r) => r !== client.repository) ?? null;
  // A mount answers "already here" too (201), so a blob that can be mounted is not asked about.
  if ((known || (d.size > SMALL_BLOB && !from)) && (await hasRemoteBlob(client, d.digest))) {
    progress(`skip ${short} (already in ${client.registry}/${client.repository})`);
    return 'skipped';
  }
  if (!from) progress(`push ${short} (${d.size} bytes)`);
  const how = await uploadBlob(client, layout, d, from);
  if (how === 'mounted') {
    progress(`mount ${short} from ${client.registry}/${from}`);
    return 'mounted';
  }
  if (from) progress(`push ${short} (${d.size} bytes; the registry did not mount it from ${from})`);
  return 'pushed';
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
 * Pushes the image. The first request asks whether the registry already has this manifest
 * (unless the caller knows it is new there): a registry only accepts a manifest whose blobs it
 * holds, so a yes skips every blob question (re-tagging, pushing the same build again).
 * Otherwise each distinct blob is handled at once (bounded), and the manifest goes last. The client's keep-alive connections are reused across
 * all of it.
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
  let outcomes: BlobOutcome[] = [];
  if ((opts.askManifest ?? true) && (await hasManifest(client, digest))) {
    progress(`skip all blobs (manifest ${digest.slice(7, 19)} already in ${client.registry}/${client.repository})`);
  } else {
    const limit = Math.max(1, opts.concurrency ?? 4);
    outcomes = await pool(blobs, limit, (d) => pushBlob(client, layout, d, opts.homes?.get(d.digest) ?? [], progress));
  }
  const mediaType = manifest.mediaType ?? MEDIA_TYPES.manifest;
  await putManifest(client, opts.tag ?? digest, mediaType, bytes);
  const pushed = outcomes.filter((o) => o === 'pushed').length;
  return {
    reference: formatImageRef({ registry: client.registry, repository: client.repository, digest }),
    digest,
    tag: opts.tag,
    bytesSent: client.bytesSent - before,
    blobsPushed: pushed,
    blobsSkipped: blobs.length - pushed,
    blobsMounted: outcomes.filter((o) => o === 'mounted').length,
  };
}
