import type { Release } from '../core/types.js';
import { planRollback } from '../release/plan.js';
import { currentReleaseId } from '../release/state.js';
import type { Context } from './context.js';

/**
 * `brr rollback [vN]`: append a release that copies vN's build and config (default: the release
 * before the current one). The caller then runs it.
 */
export async function appendRollback(ctx: Context, app: string, target?: string): Promise<Release> {
  const currentId = currentReleaseId(await ctx.ledger.listEvents(app));
  // Releases are immutable, so reading them before the write transaction is safe.
  const releases = await ctx.ledger.listReleases(app);
  return ctx.ledger.appendRelease(app, () => planRollback({ releases, currentId, targetId: target, actor: ctx.actor, now: ctx.clock.now() }));
}
