import { notFound } from '../core/errors.js';
import type { BuildRecord, Formation, Release } from '../core/types.js';
import { planRelease } from '../release/plan.js';
import { findBuild, latestBuild } from '../store/builds.js';
import type { Context } from './context.js';
import { withDeployLease, type VerbOptions } from './lease.js';
import { configuredSigner, signRelease } from './sign-release.js';

/** Formation for a build: keep the previous release's scale for types that still exist. */
export function formationFor(build: BuildRecord, previous: Formation | undefined): Formation {
  const out: Formation = {};
  for (const [type, spec] of Object.entries(build.processes)) out[type] = previous?.[type] ?? spec.scale;
  return out;
}

/** Resolves `--build` (a digest, a unique prefix, `latest` or nothing = newest build of the app). */
export async function resolveBuild(ctx: Context, app: string, ref: string | undefined): Promise<BuildRecord> {
  if (ref && ref !== 'latest') return findBuild(ctx.paths, ref);
  const b = await latestBuild(ctx.paths, app);
  if (!b)
    throw notFound(
      'no_build',
      `app ${app} has no build yet`,
      'run `brr build` (or `brr deploy`) first, or pass --build DIGEST',
    );
  return b;
}

/** `brr release`: the build plus the app's current config become a new release vN. */
export async function createRelease(
  ctx: Context,
  app: string,
  opts: { build?: string; message?: string },
): Promise<Release> {
  const build = await resolveBuild(ctx, app, opts.build);
  const signer = configuredSigner(ctx.settings);
  const release = await ctx.ledger.appendRelease(app, (latest, staged) =>
    planRelease({
      latest,
      staged,
      build: { digest: build.digest, commit: build.commit },
      formation: formationFor(build, latest?.formation),
      message: opts.message ?? null,
      actor: ctx.actor,
      now: ctx.clock.now(),
    }),
  );
  await signRelease(ctx, release, signer);
  return release;
}

/** `brr release` as a verb: createRelease holding the app's deploy lease. */
export function releaseApp(
  ctx: Context,
  app: string,
  opts: { build?: string; message?: string } & Pick<VerbOptions, 'lease'> = {},
): Promise<Release> {
  return withDeployLease(ctx, app, opts.lease, (fenced) => createRelease(fenced, app, opts));
}
