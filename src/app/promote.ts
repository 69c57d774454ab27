import { invalidInput, notFound } from '../core/errors.js';
import type { LedgerEvent, Release } from '../core/types.js';
import { isValidAppName } from '../manifest/schema.js';
import { parseReleaseId, planRelease } from '../release/plan.js';
import { findBuild } from '../store/builds.js';
import type { Context } from './context.js';
import { formationFor } from './create-release.js';
import { checkBuildVerifies } from './preflight.js';
import { withDeployLease, type VerbOptions } from './lease.js';
import { runRelease, type RunResult } from './run-release.js';
import { configuredSigner, signRelease } from './sign-release.js';
import { currentReleaseOf } from './current-release.js';

/**
 * `brr promote --from staging --to prod [vN]`: builds are global and content-addressed, so
 * promoting is releasing the very digest that was tested on another app. The config is the
 * TARGET's own (its newest release's, or what is staged): staging's database URL must never
 * leak into prod. Recorded twice on purpose: the release's cause says it in the history, and a
 * 'promoted' event carries the source in structured form for audits.
 */

export interface PromoteOptions {
  fromApp: string;
  toApp: string;
  /** Source release (default: the source app's current release). */
  release?: string;
  message?: string;
}

export interface PromoteResult {
  release: Release;
  from: { app: string; release: string; digest: string };
  event: LedgerEvent;
}

function checkApp(flag: string, app: string): void {
  if (!isValidAppName(app))
    throw invalidInput(
      'app_invalid',
      `${flag} "${app}" is not a valid app name`,
      'use lowercase letters, digits and dashes (at most 63)',
    );
}

/** The source release: the named one, or what runs on the source app now. */
async function sourceRelease(ctx: Context, app: string, id: string | undefined): Promise<Release> {
  if (id !== undefined) {
    const rel = await ctx.ledger.getRelease(app, parseReleaseId(id));
    if (!rel)
      throw notFound(
        'release_not_found',
        `app ${app} has no release ${parseReleaseId(id)}`,
        `list them with \`brr releases --app ${app}\``,
      );
    return rel;
  }
  const current = await currentReleaseOf(ctx.ledger, app);
  const rel = current ? await ctx.ledger.getRelease(app, current) : null;
  if (!rel) {
    throw invalidInput(
      'nothing_to_promote',
      `app ${app} has no current release to promote`,
      `name the release: \`brr promote --from ${app} --to APP vN\` (see \`brr releases --app ${app}\`)`,
    );
  }
  return rel;
}

/** Appends the promotion to the target app (signed when a key is configured); does not run it. */
export async function promoteRelease(ctx: Context, opts: PromoteOptions): Promise<PromoteResult> {
  checkApp('--from', opts.fromApp);
  checkApp('--to', opts.toApp);
  if (opts.fromApp === opts.toApp) {
    throw invalidInput(
      'promote_same_app',
      `cannot promote ${opts.fromApp} to itself`,
      'to run an older release of the same app use `brr rollback vN`',
    );
  }
  const source = await sourceRelease(ctx, opts.fromApp, opts.release);
  // Before anything is appended: a promotion of a build this host cannot run is refused.
  await checkBuildVerifies(ctx.paths, source);
  const build = await findBuild(ctx.paths, source.build.digest);
  const signer = configuredSigner(ctx.settings);
  const cause = `promote ${opts.fromApp} ${source.id}`;
  const release = await ctx.ledger.appendRelease(opts.toApp, (latest, staged) =>
    planRelease({
      latest,
      staged,
      build: { ...source.build },
      formation: formationFor(build, latest?.formation),
      message: opts.message ?? null,
      actor: ctx.actor,
      now: ctx.clock.now(),
      cause,
    }),
  );
  await signRelease(ctx, release, signer);
  const event = await ctx.ledger.appendEvent(opts.toApp, {
    type: 'promoted',
    release: release.id,
    detail: { fromApp: opts.fromApp, fromRelease: source.id, digest: source.build.digest },
    actor: ctx.actor,
    createdAt: ctx.clock.now().toISOString(),
  });
  return { release, from: { app: opts.fromApp, release: source.id, digest: source.build.digest }, event };
}

/**
 * `brr promote` as a verb: under the TARGET app's deploy lease (like any write to its ledger,
 * and its run), append the promotion and, with `run`, run it there.
 */
export function promoteApp(
  ctx: Context,
  opts: PromoteOptions & VerbOptions & { run?: boolean },
): Promise<PromoteResult & { run: RunResult | null }> {
  // A malformed release id fails before the lease is taken.
  const release = opts.release === undefined ? undefined : parseReleaseId(opts.release);
  return withDeployLease(ctx, opts.toApp, opts.lease, async (fenced, { signal }) => {
    const p = await promoteRelease(fenced, { ...opts, release });
    opts.onStep?.(`released ${opts.toApp} ${p.release.id} (${p.release.cause})`);
    const run = opts.run
      ? await runRelease(fenced, opts.toApp, p.release.id, opts.onProgress ?? (() => {}), { signal })
      : null;
    return { ...p, run };
  });
}
