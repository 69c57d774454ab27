/**
 * What `GET /metrics` reports about the apps, read cheaply enough to be scraped every few
 * seconds: per app, the event log is folded incrementally (a cache per ledger and app holds the
 * folded counters and the last event seq read, so a scrape reads only the events appended
 * since the last one, through `readEntries`), plus one row each for the newest release, the
 * current release's hash and the deploy lease; and one `ps` and one `status` from the local
 * supervisor, if it runs (it is never started for a scrape). serve/metrics.ts renders it.
 */
import type { EventBody, LedgerEvent } from '../core/types.js';
import type { Ledger } from '../ledger/ledger.js';
import { connectSupervisor } from '../run/local/client.js';
import type { ProcessInfo } from '../run/types.js';
import { currentTarget } from './app-target.js';
import type { Context } from './context.js';
import { readChainAfter } from './ledger-follow.js';
import { compareStatus, type RunningApp } from './status.js';

/** Upper bounds (seconds) of the switch duration histogram. */
export const SWITCH_DURATION_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export interface DurationHistogram {
  /** Observations per bucket of SWITCH_DURATION_BUCKETS_S (not cumulative); beyond the last: only in count. */
  buckets: number[];
  sumMs: number;
  count: number;
}

export interface AppMetrics {
  app: string;
  target: 'local' | 'kubernetes';
  /** The release that serves now (`vN`), or null. */
  current: string | null;
  /** N of the current `vN`. */
  currentNumber: number | null;
  /** Releases appended so far (the newest release's seq). */
  releases: number;
  /** Local apps: the ledger's current release runs, healthy, in the supervisor (as `brr status`); null for Kubernetes apps. */
  inSync: boolean | null;
  /** Run-stage outcomes recorded in the ledger. */
  switches: { activated: number; failed: number; rolledBack: number };
  /** `activated` events' durationMs (from the request to the new release serving, old one drained). */
  switchDurations: DurationHistogram;
  leaseTakeovers: number;
  /** A deploy lease is held now (unexpired). */
  leaseHeld: boolean;
}

export interface MetricsSnapshot {
  apps: AppMetrics[];
  supervisor: { up: boolean; processes: ProcessInfo[] };
}

/** The fold of one app's events so far. */
interface AppFold {
  lastEventSeq: number;
  current: string | null;
  lastTargetSet: EventBody | null;
  switches: AppMetrics['switches'];
  switchDurations: DurationHistogram;
  leaseTakeovers: number;
  /** The current release's hash, read once per current release. */
  hash: { id: string; hash: string | null } | null;
}

const folds = new WeakMap<object, Map<string, AppFold>>();

function emptyFold(): AppFold {
  return {
    lastEventSeq: 0,
    current: null,
    lastTargetSet: null,
    switches: { activated: 0, failed: 0, rolledBack: 0 },
    switchDurations: { buckets: SWITCH_DURATION_BUCKETS_S.map(() => 0), sumMs: 0, count: 0 },
    leaseTakeovers: 0,
    hash: null,
  };
}

/** Pure: one event into the fold (mutates it). */
export function foldMetricsEvent(f: AppFold, e: EventBody): void {
  f.lastEventSeq = e.seq;
  switch (e.type) {
    case 'activated': {
      f.current = e.release;
      f.switches.activated++;
      const ms = e.detail.durationMs;
      if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) {
        const i = SWITCH_DURATION_BUCKETS_S.findIndex((le) => ms / 1000 <= le);
        if (i >= 0) f.switchDurations.buckets[i]!++;
        f.switchDurations.sumMs += ms;
        f.switchDurations.count++;
      }
      break;
    }
    case 'rolled-back':
      f.current = e.release;
      f.switches.rolledBack++;
      break;
    case 'failed':
      f.switches.failed++;
      break;
    case 'stopped':
      f.current = null;
      break;
    case 'lease-taken-over':
      f.leaseTakeovers++;
      break;
    case 'target-set':
      f.lastTargetSet = e;
      break;
    default:
      break;
  }
}

async function foldApp(ledger: Ledger, cache: Map<string, AppFold>, app: string): Promise<AppFold> {
  const f = cache.get(app) ?? emptyFold();
  cache.set(app, f);
  for (;;) {
    const page = await readChainAfter(ledger, app, 'event', f.lastEventSeq, 1000);
    for (const entry of page) if (entry.kind === 'event') foldMetricsEvent(f, entry.body);
    if (page.length < 1000) break;
  }
  return f;
}

/** Reads what the metrics report; never starts the supervisor. */
export async function readMetricsSnapshot(ctx: Context): Promise<MetricsSnapshot> {
  let cache = folds.get(ctx.ledger);
  if (!cache) folds.set(ctx.ledger, (cache = new Map()));
  let processes: ProcessInfo[] = [];
  let running: RunningApp[] = [];
  const client = await connectSupervisor(ctx.paths);
  if (client) {
    try {
      processes = await client.request<ProcessInfo[]>('ps', {});
      running = await client.request<RunningApp[]>('status', {});
    } finally {
      client.close();
    }
  }
  const now = ctx.clock.now().getTime();
  const apps: AppMetrics[] = [];
  for (const app of await ctx.ledger.listApps()) {
    const f = await foldApp(ctx.ledger, cache, app);
    const target = f.lastTargetSet ? currentTarget([f.lastTargetSet as LedgerEvent]).target : 'local';
    if (f.current && f.hash?.id !== f.current)
      f.hash = { id: f.current, hash: (await ctx.ledger.getRelease(app, f.current))?.hash ?? null };
    const latest = await ctx.ledger.latestRelease(app);
    const lease = await ctx.ledger.getLease(app);
    const inSync =
      target === 'local'
        ? compareStatus(
            app,
            f.current,
            f.current ? (f.hash?.hash ?? null) : null,
            running.find((r) => r.app === app),
            client !== null,
          ).inSync
        : null;
    const m = f.current ? /^v(\d+)$/.exec(f.current) : null;
    apps.push({
      app,
      target,
      current: f.current,
      currentNumber: m ? Number(m[1]) : null,
      releases: latest?.seq ?? 0,
      inSync,
      switches: { ...f.switches },
      switchDurations: { ...f.switchDurations, buckets: [...f.switchDurations.buckets] },
      leaseTakeovers: f.leaseTakeovers,
      leaseHeld: lease !== null && Date.parse(lease.expiresAt) > now,
    });
  }
  return { apps, supervisor: { up: client !== null, processes } };
}
