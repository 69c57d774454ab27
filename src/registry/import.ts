import { systemClock, type Clock } from '../core/clock.js';
import { invalidInput } from '../core/errors.js';
import type { HomePaths } from '../core/home.js';
import type { BuildRecord } from '../core/types.js';
import { isValidAppName } from '../manifest/schema.js';
import { IMAGE_LABELS } from '../store/image.js';
import { buildRecordOf } from '../store/image-read.js';
import { ANNOTATIONS, OciLayout, type Descriptor } from '../store/oci-layout.js';
import { RegistryClient } from './client.js';
import type { Transport } from './http.js';
import { hostPlatform, parsePlatform } from './media-types.js';
import { pullImage } from './pull.js';
import { formatImageRef, parseImageRef } from './reference.js';

/**
 * `brr pull REF`: an image from a registry becomes a build in the local store, under its own
 * digest. With `brr push` this is air-gapped promotion: pull from one registry, push to another,
 * and the digest (the build's identity, the one releases name) never changes.
 */

export interface ImportOptions {
  paths: HomePaths;
  ref: string;
  /** App the build is recorded for; default the image's `dev.brr.app` label. */
  app?: string;
  platform?: string;
  insecure?: boolean;
  env?: NodeJS.ProcessEnv;
  transport?: Transport;
  clock?: Clock;
}

export interface ImportResult {
  digest: string;
  /** `registry/repo@sha256:…` it came from. */
  source: string;
  bytesReceived: number;
  /** False when the store already held this build for this app. */
  added: boolean;
  record: BuildRecord;
}

export async function importImage(opts: ImportOptions): Promise<ImportResult> {
  if (opts.app !== undefined && !isValidAppName(opts.app))
    throw invalidInput(
      'app_invalid',
      `"${opts.app}" is not a valid app name`,
      'use lowercase letters, digits and dashes',
    );
  const ref = parseImageRef(opts.ref);
  const platform = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
  const client = await RegistryClient.open({
    ref,
    actions: ['pull'],
    insecure: opts.insecure,
    env: opts.env,
    transport: opts.transport,
  });
  const layout = new OciLayout(opts.paths.oci);
  await layout.init();
  let image: Awaited<ReturnType<typeof pullImage>>;
  try {
    image = await pullImage(client, layout, ref.digest ?? ref.tag ?? 'latest', platform);
  } finally {
    client.close();
  }
  const labels = (image.config.config?.Labels ?? {}) as Record<string, string>;
  const app = opts.app ?? labels[IMAGE_LABELS.app] ?? null;
  const commit = labels[IMAGE_LABELS.revision] ?? '';
  const source = formatImageRef({ registry: ref.registry, repository: ref.repository, digest: image.digest });

  // The same build already recorded for this app (built here, or pulled before): keep that entry
  // and its history (where it was pushed) rather than replacing it.
  const existing = (await layout.listImages()).find(
    (d) =>
      d.digest === image.digest &&
      (d.annotations?.[ANNOTATIONS.app] ?? null) === app &&
      d.annotations?.[ANNOTATIONS.cacheKey] !== undefined,
  );
  if (existing)
    return {
      digest: image.digest,
      source,
      bytesReceived: image.bytesReceived,
      added: false,
      record: await buildRecordOf(layout, existing),
    };

  const annotations: Record<string, string> = {
    [ANNOTATIONS.refName]: `${app ?? 'pulled'}-${commit ? commit.slice(0, 12) : 'image'}-${image.digest.slice(7, 15)}`,
    [ANNOTATIONS.revision]: commit,
    [ANNOTATIONS.path]: '',
    [ANNOTATIONS.source]: source,
    [ANNOTATIONS.created]: (opts.clock ?? systemClock).now().toISOString(),
    // Never equal to a build's key: a pulled image is not what `brr build` of that commit made here.
    [ANNOTATIONS.cacheKey]: `pulled:${image.digest}`,
  };
  if (app) annotations[ANNOTATIONS.app] = app;
  const size = (await layout.readBlob(image.digest)).length;
  const desc: Descriptor = { mediaType: image.mediaType, digest: image.digest, size, annotations };
  await layout.addImage(desc);
  return {
    digest: image.digest,
    source,
    bytesReceived: image.bytesReceived,
    added: true,
    record: await buildRecordOf(layout, desc),
  };
}
