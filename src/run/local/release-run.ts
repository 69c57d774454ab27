/**
 * The processes of one release of one app, started together, health-gated together and
 * stopped together. Its declared ports are claimed in the port pool under an owner name of its
 * own, so an old and a new run of the same app share ports and each lets go independently.
 * For proxied ports it is the run that becomes the proxies' backends (`activate`) and that
 * waits for its connections and flows to end before its processes stop (`stop({ drain })`).
 */
import type { ProcessInfo, RunSpec } from '../types.js';
import { ManagedProcess, type AdoptInput, type ProcessContext } from './managed-process.js';
import type { AcquiredPort, PortPool } from './port-pool.js';
import type { PortProxy } from './proxy-port.js';
import type { Backend } from './proxy-tcp.js';
import type { ProcessSlot } from './switch-plan.js';

export type HealthOutcome =
  { ok: true; elapsedMs: number } | { ok: false; reason: string; failing: ManagedProcess | null };

let runSeq = 0;

export class ReleaseRun {
  private readonly procs: ManagedProcess[] = [];
  private readonly owner: string;
  private stopped: Promise<void> | null = null;
  /** Every proxied port of this run, with the processes behind it. */
  private readonly proxied = new Map<string, { proxy: PortProxy; backends: Backend[] }>();

  /**
   * Claims the ports and spawns every process. Throws (BrrError `port_in_use`, …) before
   * spawning anything when a port cannot be held. With `adopt` (keyed `type.index`), the
   * processes of a killed predecessor are taken over instead of spawned.
   */
  constructor(
    readonly spec: RunSpec,
    slots: ProcessSlot[],
    private readonly pool: PortPool,
    private readonly ctx: ProcessContext,
    adopt?: Map<string, AdoptInput>,
  ) {
    this.owner = `${spec.app}@${spec.release}#${++runSeq}`;
    const socketsByType = new Map<string, AcquiredPort[]>();
    try {
      for (const slot of slots) {
        if (!socketsByType.has(slot.type))
          socketsByType.set(slot.type, pool.acquire(spec.app, this.owner, slot.spec.ports));
      }
      for (const slot of slots)
        this.procs.push(new ManagedProcess(spec, slot, socketsByType.get(slot.type) ?? [], ctx));
    } catch (e) {
      for (const p of this.procs) void p.stop();
      pool.releaseOwner(this.owner);
      throw e;
    }
    for (const p of this.procs) {
      const a = adopt?.get(`${p.slot.type}.${p.slot.index}`);
      if (a) p.adopt(a);
      else p.start();
    }
    // After adopt(): an adopted process's backends are the private ports it really listens on.
    for (const proc of this.procs) {
      for (const p of socketsByType.get(proc.slot.type) ?? []) {
        if (p.handoff !== 'proxy') continue;
        const entry = this.proxied.get(p.key) ?? { proxy: p.proxy, backends: [] };
        const b = proc.backend(p.spec.name);
        if (b) entry.backends.push(b);
        this.proxied.set(p.key, entry);
      }
    }
  }

  get release(): string {
    return this.spec.release;
  }

  /** Resolves once every proxied public port receives; rejects with the bind error if one cannot. */
  async ready(): Promise<void> {
    await Promise.all([...this.proxied.values()].map((e) => e.proxy.ready));
  }

  /** New connections and flows on this run's proxied ports go to its processes from now on. */
  activate(): void {
    for (const e of this.proxied.values()) e.proxy.setBackends(e.backends);
  }

  /** Private ports of every process (for status, tests and an adopting supervisor). */
  privatePorts(): Array<{ type: string; index: number; ports: Record<string, number> }> {
    return this.procs.map((p) => ({ type: p.slot.type, index: p.slot.index, ports: { ...p.privatePorts } }));
  }

  /**
   * Waits until every process is healthy. Fails as soon as one fails (crash, timeout), since
   * the switch is lost then and waiting for the others only delays the answer.
   */
  async waitHealthy(signal?: AbortSignal): Promise<HealthOutcome> {
    const started = Date.now();
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const failure = await new Promise<HealthOutcome | null>((resolve) => {
        let left = this.procs.length;
        if (left === 0) resolve(null);
        for (const p of this.procs) {
          void p.waitHealthy(abort.signal).then((r) => {
            if (!r.ok) {
              abort.abort();
              resolve({
                ok: false,
                reason: `${p.slot.type}.${p.slot.index}: ${r.reason ?? 'not healthy'}`,
                failing: p,
              });
            } else if (--left === 0) {
              resolve(null);
            }
          });
        }
      });
      if (failure)
        return signal?.aborted
          ? { ok: false, reason: 'interrupted: the supervisor is shutting down', failing: null }
          : failure;
      return { ok: true, elapsedMs: Date.now() - started };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Turns on every process's restart policy. */
  supervise(): void {
    for (const p of this.procs) p.supervise();
  }

  /**
   * Stops every process (each with its own grace, in parallel), then lets go of the ports. With
   * `drain` (an old release after a switch), each process first keeps the connections and UDP
   * flows the proxies gave it until they end or its grace runs out; the proxies must already
   * send new ones elsewhere (`activate` of the next run).
   */
  stop(opts: { drain?: boolean } = {}): Promise<void> {
    this.stopped ??= Promise.all(
      this.procs.map(async (p) => {
        if (opts.drain) {
          const grace = Math.min(p.slot.spec.graceMs, this.ctx.stopGraceCapMs);
          await Promise.all([...this.proxied.values()].map((e) => e.proxy.drain(p.id, grace)));
        }
        await p.stop();
      }),
    ).then(() => this.pool.releaseOwner(this.owner));
    return this.stopped;
  }

  info(): ProcessInfo[] {
    return this.procs.map((p) => p.info());
  }

  /** Instance ids of the processes' current incarnations. */
  instances(): string[] {
    return this.procs.map((p) => p.instanceId()).filter((id): id is string => id !== null);
  }

  get size(): number {
    return this.procs.length;
  }

  /** Longest health timeout among the processes (for progress messages). */
  healthTimeoutMs(): number {
    return Math.max(0, ...this.procs.map((p) => p.slot.spec.health.timeoutMs));
  }
}
