/**
 * The processes of one release of one app, started together, health-gated together and
 * stopped together. Its declared ports are claimed in the port pool under an owner name of its
 * own, so an old and a new run of the same app share sockets and each lets go independently.
 */
import type { ProcessInfo, RunSpec } from '../types.js';
import { ManagedProcess, type AdoptInput, type ProcessContext } from './managed-process.js';
import type { PortPool } from './port-pool.js';
import type { ProcessSlot } from './switch-plan.js';

export type HealthOutcome =
  { ok: true; elapsedMs: number } | { ok: false; reason: string; failing: ManagedProcess | null };

let runSeq = 0;

export class ReleaseRun {
  private readonly procs: ManagedProcess[] = [];
  private readonly owner: string;
  private stopped: Promise<void> | null = null;

  /**
   * Claims the ports and spawns every process. Throws (BrrError `port_in_use`, …) before
   * spawning anything when a port cannot be held. With `adopt` (keyed `type.index`), the
   * processes of a killed predecessor are taken over instead of spawned.
   */
  constructor(
    readonly spec: RunSpec,
    slots: ProcessSlot[],
    private readonly pool: PortPool,
    ctx: ProcessContext,
    adopt?: Map<string, AdoptInput>,
  ) {
    this.owner = `${spec.app}@${spec.release}#${++runSeq}`;
    const socketsByType = new Map<string, ReturnType<PortPool['acquire']>>();
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
  }

  get release(): string {
    return this.spec.release;
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

  /** Stops every process (each with its own grace, in parallel), then lets go of the ports. */
  stop(): Promise<void> {
    this.stopped ??= Promise.all(this.procs.map((p) => p.stop())).then(() => this.pool.releaseOwner(this.owner));
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
