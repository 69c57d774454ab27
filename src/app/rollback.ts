import type { Release } from '../core/types.js';
import { parseReleaseId, planRollback } from '../release/plan.js';
import { readAppState } from './app-state.js';
import type { Context } from './context.js';
import { preflightRelease } from './preflight.js';
import { withDeployLease, type VerbOptions } from './lease.js';
import { runRelease, type RunResult } from './run-release.js';
import { configuredSigner, signRelease } from './sign-release.js';
import { currentReleaseOf } from './current-release.js';

/**
 * `brr rollback [vN]`: append a release that copies vN's build and config (default: the release
 * before the current one). The caller then runs it. Planned inside the write transaction, so a
 * concurrent append cannot make it plan against a stale history.
 */
export async function appendRollback(ctx: Context, app: string, target?: string): Promise<Release> {
  const signer = configuredSigner(ctx.settings);
  // The draft plans against the state read once here; the plan is re-run inside the write
  // transaction (re-reading the log) so an event the supervisor appended meanwhile is seen.
  const state = await readAppState(ctx, app);
  const plan = async (first = false) => {
    const currentId = first ? state.currentId : await currentReleaseOf(ctx.ledger, app);
    // Only the releases the plan can need: the latest (default current), the current, the one
    // before it and the named target. Listing a 100k-entry history per rollback would be waste.
    const latest = await ctx.ledger.latestRelease(app);
    const current = currentId ? await ctx.ledger.getRelease(app, currentId) : latest;
    const ids = [current && current.seq > 1 ? `v${current.seq - 1}` : null, target ?? null];
    const extra = await Promise.all(ids.map((id) => (id ? ctx.ledger.getRelease(app, id) : null)));
    const seen = new Set<string>();
    const releases = [latest, current, ...extra].filter(
      (r): r is Release => r !== null && !seen.has(r.id) && seen.add(r.id) !== undefined,
    );
    return planRollback({ releases, currentId, targetId: target, actor: ctx.actor, now: ctx.clock.now() });
  };
  // Preflight BEFORE anything is appended: a rollback that cannot run leaves no release behind.
  const draft = await plan(true);
  await preflightRelease(ctx, app, (await ctx.ledger.getRelease(app, draft.rollbackOf!))!, state);
  const release = await ctx.ledger.appendRelease(app, () => plan());
  await signRelease(ctx, release, signer);
  return release;
}

/**
 * `brr rollback [vN]` as a verb: under the app's deploy lease, append the rollback release and
 * run it (`target` may be `v3` or `3`; default the release before the current one).
 */
export function rollbackApp(
  ctx: Context,
  app: string,
  target?: string,
  opts: VerbOptions & { timeoutMs?: number } = {},
): Promise<{ release: Release; run: RunResult }> {
  const id = target === undefined ? undefined : parseReleaseId(target);
  return withDeployLease(ctx, app, opts.lease, async (fenced, { signal }) => {
    const release = await appendRollback(fenced, app, id);
    opts.onStep?.(`released ${app} ${release.id} (${release.cause})`);
    const run = await runRelease(fenced, app, release.id, opts.onProgress ?? (() => {}), {
      signal,
      timeoutMs: opts.timeoutMs,
    });
    return { release, run };
  });
}
