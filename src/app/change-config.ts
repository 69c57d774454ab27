import type { Config, Release } from '../core/types.js';
import type { Context } from './context.js';
import { parseAssignments, redactConfig, validateConfigKey } from '../release/config.js';
import { planConfigChange, planStagedConfig } from '../release/plan.js';
import { sealConfigChange } from '../release/secrets.js';
import { stagedConfig } from '../release/state.js';
import { BrrError } from '../core/errors.js';
import { readAppState } from './app-state.js';
import type { VerbOptions } from './lease.js';
import { supervisorSecretsKeyId } from './processes.js';
import { loadSecretsKey } from './settings.js';
import type { RunResult } from './run-release.js';
import { currentReleaseOf } from './current-release.js';

export interface ConfigChangeResult {
  /** The new release, when the app already had one and something changed. */
  release: Release | null;
  /** True when the change was staged for the first release. */
  staged: boolean;
  /** True when the app was running, so the new release should run too. */
  wasRunning: boolean;
}

/**
 * The release a config change builds on. The newest one, unless it already ran and the operator
 * then ran an older one (`brr run v2` after v6): v6 was left on purpose, so a change builds on
 * v2, which runs, instead of bringing v6's build back. A newest release that never ran (its
 * deploy failed, or it was recorded with --no-run) is pending, so a change builds on it: fixing
 * a failed deploy's config keeps its build.
 */
async function baseOf(ctx: Context, app: string, latest: Release, running: Release | null): Promise<Release> {
  if (!running || running.id === latest.id) return latest;
  // Whether the newest release ever ran: its newest 'activated' event, read by type and release.
  const newestRan = (await ctx.ledger.lastEventOf(app, ['activated'], { release: latest.id })) !== null;
  return newestRan ? running : latest;
}

interface ConfigBases {
  latest: Release | null;
  /** The release that runs now (the ledger's current release, which the supervisor serves). */
  running: Release | null;
  /** What a change builds on (baseOf); null before the first release. */
  base: Release | null;
}

/**
 * The releases a config view or change starts from, read from the ledger's indexes (the
 * current release and whether the newest ever ran, by event type): `brr config` and `config
 * set` of a long history read a few rows, not the event log.
 */
async function configBases(ctx: Context, app: string): Promise<ConfigBases> {
  const latest = await ctx.ledger.latestRelease(app);
  const current = await currentReleaseOf(ctx.ledger, app);
  const running = current ? await ctx.ledger.getRelease(app, current) : null;
  return { latest, running, base: latest ? await baseOf(ctx, app, latest, running) : null };
}

/** What is staged before the first release: its 'config-staged' events folded (release/state.ts). */
async function stagedOf(ctx: Context, app: string): Promise<Config> {
  return stagedConfig(await ctx.ledger.listEventsOf(app, ['config-staged']));
}

/**
 * The app's current config: the running release's (else the newest's), or what is staged
 * before the first release.
 */
export async function currentConfig(ctx: Context, app: string): Promise<Config> {
  const { running, latest } = await configBases(ctx, app);
  const shown = running ?? latest;
  return shown ? shown.config : stagedOf(ctx, app);
}

/** `brr config show`: the current config with secret values redacted. */
export async function showConfig(ctx: Context, app: string): Promise<Record<string, string>> {
  return redactConfig(await currentConfig(ctx, app));
}

export interface ConfigView {
  /** The shown config, secrets redacted: the running release's, else the newest's. */
  config: Record<string, string>;
  /** The release whose config this is (null: staged before the first release). */
  release: string | null;
  /** Whether that release runs now. */
  running: boolean;
  /** The newest release when it is not the shown one (it does not run). */
  newerNotRunning: string | null;
  /** The release a config change builds on, when it is not the shown one. */
  changesBuildOn: string | null;
}

/** `brr config show` with where the config comes from: the running release, and any newer one that does not run. */
export async function viewConfig(ctx: Context, app: string): Promise<ConfigView> {
  const { latest, running, base } = await configBases(ctx, app);
  const shown = running ?? latest;
  if (!shown)
    return {
      config: redactConfig(await stagedOf(ctx, app)),
      release: null,
      running: false,
      newerNotRunning: null,
      changesBuildOn: null,
    };
  return {
    config: redactConfig(shown.config),
    release: shown.id,
    running: running !== null,
    newerNotRunning: latest && latest.id !== shown.id ? latest.id : null,
    changesBuildOn: base && base.id !== shown.id ? base.id : null,
  };
}

/**
 * `brr config set/unset`: with a release, append a new one with the build, formation and config
 * of the release it builds on (baseOf: the one that runs after `brr run vOld`, else the newest), changed (nothing when nothing changes); before the first release, stage it.
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
  // Under the deploy lease nothing else activates or appends, so the base read here stays it.
  const { base: latest, running } = await configBases(ctx, app);
  const wasRunning = running !== null;
  if (!latest) {
    const staged = await stagedOf(ctx, app);
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
      const base = newest && newest.id === latest.id ? newest : latest;
      const draft = planConfigChange({
        latest: base,
        set: sealConfigChange(base.config, set, secret, secretsKey),
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
 * when the app was running, unless `run` is false. The console calls it directly to set and
 * unset keys in one release.
 */
export async function changeConfigAndRun(
  ctx: Context,
  app: string,
  change: { set?: string[]; unset?: string[]; secret?: boolean },
  opts: ConfigVerbOptions,
): Promise<ConfigChangeResult & { run: RunResult | null }> {
  const { withDeployLease } = await import('./lease.js');
  return withDeployLease(ctx, app, opts.lease, async (fenced, { signal }) => {
    if (opts.run !== false) await assertSupervisorCanOpenSecrets(fenced, app, change.secret ?? false);
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

/**
 * Before anything is appended: a secret config change of a running local app is run by the
 * supervisor, which opens secrets with its own key (its environment). One started without this
 * command's key would fail the switch with a pointer to process logs, after the release was
 * already recorded; refuse instead and say how to give it the key.
 */
async function assertSupervisorCanOpenSecrets(ctx: Context, app: string, secret: boolean): Promise<void> {
  const state = await readAppState(ctx, app);
  if (state.currentId === null || state.target.target !== 'local') return;
  const running = await ctx.ledger.getRelease(app, state.currentId);
  const hasSecrets = secret || Object.values(running?.config ?? {}).some((v) => v.secret);
  const ours = hasSecrets ? loadSecretsKey(ctx.settings) : null;
  if (!ours) return; // sealing refuses on its own when --secret has no key here
  const theirs = await supervisorSecretsKeyId(ctx.paths);
  if (theirs === undefined || theirs === ours.id) return;
  const restart =
    'restart it with the key: `brr shutdown`, then run this command again with BRR_SECRETS_KEY (or BRR_SECRETS_KEY_FILE) set, which starts the supervisor with it; under systemd, put the variable in its unit (`brr supervise --systemd-unit`)';
  throw new BrrError(
    theirs === null ? 'secret_key_missing' : 'secret_key_mismatch',
    theirs === null
      ? `the running supervisor has no secrets key, so it could not run ${app}'s new release; nothing was recorded`
      : `the running supervisor opens secrets with key ${theirs}, not this command's ${ours.id}; nothing was recorded`,
    { exitCode: 2, hint: `${restart}; or pass --no-run to only record the release` },
  );
}

/** `brr config set KEY=VALUE…` as a verb (see changeConfigAndRun). */
export function setConfig(ctx: Context, app: string, assignments: string[], opts: ConfigVerbOptions = {}) {
  return changeConfigAndRun(ctx, app, { set: assignments, secret: opts.secret }, opts);
}

/** `brr config unset KEY…` as a verb (see changeConfigAndRun). */
export function unsetConfig(ctx: Context, app: string, keys: string[], opts: ConfigVerbOptions = {}) {
  return changeConfigAndRun(ctx, app, { unset: keys, secret: opts.secret }, opts);
}
