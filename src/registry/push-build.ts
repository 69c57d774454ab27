import { notFound } from '../core/errors.js';
import type { HomePaths } from '../core/home.js';
import type { BuildRecord } from '../core/types.js';
import { findBuild, latestBuild, recordPush } from '../store/builds.js';
import { OciLayout } from '../store/oci-layout.js';
import { RegistryClient } from './client.js';
import { pushImage, type PushResult } from './push.js';
import { formatImageRef, parseImageRef } from './reference.js';

/**
 * `brr push [BUILD] --to REGISTRY/REPO[:TAG]`: one build from the store to a registry, then the
 * pushed reference recorded with the build (so `brr builds` tells what went where).
 */

export interface PushBuildOptions {
  paths: HomePaths;
  /** Digest or prefix; default the newest build of `app`. */
  build?: string;
  app?: string;
  to: string;
  insecure?: boolean;
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
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
  const client = await RegistryClient.open({
    ref: target,
    actions: ['pull', 'push'],
    insecure: opts.insecure,
    env: opts.env,
    fetch: opts.fetch,
  });
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
  const result = await pushImage({
    layout: new OciLayout(opts.paths.oci),
    digest: build.digest,
    client,
    tag: target.tag,
    progress: opts.progress,
  });
  const recorded = target.tag ? `${formatImageRef({ ...target, digest: null })}@${build.digest}` : result.reference;
  await recordPush(opts.paths, build.digest, recorded);
  return { ...result, recorded, build };
}
