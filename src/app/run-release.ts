import { notFound } from '../core/errors.js';
import type { Release } from '../core/types.js';
import { ensureSupervisor } from '../run/local/client.js';
import type { Context } from './context.js';
import { supervisorArgv } from './launch.js';

export interface RunResult {
  app: string;
  release: string;
  durationMs: number;
}

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

/**
 * `brr run`: make a release the app's current one. The supervisor (started in the background if
 * none runs for this home) verifies and materializes it, starts it beside the old one, waits for
 * health, records the outcome in the ledger and only then stops the old processes.
 */
export async function runRelease(ctx: Context, app: string, id: string | undefined, onProgress: (line: string) => void): Promise<RunResult> {
  const rel = await findRelease(ctx, app, id);
  const client = await ensureSupervisor(ctx.paths, supervisorArgv(ctx.paths));
  try {
    const result = (await client.request('switch', { app, release: rel.id }, onProgress)) as { release: string; durationMs: number };
    return { app, release: result.release, durationMs: result.durationMs };
  } finally {
    client.close();
  }
}
