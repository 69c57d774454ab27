/**
 * The read-only release verbs: `brr releases` (history, optionally filtered), `brr show vN` and
 * `brr diff vA vB`. Releases leave here as people and scripts see them: secrets redacted and
 * `current` marked, so no caller needs the release rules to print them.
 */
import { currentReleaseOf } from './current-release.js';
import type { Release } from '../core/types.js';
import { redactConfig } from '../release/config.js';
import { diffReleases, renderDiff, type ReleaseDiff } from '../release/diff.js';
import { parseReleaseId } from '../release/plan.js';
import { filterReleases, parseSince } from './audit.js';
import type { Context } from './context.js';
import type { buildStatus } from './preflight.js';
import { findRelease } from './find-release.js';

export type PublicRelease = Omit<Release, 'config'> & {
  config: Record<string, string>;
  secretKeys: string[];
  current: boolean;
};

/** A release as shown to people and scripts: secrets redacted. */
export function publicRelease(r: Release, currentId: string | null): PublicRelease {
  return {
    ...r,
    config: redactConfig(r.config),
    secretKeys: Object.keys(r.config)
      .filter((k) => r.config[k]!.secret)
      .sort(),
    current: r.id === currentId,
  };
}

export interface ListReleasesOptions {
  limit?: number;
  /** Only releases by this actor (`alice` matches alice@any-host). */
  actor?: string;
  /** Only releases since an ISO time or a duration ago (`24h`, `7d`). */
  since?: string;
}

/** `brr releases`: newest first, at most `limit` (of those matching the filters). */
export async function listAppReleases(
  ctx: Context,
  app: string,
  opts: ListReleasesOptions = {},
): Promise<{ releases: PublicRelease[]; current: string | null }> {
  const filtered = Boolean(opts.actor || opts.since);
  const since = opts.since ? parseSince(opts.since, ctx.clock.now()) : undefined;
  // With a filter the limit applies to what matches, so read the whole history.
  const all = await ctx.ledger.listReleases(app, filtered ? {} : { limit: opts.limit });
  const releases = filtered ? filterReleases(all, { actor: opts.actor, since }).slice(0, opts.limit) : all;
  const current = await currentReleaseOf(ctx.ledger, app);
  return { releases: releases.map((r) => publicRelease(r, current)), current };
}

/** `brr show vN`: one release in full (secrets redacted) and whether its build is still in the store. */
export async function showRelease(
  ctx: Context,
  app: string,
  id: string,
): Promise<{ release: PublicRelease; build: Awaited<ReturnType<typeof buildStatus>> }> {
  const rel = await findRelease(ctx, app, parseReleaseId(id));
  const current = await currentReleaseOf(ctx.ledger, app);
  return {
    release: publicRelease(rel, current),
    build: await (await import('./preflight.js')).buildStatus(ctx.paths, rel),
  };
}

/** `brr diff vA vB`: what changed (secret values never shown), and the same as text lines. */
export async function diffAppReleases(
  ctx: Context,
  app: string,
  from: string,
  to: string,
): Promise<{ diff: ReleaseDiff; lines: string[] }> {
  const a = await findRelease(ctx, app, parseReleaseId(from));
  const b = await findRelease(ctx, app, parseReleaseId(to));
  const diff = diffReleases(a, b);
  return { diff, lines: renderDiff(diff) };
}
