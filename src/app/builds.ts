/**
 * `brr build` and `brr builds`: a commit into an OCI image in the local store, and the list of
 * what is there. Builds need no ledger (they are global and content-addressed), only the home.
 */
import path from 'node:path';
import type { HomePaths } from '../core/home.js';
import type { BuildRecord } from '../core/types.js';
import { buildImage, type BuildResult } from '../build/build.js';
import { listBuilds } from '../store/builds.js';

export type { BuildResult } from '../build/build.js';

export interface BuildAppOptions {
  /** Git repository to build (default the current directory). */
  repo?: string;
  /** Subdirectory of the repository (monorepos). */
  path?: string;
  ref?: string;
  noCache?: boolean;
  /** App the build is recorded for (default brr.yaml's `app`). */
  app?: string;
  onProgress?: (line: string) => void;
  onWarn?: (line: string) => void;
}

/** Builds a commit; warns (never fails) when the work tree has changes the build leaves out. */
export async function buildApp(paths: HomePaths, opts: BuildAppOptions = {}): Promise<BuildResult> {
  const result = await buildImage({
    paths,
    repo: path.resolve(opts.repo ?? '.'),
    path: opts.path,
    ref: opts.ref,
    noCache: opts.noCache,
    app: opts.app,
    progress: opts.onProgress,
  });
  if (result.dirty)
    opts.onWarn?.('the work tree has uncommitted changes; they are NOT in this build (brr builds commits only)');
  return result;
}

/** Builds in the local store, newest first; only `app`'s when given. */
export async function listAppBuilds(paths: HomePaths, app?: string): Promise<BuildRecord[]> {
  const builds = await listBuilds(paths);
  return app ? builds.filter((b) => b.app === app) : builds;
}
