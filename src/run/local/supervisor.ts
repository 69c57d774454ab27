/**
 * The local run target's daemon, one per brr home: clears what a killed predecessor left,
 * resumes every app's current release, then serves the control socket (ps, status, switch,
 * shutdown) until asked to stop.
 */
import { rmSync } from 'node:fs';
import { ensureHome } from '../../core/home.js';
import { brrVersion } from '../../core/version.js';
import { MAX_TIMER_MS } from '../../manifest/duration.js';
import type { SupervisorDeps } from '../types.js';
import { AppTable } from './app-table.js';
import { DEFAULT_BACKOFF } from './backoff.js';
import { ChildrenFile, childrenFilePath, readChildren } from './children-file.js';
import { tokenPath, writeToken, type ControlOp } from './control-protocol.js';
import { optionalStringArg, startControlServer, stringArg } from './control-server.js';
import { HOME_MARKER_VAR } from './launch-plan.js';
import type { ProcessContext } from './managed-process.js';
import { killOrphans } from './orphans.js';
import { PortPool } from './port-pool.js';
import { DEFAULT_FLOW_IDLE_MS } from './proxy-udp.js';
import { LogFiles } from './process-log.js';
import { acquireSupervisorLock } from './supervisor-lock.js';
import { switchRelease, type SwitchEnv } from './switch-release.js';

export interface SupervisorOptions {
  /** Back-off before the second restart in a row (default 200 ms); doubles after that. */
  backoffBaseMs?: number;
  /** Longest back-off (default 5 min). */
  backoffCapMs?: number;
  /** Uptime that resets the back-off (default 10 s). */
  stableMs?: number;
  /** Upper bound on any process's grace period when stopping (default: none). */
  stopGraceCapMs?: number;
  /** A proxied UDP flow with no datagram for this long ends (default 30 s). */
  udpFlowIdleMs?: number;
  /** Shut down gracefully on SIGTERM and SIGINT (default true; tests running in-process turn it off). */
  handleSignals?: boolean;
}

/**
 * Runs the supervisor for `deps.home` and resolves once it has shut down (the `shutdown` op,
 * SIGTERM or SIGINT): every child stopped, sockets closed, socket and pid files removed.
 * Rejects with BrrError `supervisor_running` when another supervisor serves this home.
 */
export async function runSupervisor(deps: SupervisorDeps, opts: SupervisorOptions = {}): Promise<void> {
  const { home } = deps;
  const lock = await acquireSupervisorLock(home);
  const shutdown = new AbortController();
  try {
    ensureHome(home.root, home.logs);
    // A grace recorded before durations were bounded (e.g. 600h) must not overflow the kill timer.
    const stopGraceCapMs = Math.min(opts.stopGraceCapMs ?? MAX_TIMER_MS, MAX_TIMER_MS);
    // Before any bind: orphans of a killed predecessor still hold the shared sockets.
    const childrenPath = childrenFilePath(home.run);
    await killOrphans(readChildren(childrenPath), `${HOME_MARKER_VAR}=${home.root}`, {
      graceCapMs: Math.min(stopGraceCapMs, 3_000),
      log: deps.log,
    });
    const children = new ChildrenFile(childrenPath);
    children.clear();

    const apps = new AppTable();
    const pool = new PortPool(undefined, {
      udpFlowIdleMs: opts.udpFlowIdleMs ?? DEFAULT_FLOW_IDLE_MS,
      log: (line) => deps.log(`proxy ${line}`),
    });
    const logs = new LogFiles();
    const ctx: ProcessContext = {
      home,
      clock: deps.clock,
      baseEnv: process.env,
      logs,
      children,
      stopGraceCapMs,
      log: deps.log,
      backoff: {
        baseMs: opts.backoffBaseMs ?? DEFAULT_BACKOFF.baseMs,
        capMs: opts.backoffCapMs ?? DEFAULT_BACKOFF.capMs,
        stableMs: opts.stableMs ?? DEFAULT_BACKOFF.stableMs,
      },
    };
    const env: SwitchEnv = { deps, pool, ctx, shutdown: shutdown.signal };
    const startedAt = deps.clock.now().toISOString();
    const token = writeToken(home.run);

    // Assigned once the control socket is up: nothing is spawned if it cannot be served.
    let resumed: Promise<void> = Promise.resolve();
    let stopping: Promise<void> | null = null;
    const stopAll = (): Promise<void> =>
      (stopping ??= stopEverything(deps, apps, shutdown, resumed, pool, logs, children));

    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const handle = async (
      op: ControlOp,
      args: Record<string, unknown>,
      progress: (m: string) => void,
    ): Promise<unknown> => {
      switch (op) {
        case 'ping':
          return { pid: process.pid, version: brrVersion(), startedAt, secretsKeyId: deps.secretsKeyId?.() ?? null };
        case 'ps':
          return apps.ps(optionalStringArg(args, 'app'));
        case 'status':
          return apps.status(optionalStringArg(args, 'app'));
        case 'switch': {
          const app = stringArg(args, 'app');
          const release = stringArg(args, 'release');
          // A `brr run` right after starting the supervisor must not race the resume of that app.
          await resumed;
          return switchRelease(apps.get(app), { mode: 'switch', release }, env, progress);
        }
        case 'shutdown':
          progress('stopping every process');
          await stopAll();
          setImmediate(finish);
          return { stopped: true };
      }
    };
    const server = await startControlServer(home.socket, token, handle, deps.log);
    resumed = resume(deps, apps, env);
    deps.log(`supervisor ${brrVersion()} pid ${process.pid} serving ${home.socket}`);

    const onSignal = (sig: NodeJS.Signals) => {
      deps.log(`${sig}: shutting down`);
      void stopAll().then(finish);
    };
    if (opts.handleSignals !== false) {
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    }
    await finished;
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await server.close();
    rmSync(tokenPath(home.run), { force: true });
    deps.log('supervisor stopped');
  } finally {
    shutdown.abort();
    lock.release();
  }
}

/** Brings every app to its desired release, in parallel; no events are recorded. */
async function resume(deps: SupervisorDeps, apps: AppTable, env: SwitchEnv): Promise<void> {
  let specs;
  try {
    specs = await deps.desired();
  } catch (e) {
    deps.log(`cannot read the desired releases; nothing resumed: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  await Promise.all(
    specs.map(async (spec) => {
      try {
        deps.log(`${spec.app}: resuming ${spec.release}`);
        await switchRelease(apps.get(spec.app), { mode: 'resume', spec }, env, (m) => deps.log(`${spec.app}: ${m}`));
      } catch (e) {
        deps.log(`${spec.app}: resume of ${spec.release} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }),
  );
}

async function stopEverything(
  deps: SupervisorDeps,
  apps: AppTable,
  shutdown: AbortController,
  resumed: Promise<void>,
  pool: PortPool,
  logs: LogFiles,
  children: ChildrenFile,
): Promise<void> {
  shutdown.abort();
  // Switches in flight stop their own new processes when their gate is aborted.
  await resumed;
  await Promise.all(apps.all().map((s) => s.switching?.done));
  await Promise.all(apps.all().flatMap((s) => [s.current?.stop(), ...[...s.draining].map((r) => r.stop())]));
  for (const s of apps.all()) s.current = null;
  pool.closeAll();
  logs.closeAll();
  children.clear();
  deps.log('every process stopped');
}
