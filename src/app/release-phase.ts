import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { BrrError } from '../core/errors.js';
import { HOME_DIR_MODE, type HomePaths } from '../core/home.js';
import type { Release } from '../core/types.js';
import { configEnv, REDACTED } from '../release/config.js';
import { releasePhaseSucceeded } from '../release/state.js';
import { findBuild } from '../store/builds.js';
import { materializeRelease } from '../store/materialize.js';
import { readAppState, type AppState } from './app-state.js';
import type { Context } from './context.js';
import { execReleaseCommand } from './release-phase-exec.js';
import { loadSecretsKey } from './settings.js';

/**
 * The release phase (Heroku's name): `release.command` from the image runs once per release,
 * after the release is materialized and before any of its processes start, with the release's
 * config; typically database migrations. Its failure fails the deploy before the supervisor is
 * asked to switch, so the running release is untouched.
 *
 * "Once per release" is read from the ledger: a 'release-phase-succeeded' event for the release
 * id means it ran, so running the same vN again does not migrate twice. The caller holds the
 * app's deploy lease, so two operators cannot both see "not yet" and run it twice; a rollback or
 * config change is a new release and runs it again (release commands must be idempotent, as
 * migration tools are).
 */

/** Lines of output kept for the ledger event and the error message. */
export const TAIL_LINES = 20;

export interface ReleasePhaseOutcome {
  /** 'ran': ran now and succeeded; 'skipped': already succeeded for this release; 'none': the build has no release phase. */
  status: 'ran' | 'skipped' | 'none';
  log: string | null;
  durationMs: number;
}

export interface ReleasePhaseOptions {
  onProgress?: (line: string) => void;
  /** Aborting kills the command (its whole process group) and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** The app's state as the caller read it (under the deploy lease); default: read it now. */
  state?: AppState;
}

/** `<home>/logs/<app>/release.<id>.log`: the process-log reader only takes `<type>.<digits>.log`, so it never mistakes it for a process. */
export function releasePhaseLogPath(paths: HomePaths, app: string, release: string): string {
  return path.join(paths.logs, app, `release.${release}.log`);
}

/** Pure: whether the release phase of `release` already succeeded (the fold is release/state.ts's). */
export const releasePhaseDone = releasePhaseSucceeded;

/**
 * Pure: the command's environment, built like a process's (launch-plan childEnv): a minimal
 * base, then the config, then brr's own variables, which config cannot override.
 */
export function releasePhaseEnv(
  base: NodeJS.ProcessEnv,
  config: Record<string, string>,
  app: string,
  release: string,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'LANG', 'TZ']) {
    const v = base[key];
    if (v !== undefined) env[key] = v;
  }
  return { ...env, ...config, BRR_APP: app, BRR_RELEASE: release };
}

/** Pure: output lines with the (decrypted) secret values masked, before they reach the ledger or a terminal. */
export function redactLines(lines: readonly string[], secretValues: readonly string[]): string[] {
  // Very short values would mask innocent text everywhere and protect little.
  const secrets = secretValues.filter((v) => v.length >= 4).sort((a, b) => b.length - a.length);
  return lines.map((l) => secrets.reduce((acc, s) => acc.split(s).join(REDACTED), l));
}

/**
 * Runs the release phase of `rel` if its build declares one and it has not succeeded yet.
 * Appends 'release-phase-started' and then '-succeeded' or '-failed' through ctx.ledger (fenced
 * when ctx comes from withLease). Throws BrrError 'release_phase_failed' (exit code, last lines,
 * log path) when the command fails.
 */
export async function runReleasePhase(
  ctx: Context,
  rel: Release,
  opts: ReleasePhaseOptions = {},
): Promise<ReleasePhaseOutcome> {
  const { app } = rel;
  const build = await findBuild(ctx.paths, rel.build.digest);
  if (!build.release) return { status: 'none', log: null, durationMs: 0 };
  const state = opts.state ?? (await readAppState(ctx, app));
  if (await state.releasePhaseDone(rel.id)) return { status: 'skipped', log: null, durationMs: 0 };
  const { command } = build.release;
  const dir = await materializeRelease(ctx.paths, app, rel.id, rel.build.digest);
  const log = releasePhaseLogPath(ctx.paths, app, rel.id);
  await mkdir(path.dirname(log), { recursive: true, mode: HOME_DIR_MODE });
  const record = (
    type: 'release-phase-started' | 'release-phase-succeeded' | 'release-phase-failed',
    detail: Record<string, unknown>,
  ) =>
    ctx.ledger.appendEvent(app, {
      type,
      release: rel.id,
      detail,
      actor: ctx.actor,
      createdAt: ctx.clock.now().toISOString(),
    });

  // Decrypted here, before anything is recorded: a missing secrets key fails the deploy up front.
  const config = configEnv(rel.config, loadSecretsKey(ctx.settings));
  const secretValues = Object.keys(rel.config)
    .filter((k) => rel.config[k]!.secret)
    .map((k) => config[k] ?? '');
  await record('release-phase-started', { command, log });
  opts.onProgress?.(`release phase of ${rel.id}: ${command}`);
  const started = Date.now();
  const result = await execReleaseCommand({
    command,
    cwd: dir,
    env: releasePhaseEnv(ctx.settings.baseEnv, config, app, rel.id),
    logFile: log,
    header: `--- release phase of ${app} ${rel.id} at ${new Date(started).toISOString()}: ${command}`,
    tailLines: TAIL_LINES,
    onLine: opts.onProgress ? (l) => opts.onProgress?.(`release | ${redactLines([l], secretValues)[0]}`) : undefined,
    signal: opts.signal,
  });
  const durationMs = Date.now() - started;
  // Lost lease: the fence would refuse any event now, and the caller reports why.
  opts.signal?.throwIfAborted();
  if (result.exitCode === 0) {
    await record('release-phase-succeeded', { exitCode: 0, durationMs, log });
    return { status: 'ran', log, durationMs };
  }
  const lastLines = redactLines(result.lastLines, secretValues);
  const how =
    result.exitCode !== null
      ? `exit code ${result.exitCode}`
      : result.error
        ? `could not start: ${result.error}`
        : `signal ${result.signal ?? 'unknown'}`;
  await record('release-phase-failed', {
    exitCode: result.exitCode,
    signal: result.signal,
    lastLines,
    durationMs,
    log,
  });
  const shown =
    lastLines.length > 0 ? `; last lines:\n${lastLines.map((l) => `  ${l}`).join('\n')}` : '; it printed nothing';
  throw new BrrError(
    'release_phase_failed',
    `release phase of ${app} ${rel.id} failed with ${how} (log: ${log})${shown}`,
    {
      hint: `the running release was not touched; fix the release command or the config it needs, then deploy again (\`brr run ${rel.id} --app ${app}\` retries this release)`,
      details: { release: rel.id, exitCode: result.exitCode, signal: result.signal, lastLines, log },
    },
  );
}
