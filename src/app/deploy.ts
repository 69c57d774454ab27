/**
 * `brr deploy`: build, release and run in one step, holding the app's deploy lease throughout.
 * The lease is taken before the build: a second operator learns at once that a deploy is under
 * way, instead of after minutes of building.
 */
import type { Release } from '../core/types.js';
import { buildApp, type BuildAppOptions, type BuildResult } from './builds.js';
import type { Context } from './context.js';
import { createRelease } from './create-release.js';
import { withDeployLease, type VerbOptions } from './lease.js';
import { runRelease, type RunResult } from './run-release.js';

export interface DeployOptions extends VerbOptions, Omit<BuildAppOptions, 'app' | 'onProgress'> {
  message?: string;
  /** How long a Kubernetes rollout may take before brr rolls back. */
  timeoutMs?: number;
}

export interface DeployResult {
  built: BuildResult;
  release: Release;
  run: RunResult;
}

/** Builds `opts.ref` of the repository, releases it for `app` and runs it. */
export async function deployApp(ctx: Context, app: string, opts: DeployOptions = {}): Promise<DeployResult> {
  return withDeployLease(ctx, app, opts.lease, async (fenced, { signal }) => {
    const built = await buildApp(fenced.paths, { ...opts, app, onProgress: opts.onProgress });
    opts.onStep?.(`built ${built.digest}${built.cached ? ' (cached)' : ''}`);
    signal.throwIfAborted();
    const release = await createRelease(fenced, app, { build: built.digest, message: opts.message });
    opts.onStep?.(`released ${app} ${release.id}`);
    const run = await runRelease(fenced, app, release.id, opts.onProgress ?? (() => {}), {
      signal,
      timeoutMs: opts.timeoutMs,
    });
    return { built, release, run };
  });
}
