/**
 * Looking one release up (by id, or the newest): its own module because read-only verbs (`show`,
 * `diff`, signing) need it without the run machinery of run-release.ts (issue 13: a command
 * loads only what it uses).
 */
import { notFound } from '../core/errors.js';
import type { Release } from '../core/types.js';
import type { Context } from './context.js';

/** Looks a release up by id, or the newest one when no id is given. */
export async function findRelease(ctx: Context, app: string, id?: string): Promise<Release> {
  const rel = id ? await ctx.ledger.getRelease(app, id) : await ctx.ledger.latestRelease(app);
  if (!rel) {
    throw id
      ? notFound('release_not_found', `app ${app} has no release ${id}`, `list them with \`brr releases --app ${app}\``)
      : notFound('no_release', `app ${app} has no release yet`, 'run `brr release` (or `brr deploy`) first');
  }
  return rel;
}
