/**
 * `brr deploy`: build, release and run in one step, holding the app's deploy lease throughout.
 * The lease is taken before the build: a second operator learns at once that a deploy is under
 * way, instead of after minutes of building.
 */
import type { Release } from '../core/types.js';
import { readAppState } from './app-state.js';
import { buildApp, type BuildAppOptions, type BuildResult } from './builds.js';
import type { Context } from './context.js';
import { createRelease } from './create-release.js';
import { withDeployLease, type VerbOptions } from './lease.js';
import { runRelease, type RunResult } from './run-release.js';

export interface DeployOptions extends VerbOptions, Omit<BuildAppOptions, 'app' | 'onProgress'> {
  message?: string;
  /** How long a Kubernetes rollout may take before brr rolls back. */
  timeoutMs?: number;
  /** Release and run even when the build is what already runs as the newest release. */
  force?: boolean;
}

export interface DeployResult {
  built: BuildResult;
  release: Release;
  run: RunResult;
  /** True when the build and config already run as the newest release: no release was appended. */
  unchanged: boolean;
}

/** Builds `opts.ref` of the repository, releases it for `app` and runs it. */
export async function deployApp(ctx: Context, app: string, opts: DeployOptions = {}): Promise<DeployResult> {
  return withDeployLease(ctx, app, opts.lease, async (fenced, { signal }) => {
    const built = await buildApp(fenced.paths, { ...opts, app, onProgress: opts.onProgress });
    opts.onStep?.(`built ${built.digest}${built.cached ? ' (cached)' : ''}`);
    signal.throwIfAborted();
    // A deploy that changes nothing (a dirty tree rebuilt to the same image, a second deploy of
    // a commit) must not append an identical release; --force asks for one anyway. The release
    // is still run, which is a no-op when it runs and starts a supervisor that is down.
    if (!opts.force) {
      const latest = await fenced.ledger.latestRelease(app);
      if (latest && latest.build.digest === built.digest) {
        const state = await readAppState(fenced, app);
        if (state.currentId === latest.id) {
          const run = await runRelease(fenced, app, latest.id, opts.onProgress ?? (() => {}), {
            signal,
            timeoutMs: opts.timeoutMs,
          });
          return { built, release: latest, run, unchanged: true };
        }
      }
    }
    const release = await createRelease(fenced, app, { build: built.digest, message: opts.message });
    opts.onStep?.(`released ${app} ${release.id}`);
    const run = await runRelease(fenced, app, release.id, opts.onProgress ?? (() => {}), {
      signal,
      timeoutMs: opts.timeoutMs,
    });
    return { built, release, run, unchanged: false };
  });
}
