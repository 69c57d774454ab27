/**
 * The health-gated, atomic switch of one app to a release: the new release's processes start
 * beside the old ones on the same public ports, and only when every new process is healthy is
 * the release recorded as activated, the proxies pointed at it and the old one drained. On any
 * failure the new processes are stopped and the old ones never noticed. A first start and a
 * resume take the same path with nothing old to keep. `switch: stop-first` stops the old
 * processes first, and starts them again when the new ones fail.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BrrError, conflict, isBrrError } from '../../core/errors.js';
import type { RunSpec, SupervisorDeps } from '../types.js';
import type { AppState } from './app-table.js';
import type { ProcessContext } from './managed-process.js';
import type { PortPool } from './port-pool.js';
import { ReleaseRun } from './release-run.js';
import { planSlots, planSwitch } from './switch-plan.js';

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
  /** From the request to the new release serving (activated); absent for a no-op. */
  activatedMs?: number;
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
    const stopped = plan.strategy === 'stop-first' ? state.current : null;
    // Brings the stopped old release back when the new one cannot take over (stop-first only).
    const restoreOld = async (): Promise<void> => {
      if (!stopped || abort.signal.aborted) return;
      progress(`starting ${stopped.release} again`);
      const again = new ReleaseRun(stopped.spec, planSlots(stopped.spec), env.pool, env.ctx);
      state.current = again;
      await again.waitHealthy(abort.signal);
      again.activate();
      again.supervise();
    };
    if (stopped) {
      progress(`switch: stop-first: stopping ${stopped.size} process(es) of ${stopped.release}`);
      state.current = null;
      await stopBeside(state, stopped);
    }
    progress(`starting ${plan.start.length} process(es) of ${release}${from && !stopped ? ` beside ${from}` : ''}`);
    let fresh: ReleaseRun;
    try {
      fresh = new ReleaseRun(next, plan.start, env.pool, env.ctx);
    } catch (e) {
      await restoreOld().catch(() => {});
      return fail(e instanceof Error ? e.message : String(e), [], e);
    }
    state.starting = fresh;
    progress(
      `waiting for ${fresh.size} process(es) to be healthy (timeout ${Math.round(fresh.healthTimeoutMs() / 1000)}s)`,
    );
    let health: Awaited<ReturnType<ReleaseRun['waitHealthy']>>;
    try {
      await fresh.ready();
      health = await fresh.waitHealthy(abort.signal);
    } catch (e) {
      health = { ok: false, reason: e instanceof Error ? e.message : String(e), failing: null };
    }
    state.starting = null;

    if (!health.ok && (target.mode === 'switch' || abort.signal.aborted)) {
      const tail = health.failing?.logTail() ?? [];
      await stopBeside(state, fresh);
      await restoreOld().catch((e: unknown) =>
        env.deps.log(`${state.app}: could not start ${from} again: ${e instanceof Error ? e.message : String(e)}`),
      );
      return fail(from && !stopped ? explainPortClash(health.reason, tail, from) : health.reason, tail);
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
    const activatedMs = ms();
    const old = state.current;
    state.current = fresh;
    fresh.activate();
    fresh.supervise();
    if (old) {
      progress(`switched to ${release} in ${ms()} ms; draining ${old.size} old process(es) of ${old.release}`);
      await stopBeside(state, old, { drain: true });
    }
    env.deps.log(`${state.app}: ${release} is running${from ? ` (was ${from})` : ''}, ${ms()} ms`);
    return { release, from, durationMs: ms(), activatedMs, noop: false };
  }
}

/**
 * A new process that died because its port was taken (the app's own output says EADDRINUSE)
 * during an overlapping switch: the old release holds that port. Say so and name the ways out.
 * The app's output is the only witness of why it exited, so it is read here, not our errors.
 */
export function explainPortClash(reason: string, logTail: string[], from: string): string {
  if (!logTail.some((l) => /EADDRINUSE|address already in use/i.test(l))) return reason;
  return `${reason}: it could not bind its port (EADDRINUSE) while ${from} still holds it, since the old and new releases overlap during a switch. Either let brr own the port: declare it in brr.yaml under processes.<type>.ports (handoff: proxy, the default, gives each process a private port in $PORT / $PORT_<NAME>), or set switch: stop-first on processes.<type> (the old processes stop before the new ones start)`;
}

/** Stops a run while keeping it visible in `ps` as draining. */
async function stopBeside(state: AppState, run: ReleaseRun, opts: { drain?: boolean } = {}): Promise<void> {
  state.draining.add(run);
  try {
    await run.stop(opts);
  } finally {
    state.draining.delete(run);
  }
}
