import { setTimeout as sleep } from 'node:timers/promises';
import { isBrrError } from '../core/errors.js';
import { parseReleaseId } from '../release/plan.js';
import { assertReleaseTrusted } from '../release/trust.js';
import { checkBuildPresent } from './preflight.js';
import { ensureSupervisor, type SupervisorClient } from '../run/local/client.js';
import type { Context } from './context.js';
import { trackSwitch } from './interrupt.js';
import { readAppState } from './app-state.js';
import { runOnKubernetes } from './kubernetes-run.js';
import { supervisorArgv } from './launch.js';
import { withDeployLease, type VerbOptions } from './lease.js';
import { runReleasePhase, type ReleasePhaseOutcome } from './release-phase.js';
import { findRelease } from './find-release.js';

export { findRelease };

export interface RunResult {
  app: string;
  release: string;
  /** From the request to the old release stopped (after its connections and flows drained). */
  durationMs: number;
  /** From the request to the new release serving; absent when nothing switched or on Kubernetes. */
  activatedMs?: number;
  /** True when the release was already running: nothing switched (durationMs is only the round trip). */
  alreadyRunning: boolean;
  /** What the release phase did: ran now, was skipped (already succeeded), or none declared. */
  releasePhase: ReleasePhaseOutcome['status'];
}

/**
 * `brr run`: make a release the app's current one. First its release phase, if the build has
 * one and it has not succeeded for this release yet; its failure throws before the supervisor
 * is asked for anything, so the running release is untouched. Then the supervisor (started in
 * the background if none runs for this home) verifies and materializes it, starts it beside the
 * old one, waits for health, records the outcome in the ledger and only then stops the old
 * processes. `signal` (the deploy lease's) stops the release phase and keeps the switch from
 * being requested once the lease is lost.
 */
export async function runRelease(
  ctx: Context,
  app: string,
  id: string | undefined,
  onProgress: (line: string) => void,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<RunResult> {
  const rel = await findRelease(ctx, app, id);
  // The event log, read once for the whole run (the caller holds the lease, so no other
  // operator can change it meanwhile): trust, target, release phase and the way back.
  const state = await readAppState(ctx, app);
  // Before anything of the release executes (its release phase included) and on every target;
  // the supervisor checks again on its own when it resumes after a reboot.
  if (state.trust.length > 0) assertReleaseTrusted(await state.signedEvents(rel.id), state.trust, app, rel);
  // Kubernetes apps roll out on their cluster (render, apply, watch, roll back on failure).
  const { target } = state;
  if (target.target === 'kubernetes') {
    const r = await runOnKubernetes(ctx, rel, target, onProgress, {
      signal: opts.signal,
      timeoutMs: opts.timeoutMs,
      state,
    });
    return { app, release: r.release, durationMs: r.durationMs, alreadyRunning: false, releasePhase: 'none' };
  }
  await checkBuildPresent(ctx.paths, rel);
  const phase = await runReleasePhase(ctx, rel, { onProgress, signal: opts.signal, state });
  opts.signal?.throwIfAborted();
  const client = await ensureSupervisor(ctx.paths, supervisorArgv(ctx.paths));
  try {
    const result = await requestSwitch(client, app, rel.id, onProgress, opts.signal);
    return {
      app,
      release: result.release,
      durationMs: result.durationMs,
      activatedMs: result.activatedMs,
      alreadyRunning: result.noop === true,
      releasePhase: phase.status,
    };
  } finally {
    client.close();
  }
}

/**
 * Asks the supervisor for the switch. We hold the app's deploy lease, so a switch already in
 * progress for the app was asked for by a command that is gone (killed or interrupted mid-switch;
 * the supervisor carries it out regardless) or is the supervisor's own resume: wait for it to
 * end, then ask again, rather than fail a command whose release is already recorded. Stops
 * waiting when `signal` (the lease's) aborts.
 */
async function requestSwitch(
  client: SupervisorClient,
  app: string,
  release: string,
  onProgress: (line: string) => void,
  signal?: AbortSignal,
): Promise<{ release: string; durationMs: number; activatedMs?: number; noop?: boolean }> {
  let told = false;
  for (;;) {
    // From here the supervisor carries the switch out even if this CLI is interrupted.
    const answered = trackSwitch(app, release);
    try {
      return (await client.request('switch', { app, release }, onProgress)) as {
        release: string;
        durationMs: number;
        activatedMs?: number;
        noop?: boolean;
      };
    } catch (e) {
      if (!isBrrError(e) || e.code !== 'switch_in_progress') throw e;
      if (!told) onProgress(`${e.message} (asked for by a command that is gone); waiting for it to end`);
      told = true;
    } finally {
      answered();
    }
    signal?.throwIfAborted();
    await sleep(200, undefined, { signal }).catch(() => signal?.throwIfAborted());
  }
}

/** `brr run [vN]` as a verb: runRelease holding the app's deploy lease (`id` may be `v3` or `3`). */
export function runApp(
  ctx: Context,
  app: string,
  id?: string,
  opts: VerbOptions & { timeoutMs?: number } = {},
): Promise<RunResult> {
  const parsed = id === undefined ? undefined : parseReleaseId(id);
  return withDeployLease(ctx, app, opts.lease, (fenced, { signal }) =>
    runRelease(fenced, app, parsed, opts.onProgress ?? (() => {}), { signal, timeoutMs: opts.timeoutMs }),
  );
}
