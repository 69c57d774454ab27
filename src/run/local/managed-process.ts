/**
 * One process slot (app, release, type, index) on this machine: spawns it in its own process
 * group with its sockets, pipes its output to its log, restarts it by policy with back-off,
 * and stops it with SIGTERM, grace, SIGKILL. A proxied port (`handoff: proxy`) gets a private
 * port per slot, kept across restarts so the proxy's backend stays valid. With `handoff: fds`,
 * every incarnation gets a fresh private health socket: one a previous incarnation listened on
 * would accept connections for nobody.
 * Every incarnation is also an "instance" (containment.ts): its cgroup or marker reaches the
 * descendants that left the process group (setsid, double fork), so they stop with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Clock } from '../../core/clock.js';
import type { HomePaths } from '../../core/home.js';
import type { ProcessInfo, ProcessState, RunSpec } from '../types.js';
import { nextCrashCount, restartDelayMs, shouldRestart, type BackoffOptions, type ExitStatus } from './backoff.js';
import { outputKey } from './adoption.js';
import type { ChildEntry, ChildrenFile } from './children-file.js';
import {
  createInstanceCgroup,
  INSTANCE_VAR,
  joinCgroupScript,
  newInstanceId,
  reapInstance,
  signalInstance,
  type Containment,
} from './containment.js';
import { waitHealthy } from './health.js';
import { childEnv, planHealth, processLogPath, shellScript, startMarker } from './launch-plan.js';
import type { AcquiredPort } from './port-pool.js';
import type { HeldFds, NativeHandle } from './fd-holder.js';
import { ageOfStartMs, isLive, readProcStat, signalGroup } from '../../core/proc.js';
import type { LogFiles, ProcessLog } from './process-log.js';
import type { Backend } from './proxy-tcp.js';
import { bindPrivateTcp, freePrivatePort, listenFdsEnv, stdioFor, type HeldSocket } from './sockets.js';
import type { SlotStats } from './slot-stats.js';
import type { ProcessSlot } from './switch-plan.js';
import { MAX_TIMER_MS } from '../../manifest/duration.js';

/** What every process of one supervisor shares. */
export interface ProcessContext {
  home: HomePaths;
  clock: Clock;
  baseEnv: Record<string, string | undefined>;
  logs: LogFiles;
  children: ChildrenFile;
  backoff: BackoffOptions;
  /** Upper bound on a process's grace period (tests shorten it). */
  stopGraceCapMs: number;
  /** How descendants are kept track of (cgroup or environment marker). */
  containment: Containment;
  /** Descriptors copied to the fd holder, so a successor supervisor can adopt the processes. */
  fds?: HeldFds;
  /** Per-slot counters that outlive incarnations and releases (failed health tries). */
  slotStats?: SlotStats;
  log(line: string): void;
}

let procSeq = 0;

/** A process a killed predecessor started, taken over by pid, with its output pipes from the fd holder. */
export interface AdoptInput {
  entry: ChildEntry;
  stdout: NativeHandle | null;
  stderr: NativeHandle | null;
}

/**
 * Stands in for the ChildProcess of an adopted process: it is not our child, so there is no
 * exit event from the kernel; /proc is polled instead (pid and start time, so a reused pid is
 * not mistaken for it). The exit status of a non-child is not knowable.
 */
class AdoptedChild extends EventEmitter {
  private readonly timer: NodeJS.Timeout;
  constructor(
    readonly pid: number,
    startTime: number,
  ) {
    super();
    this.timer = setInterval(() => {
      const st = readProcStat(pid);
      if (isLive(st) && st.startTime === startTime) return;
      clearInterval(this.timer);
      this.emit('exit', null, null);
    }, 100);
    this.timer.unref();
  }
}

export class ManagedProcess {
  readonly name: string;
  /** Unique among the supervisor's processes: the proxies' backend id. */
  readonly id: string;
  /** Port name → private port on 127.0.0.1, for the proxied ports. */
  readonly privatePorts: Record<string, number> = {};
  private readonly sockets: HeldSocket[];
  private state: ProcessState = 'starting';
  private child: EventEmitter | null = null;
  /** The health port of an adopted process (its socket is the process's; we only connect to it). */
  private adoptedHealthPort: number | null = null;
  private outKeys: string[] = [];
  private pid: number | null = null;
  private startedAt = 0;
  private restarts = 0;
  private crashes = 0;
  private lastExit: ProcessInfo['lastExit'] = null;
  /** False while a switch gates this process: a crash then fails the switch instead of restarting. */
  private supervised = false;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private healthSocket: HeldSocket | null = null;
  private healthAbort: AbortController | null = null;
  private instance: string | null = null;
  private cgroup: string | null = null;
  private readonly exitWaiters: Array<() => void> = [];
  private readonly log: ProcessLog;

  constructor(
    readonly run: RunSpec,
    readonly slot: ProcessSlot,
    ports: AcquiredPort[],
    private readonly ctx: ProcessContext,
  ) {
    this.name = `${run.app} ${slot.type}.${slot.index} ${run.release}`;
    this.id = `${this.name}#${++procSeq}`;
    this.sockets = ports.flatMap((p) => (p.handoff === 'fds' ? [p.socket] : []));
    for (const p of ports) {
      if (p.handoff === 'proxy')
        this.privatePorts[p.spec.name] = freePrivatePort(p.spec.protocol === 'udp' ? 'udp' : 'tcp');
    }
    this.log = ctx.logs.acquire(processLogPath(ctx.home.logs, run.app, slot.type, slot.index));
  }

  /** Spawns the first incarnation. Restarts stay off until `supervise()`. */
  start(): void {
    this.spawnOnce();
  }

  /**
   * Takes over a running process instead of spawning one: same pid, no health wait (it passed
   * its gate under the predecessor). Restarts go by policy once `supervise()` is called.
   */
  adopt(a: AdoptInput): void {
    const { entry } = a;
    const child = new AdoptedChild(entry.pid, entry.startTime);
    this.child = child;
    this.pid = entry.pid;
    this.instance = entry.instance ?? null;
    this.cgroup = entry.cgroup ?? null;
    this.adoptedHealthPort = entry.healthPort ?? null;
    // The proxies' backends are the ports the adopted process really listens on.
    Object.assign(this.privatePorts, entry.privatePorts ?? {});
    // Its uptime (and the crash back-off's notion of a stable run) counts from its own start.
    this.startedAt = performance.now() - (ageOfStartMs(entry.startTime) ?? 0);
    this.state = 'healthy';
    this.ctx.children.add(entry);
    this.log.marker(
      `${this.slot.type}.${this.slot.index} ${this.run.release} pid ${entry.pid} adopted by supervisor pid ${process.pid}`,
    );
    this.pipeOutput(a.stdout, 'stdout');
    this.pipeOutput(a.stderr, 'stderr');
    child.once('exit', (code: number | null, signal: NodeJS.Signals | null) =>
      this.onExit(child, entry.pid, { code, signal }),
    );
  }

  private pipeOutput(handle: NativeHandle | null, stream: 'stdout' | 'stderr'): void {
    if (!handle || !this.instance) return;
    const key = outputKey(this.instance, stream);
    this.ctx.fds?.hold(key, {}, handle);
    this.outKeys.push(key);
    // `handle` is an undocumented but long-standing net.Socket option: wrap a native pipe handle.
    const sock = new net.Socket({ handle, readable: true, writable: false } as unknown as net.SocketConstructorOpts);
    sock.on('data', (d: Buffer) => this.log.write(d, stream));
    sock.on('error', () => {});
  }

  isAlive(): boolean {
    return this.child !== null;
  }

  /** This process as a backend of the proxy of its port `name` (null if that port is not proxied). */
  backend(name: string): Backend | null {
    const port = this.privatePorts[name];
    if (port === undefined) return null;
    return { id: this.id, port, available: () => this.child !== null && !this.stopping };
  }

  /** The current incarnation's instance id (null before the first spawn). */
  instanceId(): string | null {
    return this.instance;
  }

  /**
   * Waits for this incarnation to pass its health check. A crash ends the wait at once.
   * Pass `signal` to give up early (shutdown).
   */
  async waitHealthy(signal?: AbortSignal): Promise<{ ok: boolean; reason: string | null; elapsedMs: number }> {
    const child = this.child;
    const plan = planHealth(this.slot.spec.health, this.slot.spec.ports, this.privatePorts, this.sockets.length);
    const port =
      plan.target.kind === 'private'
        ? plan.target.port
        : plan.target.kind === 'health-socket'
          ? (this.healthSocket?.port ?? this.adoptedHealthPort)
          : null;
    const r = await waitHealthy(plan.spec, this.healthTarget(port), {
      isAlive: () => this.child === child && child !== null,
      signal,
      refusedReason: plan.refusedReason,
      onFailure: (reason) =>
        this.ctx.slotStats?.healthFailed(this.run.app, this.slot.type, this.slot.index, {
          at: this.ctx.clock.now().toISOString(),
          reason,
        }),
    });
    if (this.child === child && child !== null) this.state = r.ok ? 'healthy' : 'running';
    return r;
  }

  /** Hands the process to its restart policy (after a switch activates it, or on resume). */
  supervise(): void {
    if (this.supervised || this.stopping) return;
    this.supervised = true;
    if (this.child === null && this.lastExit && this.restartTimer === null) this.afterExit(this.lastExit);
    // Alive but not healthy (a resume whose gate timed out): keep checking, so ps turns healthy later.
    else if (this.child !== null && this.state !== 'healthy') void this.watchHealth();
  }

  /** The last lines of this slot's output, for a failed switch's record. */
  logTail(): string[] {
    return this.log.tail();
  }

  /** SIGTERM to the group, up to the grace period, then SIGKILL. Resolves once it has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.supervised = false;
    this.healthAbort?.abort();
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const instance = this.instance;
    const cgroup = this.cgroup;
    if (this.child && this.pid !== null) {
      const pgid = this.pid;
      this.state = 'stopping';
      const exited = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
      signalGroup(pgid, 'SIGTERM');
      // Descendants that left the group (setsid) get the same signal and the same grace.
      if (instance) signalInstance(instance, cgroup, 'SIGTERM', pgid);
      const grace = Math.min(this.slot.spec.graceMs, this.ctx.stopGraceCapMs);
      const killer = setTimeout(() => {
        this.log.marker(`${this.slot.type}.${this.slot.index} did not stop within ${grace} ms; sending SIGKILL`);
        signalGroup(pgid, 'SIGKILL');
        if (instance) signalInstance(instance, cgroup, 'SIGKILL');
      }, grace);
      await exited;
      clearTimeout(killer);
    }
    // The leader's exit SIGKILLed what it left behind; wait until those are gone too (they may hold the ports).
    if (instance) await this.reap(instance, cgroup);
    this.state = 'exited';
    this.closeHealthSocket();
    this.log.release();
  }

  info(): ProcessInfo {
    const running = this.child !== null;
    const stats = this.ctx.slotStats?.get(this.run.app, this.slot.type, this.slot.index);
    return {
      app: this.run.app,
      release: this.run.release,
      type: this.slot.type,
      index: this.slot.index,
      pid: running ? this.pid : null,
      state: this.state,
      restarts: this.restarts,
      uptimeMs: running ? Math.round(performance.now() - this.startedAt) : null,
      lastExit: this.lastExit,
      ...(stats
        ? {
            healthFailures: stats.healthFailures,
            ...(stats.lastHealthFailure ? { lastHealthFailure: stats.lastHealthFailure } : {}),
          }
        : {}),
    };
  }

  private healthTarget(port: number | null) {
    return { healthPort: port, cwd: this.run.dir, env: this.execEnv() };
  }

  private execEnv(): Record<string, string> {
    return childEnv({
      base: this.ctx.baseEnv,
      config: this.run.env,
      app: this.run.app,
      release: this.run.release,
      type: this.slot.type,
      index: this.slot.index,
      ports: this.slot.spec.ports,
      privatePorts: this.privatePorts,
      listenFds: {},
      homeRoot: this.ctx.home.root,
    });
  }

  private spawnOnce(): void {
    this.restartTimer = null;
    this.closeHealthSocket();
    this.adoptedHealthPort = null;
    const plan = planHealth(this.slot.spec.health, this.slot.spec.ports, this.privatePorts, this.sockets.length);
    let sockets = this.sockets;
    try {
      if (plan.target.kind === 'health-socket') {
        this.healthSocket = bindPrivateTcp('health');
        sockets = [...sockets, this.healthSocket];
      }
    } catch (e) {
      return this.failedSpawn(e);
    }
    const instance = newInstanceId(this.run.app, this.run.release, this.slot.type, this.slot.index);
    const cgroup = createInstanceCgroup(this.ctx.containment, instance);
    this.instance = instance;
    this.cgroup = cgroup;
    const env = { ...this.execEnv(), ...listenFdsEnv(sockets), [INSTANCE_VAR]: instance };
    const script = joinCgroupScript(cgroup) + shellScript(this.slot.spec.command).script;
    let child: ChildProcess;
    try {
      // detached: its own process group (setsid), so stop and orphan clean-up reach what it forks.
      child = spawn('/bin/sh', ['-c', script], {
        cwd: this.run.dir,
        env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe', ...stdioFor(sockets)],
      });
    } catch (e) {
      return this.failedSpawn(e);
    }
    if (child.pid === undefined) {
      child.once('error', (e) => this.failedSpawn(e));
      return;
    }
    const pid = child.pid;
    this.child = child;
    this.pid = pid;
    this.startedAt = performance.now();
    this.state = 'starting';
    // Recorded before anything else can happen, so a supervisor killed now leaves a findable orphan.
    this.ctx.children.add({
      app: this.run.app,
      release: this.run.release,
      type: this.slot.type,
      index: this.slot.index,
      pid,
      pgid: pid,
      startTime: readProcStat(pid)?.startTime ?? 0,
      graceMs: this.slot.spec.graceMs,
      privatePorts: this.privatePorts,
      instance,
      cgroup,
      healthPort: this.healthSocket?.port ?? null,
    });
    this.log.marker(
      startMarker({
        release: this.run.release,
        type: this.slot.type,
        index: this.slot.index,
        pid,
        restarts: this.restarts,
        at: this.ctx.clock.now(),
      }),
    );
    child.stdout?.on('data', (d: Buffer) => this.log.write(d, 'stdout'));
    child.stderr?.on('data', (d: Buffer) => this.log.write(d, 'stderr'));
    // A copy of each read end in the fd holder: a successor adopts this process with its output.
    for (const [stream, s] of [
      ['stdout', child.stdout],
      ['stderr', child.stderr],
    ] as const) {
      const handle = (s as unknown as { _handle?: unknown } | null)?._handle;
      if (!handle) continue;
      const key = outputKey(instance, stream);
      this.ctx.fds?.hold(key, {}, handle);
      this.outKeys.push(key);
    }
    child.on('error', () => {}); // kill() errors on a dead group; the exit event tells the rest
    child.once('exit', (code, signal) => this.onExit(child, pid, { code, signal }));
  }

  private failedSpawn(e: unknown): void {
    this.log.marker(
      `${this.slot.type}.${this.slot.index} could not be started: ${e instanceof Error ? e.message : String(e)}`,
    );
    this.closeHealthSocket();
    this.startedAt = performance.now();
    this.onExit(null, null, { code: 127, signal: null });
  }

  private onExit(child: EventEmitter | null, pid: number | null, exit: ExitStatus): void {
    if (child && this.child !== child) return;
    this.child = null;
    for (const key of this.outKeys.splice(0)) this.ctx.fds?.drop(key);
    if (pid !== null) {
      this.ctx.children.remove(pid);
      // The group outlives its leader if the app forked: those would keep the shared sockets.
      signalGroup(pid, 'SIGKILL');
    }
    // So do descendants that left the group; the next incarnation is a new instance.
    const instance = this.instance;
    const cgroup = this.cgroup;
    if (instance) {
      if (this.stopping) signalInstance(instance, cgroup, 'SIGKILL');
      // After the restart is scheduled: finding them may mean a scan of /proc, and they only
      // share the sockets with the next incarnation, they do not block it.
      else
        setImmediate(() => {
          signalInstance(instance, cgroup, 'SIGKILL');
          void this.reap(instance, cgroup);
        });
    }
    this.log.flush();
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
    this.log.marker(`${this.slot.type}.${this.slot.index} exited with ${how}`);
    this.lastExit = { code: exit.code, signal: exit.signal, at: this.ctx.clock.now().toISOString() };
    this.healthAbort?.abort();
    this.closeHealthSocket();
    if (this.stopping) {
      for (const w of this.exitWaiters.splice(0)) w();
      return;
    }
    this.state = exit.code === 0 && exit.signal === null ? 'exited' : 'failed';
    if (this.supervised) this.afterExit(exit);
  }

  private afterExit(exit: ExitStatus): void {
    if (!shouldRestart(this.slot.spec.restart, exit)) {
      this.ctx.log(
        `${this.name} exited (${exit.signal ?? `code ${exit.code}`}); restart policy ${this.slot.spec.restart}: not restarting`,
      );
      return;
    }
    this.crashes = nextCrashCount(this.crashes, performance.now() - this.startedAt, this.ctx.backoff);
    const delay = restartDelayMs(this.crashes, this.ctx.backoff);
    this.state = 'backoff';
    this.ctx.log(
      `${this.name} exited (${exit.signal ?? `code ${exit.code}`}); restarting in ${delay} ms (crash ${this.crashes} in a row)`,
    );
    this.restartTimer = setTimeout(() => {
      this.restarts++;
      this.spawnOnce();
      if (this.child) void this.watchHealth();
    }, delay);
  }

  // After a restart nothing waits on health, but ps should still tell healthy from merely
  // running. Repeats the wait (each bounded by the health timeout) until this incarnation ends.
  private async watchHealth(): Promise<void> {
    const child = this.child;
    const abort = new AbortController();
    this.healthAbort?.abort();
    this.healthAbort = abort;
    while (this.child === child && child !== null && !abort.signal.aborted) {
      if ((await this.waitHealthy(abort.signal)).ok) return;
      // A zero timeout would otherwise spin without ever yielding to the event loop.
      // Bounded like every timer: an image built before durations were checked may say 600h.
      await new Promise((r) => setTimeout(r, Math.min(MAX_TIMER_MS, Math.max(this.slot.spec.health.intervalMs, 100))));
    }
  }

  private async reap(instance: string, cgroup: string | null): Promise<void> {
    const killed = await reapInstance(instance, cgroup, 0);
    if (killed.length > 0)
      this.log.marker(
        `${this.slot.type}.${this.slot.index}: stopped ${killed.length} descendant(s) it left behind (pids ${killed.join(', ')})`,
      );
  }

  private closeHealthSocket(): void {
    this.healthSocket?.close();
    this.healthSocket = null;
  }
}
