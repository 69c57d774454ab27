/**
 * `brr push` and `brr pull` as verbs: builds to and from OCI registries. The protocol work is in
 * src/registry; this file is the one door the CLI uses to it.
 */
import type { HomePaths } from '../core/home.js';
import { importImage, type ImportResult } from '../registry/import.js';
import { pushBuild, type PushBuildResult } from '../registry/push-build.js';

/** `brr push [build] --to REF`: blobs the registry lacks, then the manifest. */
export function pushAppBuild(
  paths: HomePaths,
  opts: { build?: string; app?: string; to: string; insecure?: boolean; onProgress?: (line: string) => void },
): Promise<PushBuildResult> {
  return pushBuild({
    paths,
    build: opts.build,
    app: opts.app,
    to: opts.to,
    insecure: opts.insecure,
    progress: opts.onProgress,
  });
}

/** `brr pull REF`: imports an image into the local store, by digest. */
export function pullImage(
  paths: HomePaths,
  opts: { ref: string; app?: string; platform?: string; insecure?: boolean },
): Promise<ImportResult> {
  return importImage({ paths, ...opts });
}
