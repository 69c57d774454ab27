/**
 * The health-gated, atomic switch of one app to a release: the new release's processes start
 * beside the old ones on the same held sockets, and only when every new process is healthy is
 * the release recorded as activated and the old one drained. On any failure the new processes
 * are stopped and the old ones never noticed. A first start and a resume take the same path
 * with nothing old to keep.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BrrError, conflict, isBrrError } from '../../core/errors.js';
import type { RunSpec, SupervisorDeps } from '../types.js';
import type { AppState } from './app-table.js';
import type { ProcessContext } from './managed-process.js';
import type { PortPool } from './port-pool.js';
import { ReleaseRun } from './release-run.js';
import { planSwitch } from './switch-plan.js';

export interface SwitchEnv {
  deps: Pick<SupervisorDeps, 'prepare' | 'record' | 'log'>;
  pool: PortPool;
  ctx: ProcessContext;
  /** Aborted when the supervisor shuts down: a gate in progress gives up. */
  shutdown: AbortSignal;
}

export interface SwitchResult {
  release: string;
  from: string | null;
  /** From the request to the old release drained (or to the no-op answer). */
  durationMs: number;
  /** True when the release was already running. */
  noop: boolean;
}

/**
 * `switch`: prepares `release` through deps.prepare and records switch-started / activated /
 * failed. `resume` (supervisor start): `spec` comes from deps.desired(), nothing is recorded,
 * and a release that fails its gate is kept under its restart policy, since there is nothing
 * else to run and no one to ask. One switch per app at a time: a second one is refused.
 */
export async function switchRelease(
  state: AppState,
  target: { mode: 'switch'; release: string } | { mode: 'resume'; spec: RunSpec },
  env: SwitchEnv,
  progress: (message: string) => void,
): Promise<SwitchResult> {
  const release = target.mode === 'switch' ? target.release : target.spec.release;
  if (state.switching) {
    throw conflict(
      'switch_in_progress',
      `${state.app}: a switch to ${state.switching.release} is in progress`,
      'wait for it to finish (`brr ps` shows its processes), then run the command again',
    );
  }
  if (env.shutdown.aborted)
    throw new BrrError('supervisor_stopping', 'the supervisor is shutting down', { hint: 'start it again and retry' });
  const abort = new AbortController();
  const onShutdown = () => abort.abort();
  env.shutdown.addEventListener('abort', onShutdown, { once: true });
  const done = run();
  state.switching = { release, abort, done: done.catch(() => {}) };
  try {
    return await done;
  } finally {
    state.switching = null;
    env.shutdown.removeEventListener('abort', onShutdown);
  }

  async function run(): Promise<SwitchResult> {
    const t0 = performance.now();
    const ms = () => Math.round(performance.now() - t0);
    const from = state.current?.spec.release ?? null;
    const record = target.mode === 'switch' ? env.deps.record : async () => {};
    const fail = async (reason: string, logTail: string[], cause?: unknown): Promise<never> => {
      env.deps.log(`${state.app}: switch to ${release} failed: ${reason}`);
      try {
        await record(state.app, 'failed', release, { reason, logTail });
      } catch (e) {
        env.deps.log(`${state.app}: could not record the failure: ${e instanceof Error ? e.message : String(e)}`);
      }
      throw new BrrError('switch_failed', `${state.app}: switch to ${release} failed: ${reason}`, {
        hint: `${from ? `${from} keeps running unchanged` : `nothing of ${state.app} runs`}; the new processes' output is in ${path.join(env.ctx.home.logs, state.app)} (its last lines are in the failed event)`,
        details: {
          app: state.app,
          release,
          from,
          reason,
          logTail,
          causeCode: isBrrError(cause) ? cause.code : undefined,
        },
        cause,
      });
    };

    let next: RunSpec;
    if (target.mode === 'switch') {
      progress(`preparing ${release}`);
      try {
        next = await env.deps.prepare(state.app, release);
      } catch (e) {
        return fail(`prepare failed: ${e instanceof Error ? e.message : String(e)}`, [], e);
      }
    } else {
      next = target.spec;
    }
    const plan = planSwitch(state.current?.spec ?? null, next);
    if (plan.kind === 'noop') return { release, from, durationMs: ms(), noop: true };
    if (abort.signal.aborted) return fail('interrupted: the supervisor is shutting down', []);

    try {
      await record(state.app, 'switch-started', release, { from });
    } catch (e) {
      return fail(`could not record the start of the switch: ${e instanceof Error ? e.message : String(e)}`, [], e);
    }
    progress(`starting ${plan.start.length} process(es) of ${release}${from ? ` beside ${from}` : ''}`);
    let fresh: ReleaseRun;
    try {
      fresh = new ReleaseRun(next, plan.start, env.pool, env.ctx);
    } catch (e) {
      return fail(e instanceof Error ? e.message : String(e), [], e);
    }
    state.starting = fresh;
    progress(
      `waiting for ${fresh.size} process(es) to be healthy (timeout ${Math.round(fresh.healthTimeoutMs() / 1000)}s)`,
    );
    const health = await fresh.waitHealthy(abort.signal);
    state.starting = null;

    if (!health.ok && (target.mode === 'switch' || abort.signal.aborted)) {
      const tail = health.failing?.logTail() ?? [];
      await stopBeside(state, fresh);
      return fail(health.reason, tail);
    }
    if (!health.ok) {
      env.deps.log(
        `${state.app}: ${release} is not healthy after resume (${health.reason}); keeping it under its restart policy`,
      );
    }
    try {
      await record(state.app, 'activated', release, { from, durationMs: ms() });
    } catch (e) {
      // The ledger must not disagree with what runs: without the record, the old release stays.
      await stopBeside(state, fresh);
      return fail(`could not record activation: ${e instanceof Error ? e.message : String(e)}`, [], e);
    }
    const old = state.current;
    state.current = fresh;
    fresh.supervise();
    if (old) {
      progress(`switched to ${release} in ${ms()} ms; draining ${old.size} old process(es) of ${old.release}`);
      await stopBeside(state, old);
    }
    env.deps.log(`${state.app}: ${release} is running${from ? ` (was ${from})` : ''}, ${ms()} ms`);
    return { release, from, durationMs: ms(), noop: false };
  }
}

/** Stops a run while keeping it visible in `ps` as draining. */
async function stopBeside(state: AppState, run: ReleaseRun): Promise<void> {
  state.draining.add(run);
  try {
    await run.stop();
  } finally {
    state.draining.delete(run);
  }
}
