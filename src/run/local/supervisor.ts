/**
 * The local run target's daemon, one per brr home: clears what a killed predecessor left,
 * resumes every app's current release, then serves the control socket (ps, status, switch,
 * shutdown) until asked to stop.
 */
import { rmSync } from 'node:fs';
import { ensureHome } from '../../core/home.js';
import { brrVersion } from '../../core/version.js';
import type { PortSpec } from '../../core/types.js';
import { MAX_TIMER_MS } from '../../manifest/duration.js';
import type { RunSpec, SupervisorDeps } from '../types.js';
import { planAdoption, socketKey, SOCKET_KEY_PREFIX, verifyEntries } from './adoption.js';
import { AppTable } from './app-table.js';
import {
  instanceMembers,
  listInstanceCgroups,
  openContainment,
  reapInstance,
  removeCgroup,
  type Containment,
} from './containment.js';
import { HeldFds, takeFromHolder, type HeldItem, type NativeHandle } from './fd-holder.js';
import { DEFAULT_BACKOFF } from './backoff.js';
import { ChildrenFile, childrenFilePath, readChildren } from './children-file.js';
import { tokenPath, writeToken, type ControlOp } from './control-protocol.js';
import { optionalStringArg, startControlServer, stringArg } from './control-server.js';
import { HOME_MARKER_VAR } from './launch-plan.js';
import type { AdoptInput, ProcessContext } from './managed-process.js';
import { killOrphans } from './orphans.js';
import { PortPool } from './port-pool.js';
import { DEFAULT_FLOW_IDLE_MS } from './proxy-udp.js';
import { LogFiles } from './process-log.js';
import { ReleaseRun } from './release-run.js';
import { SlotStats } from './slot-stats.js';
import { bindHeldSocket, bindProxyTcpHandle, bindProxyUdpHandle, type HeldSocket } from './sockets.js';
import { acquireSupervisorLock } from './supervisor-lock.js';
import { findStrays, killStrays } from './strays.js';
import { planSlots } from './switch-plan.js';
import { switchRelease, type SwitchEnv } from './switch-release.js';
import { WriteFaults } from './write-faults.js';

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
  /** Where failed writes are reported; pass the one the log function reports to (see fdLineLogger). */
  writeFaults?: WriteFaults;
}

/** The answer of the `problems` op: what `brr ps`/`brr status` report beside the processes. */
export interface SupervisorProblems {
  /** How descendants are contained: `cgroup` or `marker` (environment scan). */
  containment: Containment['mechanism'];
  /** Whether the fd holder runs (without it a supervisor restart restarts the apps). */
  fdHolder: boolean;
  writeFaults: ReturnType<WriteFaults['list']>;
  strays: ReturnType<typeof findStrays>;
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
    const faults = opts.writeFaults ?? new WriteFaults();
    try {
      ensureHome(home.root, home.logs);
    } catch (e) {
      faults.failed('log', home.logs, e);
    }
    // A grace recorded before durations were bounded (e.g. 600h) must not overflow the kill timer.
    const stopGraceCapMs = Math.min(opts.stopGraceCapMs ?? MAX_TIMER_MS, MAX_TIMER_MS);
    const containment = openContainment(home.root);
    deps.log(
      containment.mechanism === 'cgroup'
        ? `containing processes in cgroups under ${containment.cgroupRoot}`
        : `containing processes by environment marker only (${containment.reason})`,
    );
    const childrenPath = childrenFilePath(home.run);
    const entries = readChildren(childrenPath);
    // What each app should run decides which of a killed predecessor's processes are adopted.
    // Read early only when there is something to adopt: preparing releases delays the control socket.
    let specs: RunSpec[] | null | undefined;
    if (entries.length > 0) specs = await desiredOrNull(deps);
    // Always asked: a holder left without a children file would otherwise keep the ports bound.
    const taken = await takeFromHolder(home.run);
    const plan = planAdoption(
      entries,
      specs ?? [],
      verifyEntries(entries, home.root),
      new Set(taken.map((t) => t.key)),
    );
    for (const r of plan.refused) deps.log(`not adopting ${r}: restarting it`);
    const keep = new Set<number>();
    for (const a of plan.adopt)
      for (const e of a.bySlot.values())
        for (const pid of [e.pid, ...instanceMembers(e.instance ?? '', e.cgroup)]) keep.add(pid);
    const adoptedInstances = new Set(plan.adopt.flatMap((a) => [...a.bySlot.values()].map((e) => e.instance)));
    // Before any bind: orphans of a killed predecessor still hold the shared sockets.
    await killOrphans(plan.rest, `${HOME_MARKER_VAR}=${home.root}`, {
      graceCapMs: Math.min(stopGraceCapMs, 3_000),
      log: deps.log,
      keep,
    });
    // Descendants that left their process group are not found by group: sweep the cgroups too.
    await Promise.all(
      [...listInstanceCgroups(containment)]
        .filter(([id]) => !adoptedInstances.has(id))
        .map(([id, dir]) => reapInstance(id, dir, 0)),
    );
    const children = new ChildrenFile(childrenPath, faults, deps.log);
    children.clear();

    const apps = new AppTable();
    const fds = new HeldFds();
    const takenByKey = new Map(taken.map((t) => [t.key, t]));
    // Public sockets (fds ports, and the sockets of proxied ports) go through the fd holder: a
    // restarted supervisor takes them back, with what queued in them meanwhile.
    const pool = new PortPool((spec) => holdSocket(spec, takenByKey, fds), {
      udpFlowIdleMs: opts.udpFlowIdleMs ?? DEFAULT_FLOW_IDLE_MS,
      log: (line) => deps.log(`proxy ${line}`),
      heldSocket: (spec) => holdProxySocket(spec, takenByKey, fds),
    });
    const logs = new LogFiles(faults, deps.log);
    const ctx: ProcessContext = {
      home,
      clock: deps.clock,
      baseEnv: process.env,
      logs,
      children,
      stopGraceCapMs,
      containment,
      fds,
      slotStats: new SlotStats(),
      log: deps.log,
      backoff: {
        baseMs: opts.backoffBaseMs ?? DEFAULT_BACKOFF.baseMs,
        capMs: opts.backoffCapMs ?? DEFAULT_BACKOFF.capMs,
        stableMs: opts.stableMs ?? DEFAULT_BACKOFF.stableMs,
      },
    };
    const env: SwitchEnv = { deps, pool, ctx, shutdown: shutdown.signal };
    for (const a of plan.adopt) {
      const inputs = new Map<string, AdoptInput>();
      for (const [slot, entry] of a.bySlot) {
        const pipe = (stream: string) => takePipe(takenByKey, `out:${entry.instance}:${stream}`);
        inputs.set(slot, { entry, stdout: pipe('stdout'), stderr: pipe('stderr') });
      }
      let run: ReleaseRun | null = null;
      try {
        run = new ReleaseRun(a.spec, planSlots(a.spec), pool, ctx, inputs);
        // Proxied ports died with the predecessor's proxy: bound again above, they forward to the
        // adopted processes' recorded private ports from here on.
        await run.ready();
        run.activate();
        apps.get(a.spec.app).current = run;
        run.supervise();
        deps.log(`${a.spec.app}: adopted ${a.bySlot.size} running process(es) of ${a.spec.release}`);
      } catch (e) {
        await run?.stop().catch(() => {});
        deps.log(
          `${a.spec.app}: adoption failed (${e instanceof Error ? e.message : String(e)}); it will be restarted`,
        );
      }
    }
    // Output pipes of processes that were not adopted (stopped above) are of no use. Public
    // sockets wait for the resume: a restarted app takes its socket back, with the connections
    // in its accept queue or the datagrams in its receive buffer.
    const closeTaken = (which: (key: string) => boolean) => {
      for (const [key, t] of takenByKey)
        if (which(key)) {
          t.handle.close();
          takenByKey.delete(key);
        }
    };
    closeTaken((key) => !key.startsWith(SOCKET_KEY_PREFIX));
    await fds.keepHolder(home.run, home.root, deps.log);
    const startedAt = deps.clock.now().toISOString();
    const token = writeToken(home.run);

    // Assigned once the control socket is up: nothing is spawned if it cannot be served.
    let resumed: Promise<void> = Promise.resolve();
    let stopping: Promise<void> | null = null;
    const stopAll = (): Promise<void> =>
      (stopping ??= stopEverything(deps, apps, shutdown, resumed, pool, logs, children, containment, fds));

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
        case 'problems': {
          const problems: SupervisorProblems = {
            containment: containment.mechanism,
            fdHolder: fds.holderAlive(),
            writeFaults: faults.list(),
            strays: findStrays(home.root, apps.instances(), containment),
          };
          return problems;
        }
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
    resumed = resume(deps, apps, env, specs).finally(() => closeTaken(() => true));
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

/**
 * Binds a declared port, or takes the socket a predecessor's fd holder handed over, and keeps a
 * copy in the current fd holder for as long as the pool holds it.
 */
function holdSocket(spec: PortSpec, taken: Map<string, HeldItem>, fds: HeldFds): HeldSocket {
  const key = socketKey(spec);
  const t = taken.get(key);
  let sock: HeldSocket;
  if (t) {
    taken.delete(key);
    let open = true;
    sock = {
      name: spec.name,
      protocol: spec.protocol,
      address: spec.address,
      port: spec.port,
      fd: t.handle.fd,
      nativeHandle: t.handle,
      close: () => {
        if (open) t.handle.close();
        open = false;
      },
    };
  } else {
    sock = bindHeldSocket(spec);
  }
  fds.hold(key, { name: spec.name }, sock.nativeHandle);
  const close = sock.close;
  return {
    ...sock,
    close: () => {
      fds.drop(key);
      close();
    },
  };
}

/**
 * The socket of a proxied port (a TCP listener or a UDP socket): taken from a predecessor's fd
 * holder or bound, and kept in the current holder while the proxy serves it (`release` drops
 * that copy).
 */
function holdProxySocket(
  spec: PortSpec,
  taken: Map<string, HeldItem>,
  fds: HeldFds,
): { handle: object; release(): void } {
  const key = socketKey(spec);
  const t = taken.get(key);
  taken.delete(key);
  const handle = t?.handle ?? (spec.protocol === 'udp' ? bindProxyUdpHandle(spec) : bindProxyTcpHandle(spec)).handle;
  fds.hold(key, { name: spec.name, handoff: 'proxy' }, handle);
  return { handle, release: () => fds.drop(key) };
}

function takePipe(taken: Map<string, HeldItem>, key: string): NativeHandle | null {
  const t = taken.get(key);
  if (!t) return null;
  taken.delete(key);
  return t.handle;
}

async function desiredOrNull(deps: SupervisorDeps): Promise<RunSpec[] | null> {
  try {
    return await deps.desired();
  } catch (e) {
    deps.log(`cannot read the desired releases; nothing resumed: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
}

/** Brings every app to its desired release, in parallel; no events are recorded. */
async function resume(
  deps: SupervisorDeps,
  apps: AppTable,
  env: SwitchEnv,
  given: RunSpec[] | null | undefined,
): Promise<void> {
  const specs = given === undefined ? await desiredOrNull(deps) : given;
  if (!specs) return;
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
  containment: Containment,
  fds: HeldFds,
): Promise<void> {
  shutdown.abort();
  // Switches in flight stop their own new processes when their gate is aborted.
  await resumed;
  await Promise.all(apps.all().map((s) => s.switching?.done));
  await Promise.all(apps.all().flatMap((s) => [s.current?.stop(), ...[...s.draining].map((r) => r.stop())]));
  for (const s of apps.all()) s.current = null;
  // Whatever still carries this home's marker or sits in its cgroups escaped its release: stop it too.
  const strays = findStrays(deps.home.root, new Set(), containment);
  if (strays.length > 0) {
    deps.log(`stopping ${strays.length} stray process(es): ${strays.map((s) => s.pid).join(', ')}`);
    killStrays(strays);
  }
  await Promise.all([...listInstanceCgroups(containment)].map(([id, dir]) => reapInstance(id, dir, 0)));
  removeCgroup(containment.cgroupRoot);
  pool.closeAll();
  fds.stop(deps.home.run);
  logs.closeAll();
  children.clear();
  children.dispose();
  deps.log('every process stopped');
}
