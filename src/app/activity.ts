/**
 * The live activity of every app, for the console's event stream (`GET /api/events`): new
 * releases and ledger events, deploy leases taken and given back, process restarts and failed
 * health checks. Nothing pushes these (the CLI, the supervisor and other servers write the ledger
 * from their own processes), so one watcher polls: the ledger from the last seen seq of each
 * chain (readEntries: only the new rows), each app's lease row, and the supervisor's `ps`.
 *
 * One timer serves every subscriber and runs only while someone listens. The first poll after
 * it starts only sets the baseline (what exists then is history, not activity). Activities get
 * a server-local increasing `seq`; the last ones are kept so a client reconnecting with
 * `Last-Event-ID` gets what it missed (if the watcher kept running meanwhile).
 */
import type { Context } from './context.js';
import { listProcesses, type ProcessInfo } from './processes.js';

export type ActivityKind = 'release' | 'lease' | 'restart' | 'health-failure' | string;

export interface Activity {
  seq: number;
  at: string;
  app: string;
  kind: ActivityKind;
  release: string | null;
  detail: Record<string, unknown>;
}

export type ActivityListener = (a: Activity) => void;

interface AppCursor {
  releaseSeq: number;
  eventSeq: number;
  leaseToken: number | null;
}

const KEEP = 1000;

/** Event details as the stream shows them: staged config names its keys only (values may be sealed secrets). */
function publicDetail(type: string, detail: Record<string, unknown>): Record<string, unknown> {
  if (type !== 'config-staged') return detail;
  const set = detail.set && typeof detail.set === 'object' ? Object.keys(detail.set).sort() : [];
  const unset = Array.isArray(detail.unset) ? detail.unset.filter((k) => typeof k === 'string') : [];
  return { set, unset };
}

export class ActivityWatcher {
  private readonly listeners = new Set<ActivityListener>();
  private readonly recent: Activity[] = [];
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  private baseline = false;
  private polling: Promise<void> | null = null;
  private readonly apps = new Map<string, AppCursor>();
  private restarts = new Map<string, number>();
  private health = new Map<string, number>();

  constructor(
    private readonly ctx: Context,
    private readonly opts: {
      intervalMs?: number;
      onError?: (e: unknown) => void;
      /** The supervisor's `ps` (default: asked over its control socket; null when it does not run). */
      ps?: () => Promise<ProcessInfo[] | null>;
    } = {},
  ) {}

  /** Starts delivering activities to `fn` (and the activities after `lastSeq`, when still kept); returns the unsubscribe. */
  subscribe(fn: ActivityListener, lastSeq?: number): () => void {
    if (lastSeq !== undefined) for (const a of this.recent) if (a.seq > lastSeq) fn(a);
    this.listeners.add(fn);
    if (!this.timer) {
      this.baseline = false;
      this.timer = setInterval(() => void this.poll(), this.opts.intervalMs ?? 500);
      void this.poll();
    }
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** Resolves once the watcher has its baseline: whatever happens after that is reported. */
  async ready(): Promise<void> {
    if (!this.baseline) await this.poll();
  }

  /** Stops polling (the next subscriber starts a new baseline). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get listening(): number {
    return this.listeners.size;
  }

  private emit(app: string, kind: string, release: string | null, detail: Record<string, unknown>, at?: string): void {
    if (!this.baseline) return;
    const a: Activity = { seq: ++this.seq, at: at ?? this.ctx.clock.now().toISOString(), app, kind, release, detail };
    this.recent.push(a);
    if (this.recent.length > KEEP) this.recent.shift();
    for (const l of this.listeners) l(a);
  }

  /** One poll: ledger chains, leases, processes. A tick while one runs waits for that one instead. */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => {
      this.polling = null;
    });
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    try {
      const { ledger } = this.ctx;
      for (const app of await ledger.listApps()) {
        const cur = this.apps.get(app) ?? { releaseSeq: 0, eventSeq: 0, leaseToken: null };
        this.apps.set(app, cur);
        for (;;) {
          const rows = await ledger.readEntries(app, 'release', cur.releaseSeq, 200);
          for (const r of rows) {
            cur.releaseSeq = r.seq;
            if (r.kind !== 'release') continue;
            const body = JSON.parse(r.body) as { cause?: string; actor?: string; createdAt?: string };
            this.emit(app, 'release', r.id, { cause: body.cause ?? null, actor: body.actor ?? null }, body.createdAt);
          }
          if (rows.length < 200) break;
        }
        for (;;) {
          const rows = await ledger.readEntries(app, 'event', cur.eventSeq, 200);
          for (const r of rows) {
            cur.eventSeq = r.seq;
            if (r.kind !== 'event') continue;
            const body = JSON.parse(r.body) as { detail?: Record<string, unknown>; actor?: string; createdAt?: string };
            this.emit(
              app,
              r.type,
              r.release,
              { ...publicDetail(r.type, body.detail ?? {}), actor: body.actor ?? null },
              body.createdAt,
            );
          }
          if (rows.length < 200) break;
        }
        const lease = await ledger.getLease(app);
        const held =
          lease && lease.owner && Date.parse(lease.expiresAt) > this.ctx.clock.now().getTime() ? lease : null;
        const token = held ? held.token : null;
        if (token !== cur.leaseToken) {
          this.emit(app, 'lease', null, { holder: held ? held.owner : null });
          cur.leaseToken = token;
        }
      }
      await this.pollProcesses();
      this.baseline = true;
    } catch (e) {
      this.opts.onError?.(e);
    }
  }

  /**
   * Restarts count per process incarnation (a release's process of a slot); failed health tries
   * per slot (app, type, index) across releases, as the supervisor keeps them, so a switch that
   * lists the old and the new release of a slot does not count its failures twice.
   */
  private async pollProcesses(): Promise<void> {
    let rows: ProcessInfo[] | null = null;
    try {
      rows = await (this.opts.ps ? this.opts.ps() : listProcesses(this.ctx.paths));
    } catch {
      rows = null;
    }
    type Row = ProcessInfo & { healthFailures?: number; lastHealthFailure?: { reason?: string } };
    const restarts = new Map<string, number>();
    const slots = new Map<string, Row>();
    for (const p of (rows ?? []) as Row[]) {
      const proc = `${p.app}\u0000${p.release}\u0000${p.type}\u0000${p.index}`;
      const before = this.restarts.get(proc);
      if (before !== undefined && p.restarts > before)
        this.emit(p.app, 'restart', p.release, { type: p.type, index: p.index, pid: p.pid, restarts: p.restarts });
      restarts.set(proc, p.restarts);
      const slot = `${p.app}\u0000${p.type}\u0000${p.index}`;
      const seen = slots.get(slot);
      if (!seen || (p.healthFailures ?? 0) > (seen.healthFailures ?? 0)) slots.set(slot, p);
    }
    const health = new Map<string, number>();
    for (const [slot, p] of slots) {
      const n = p.healthFailures ?? 0;
      const before = this.health.get(slot) ?? (this.baseline ? 0 : n);
      if (n > before)
        this.emit(p.app, 'health-failure', p.release, {
          type: p.type,
          index: p.index,
          reason: p.lastHealthFailure?.reason ?? null,
        });
      health.set(slot, n);
    }
    this.restarts = restarts;
    this.health = health;
  }
}
