import type { Config, Release } from '../core/types.js';
import type { Context } from './context.js';
import { parseAssignments, redactConfig, validateConfigKey } from '../release/config.js';
import { planConfigChange, planStagedConfig } from '../release/plan.js';
import { sealConfigChange } from '../release/secrets.js';
import { currentReleaseId, stagedConfig } from '../release/state.js';
import type { VerbOptions } from './lease.js';
import { loadSecretsKey } from './settings.js';
import type { RunResult } from './run-release.js';

export interface ConfigChangeResult {
  /** The new release, when the app already had one and something changed. */
  release: Release | null;
  /** True when the change was staged for the first release. */
  staged: boolean;
  /** True when the app was running, so the new release should run too. */
  wasRunning: boolean;
}

/** The app's current config: the newest release's, or what is staged before the first release. */
export async function currentConfig(ctx: Context, app: string): Promise<Config> {
  const latest = await ctx.ledger.latestRelease(app);
  return latest ? latest.config : stagedConfig(await ctx.ledger.listEvents(app));
}

/** `brr config show`: the current config with secret values redacted. */
export async function showConfig(ctx: Context, app: string): Promise<Record<string, string>> {
  return redactConfig(await currentConfig(ctx, app));
}

/**
 * `brr config set/unset`: with a release, append a new one with the build of the newest release
 * and the changed config (nothing when nothing changes); before the first release, stage it.
 */
export async function changeConfig(
  ctx: Context,
  app: string,
  change: { set?: string[]; unset?: string[]; secret?: boolean },
): Promise<ConfigChangeResult> {
  const set = parseAssignments(change.set ?? []);
  const unset = change.unset ?? [];
  for (const key of [...Object.keys(set), ...unset]) validateConfigKey(key);
  // Secret values are sealed before planning, against the config they change (secrecy is
  // sticky), so the planners only ever see ciphertext and "same value again" stays no change.
  const secret = change.secret ?? false;
  const secretsKey = loadSecretsKey(ctx.settings);
  // Signing and the lease are loaded by the changing verbs only: `brr config` (show) needs neither.
  const { configuredSigner, signRelease } = await import('./sign-release.js');
  const signer = configuredSigner(ctx.settings);
  const latest = await ctx.ledger.latestRelease(app);
  const events = await ctx.ledger.listEvents(app);
  const wasRunning = currentReleaseId(events) !== null;
  if (!latest) {
    const staged = stagedConfig(events);
    const event = planStagedConfig({
      staged,
      set: sealConfigChange(staged, set, secret, secretsKey),
      unset,
      secret,
      actor: ctx.actor,
      now: ctx.clock.now(),
    });
    if (event) await ctx.ledger.appendEvent(app, event);
    return { release: null, staged: event !== null, wasRunning };
  }
  let changed = true;
  const release = await ctx.ledger
    .appendRelease(app, (newest) => {
      const draft = planConfigChange({
        latest: newest!,
        set: sealConfigChange(newest!.config, set, secret, secretsKey),
        unset,
        secret,
        actor: ctx.actor,
        now: ctx.clock.now(),
      });
      if (!draft) {
        changed = false;
        throw new NoChange();
      }
      return draft;
    })
    .catch((e: unknown) => {
      if (e instanceof NoChange) return null;
      throw e;
    });
  if (changed && release) await signRelease(ctx, release, signer);
  return { release: changed ? release : null, staged: false, wasRunning };
}

class NoChange extends Error {}

export interface ConfigVerbOptions extends VerbOptions {
  /** Store the values as secrets (set only). */
  secret?: boolean;
  /** false: only record the new release, do not run it even if the app is running. */
  run?: boolean;
}

/**
 * Under the app's deploy lease: change the config, then (Heroku semantics) run the new release
 * when the app was running, unless `run` is false.
 */
async function changeConfigAndRun(
  ctx: Context,
  app: string,
  change: { set?: string[]; unset?: string[]; secret?: boolean },
  opts: ConfigVerbOptions,
): Promise<ConfigChangeResult & { run: RunResult | null }> {
  const { withDeployLease } = await import('./lease.js');
  return withDeployLease(ctx, app, opts.lease, async (fenced, { signal }) => {
    const r = await changeConfig(fenced, app, change);
    const run =
      r.release && r.wasRunning && opts.run !== false
        ? await (
            await import('./run-release.js')
          ).runRelease(fenced, app, r.release.id, opts.onProgress ?? (() => {}), { signal })
        : null;
    return { ...r, run };
  });
}

/** `brr config set KEY=VALUE…` as a verb (see changeConfigAndRun). */
export function setConfig(ctx: Context, app: string, assignments: string[], opts: ConfigVerbOptions = {}) {
  return changeConfigAndRun(ctx, app, { set: assignments, secret: opts.secret }, opts);
}

/** `brr config unset KEY…` as a verb (see changeConfigAndRun). */
export function unsetConfig(ctx: Context, app: string, keys: string[], opts: ConfigVerbOptions = {}) {
  return changeConfigAndRun(ctx, app, { unset: keys, secret: opts.secret }, opts);
}
