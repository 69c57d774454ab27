import { notFound } from '../core/errors.js';
import type { HomePaths } from '../core/home.js';
import type { BuildRecord } from '../core/types.js';
import { findBuild, latestBuild, recordPush } from '../store/builds.js';
import { OciLayout } from '../store/oci-layout.js';
import { blobHomes } from './blob-homes.js';
import { RegistryClient } from './client.js';
import type { Transport } from './http.js';
import { pushImage, type PushResult } from './push.js';
import { formatImageRef, parseImageRef, type ImageRef } from './reference.js';

/**
 * `brr push [BUILD] --to REGISTRY/REPO[:TAG]`: one build from the store to a registry, then the
 * pushed reference recorded with the build (so `brr builds` tells what went where). Those records
 * also tell the next push which repositories of the registry hold which blobs (blob-homes.ts).
 */

export interface PushBuildOptions {
  paths: HomePaths;
  /** Digest or prefix; default the newest build of `app`. */
  build?: string;
  app?: string;
  to: string;
  insecure?: boolean;
  env?: NodeJS.ProcessEnv;
  transport?: Transport;
  progress?: (line: string) => void;
}

export interface PushBuildResult extends PushResult {
  /** What was recorded: `registry/repo[:tag]@sha256:…`. */
  recorded: string;
  build: BuildRecord;
}

export async function pushBuild(opts: PushBuildOptions): Promise<PushBuildResult> {
  // Parse and decide the transport first: a bad or insecure target fails before any lookup.
  const target = parseImageRef(opts.to, { allowDigest: false });
  const opening = RegistryClient.open({
    ref: target,
    actions: ['pull', 'push'],
    insecure: opts.insecure,
    env: opts.env,
    transport: opts.transport,
  });
  // The local reads overlap: credentials, the build, where its blobs were pushed before.
  const layout = new OciLayout(opts.paths.oci);
  let client: RegistryClient | null = null;
  try {
    const [opened, build, homes] = await Promise.all([opening, pickBuild(opts), blobHomes(layout, target.registry)]);
    client = opened;
    const result = await pushImage({
      layout,
      digest: build.digest,
      client,
      tag: target.tag,
      progress: opts.progress,
      homes,
      // Only a build this store pushed to this repository before is likely there already.
      askManifest: (build.pushed ?? []).some((ref) => sameRepository(ref, target)),
    });
    const recorded = target.tag ? `${formatImageRef({ ...target, digest: null })}@${build.digest}` : result.reference;
    await recordPush(opts.paths, build.digest, recorded);
    return { ...result, recorded, build };
  } finally {
    (client ?? (await opening.catch(() => null)))?.close();
  }
}

async function pickBuild(opts: PushBuildOptions): Promise<BuildRecord> {
  let build: BuildRecord | null;
  if (opts.build) build = await findBuild(opts.paths, opts.build);
  else if (opts.app) build = await latestBuild(opts.paths, opts.app);
  else build = null;
  if (!build) {
    throw notFound(
      'build_not_found',
      opts.app ? `no build of ${opts.app} in the store` : 'no build given and no app to pick its newest build',
      'build one first (brr build), or name it: brr push DIGEST --to …',
    );
  }
  return build;
}

function sameRepository(ref: string, target: ImageRef): boolean {
  try {
    const r = parseImageRef(ref);
    return r.registry === target.registry && r.repository === target.repository;
  } catch {
    return false;
  }
}
