/**
 * `GET /metrics`: brr's state in the Prometheus text format (docs/metrics.md lists every
 * metric). The apps and processes come from one app-layer read (app/metrics-snapshot.ts: the
 * ledger folded incrementally, one `ps` and one `status` from the supervisor); what only the
 * server measures (lease waits of writes made through it, its last ledger verification) comes
 * in `ServeStats`. This file only renders.
 */
import type { Context } from '../app/context.js';
import { readMetricsSnapshot, SWITCH_DURATION_BUCKETS_S, type MetricsSnapshot } from '../app/metrics-snapshot.js';
import { Exposition, type HistogramSeries, type Labels } from './prometheus-text.js';

export interface ServeStats {
  /** Writes made through the server that found the lease held; `buckets`: cumulative counts keyed by the bound in seconds (LEASE_WAIT_BUCKETS_S). */
  leaseWaits: { count: number; sumMs: number; buckets: Record<string, number> };
  /** The server's last ledger verification (null before the first). */
  verify: { ok: boolean | null; checkedAt: string | null };
}

export function newServeStats(): ServeStats {
  return { leaseWaits: { count: 0, sumMs: 0, buckets: {} }, verify: { ok: null, checkedAt: null } };
}

/** Upper bounds (seconds) of the lease-wait histogram. */
export const LEASE_WAIT_BUCKETS_S = [0.1, 0.5, 1, 5, 10, 30, 60];

/** Counts one write that found its app's lease held and got it after `ms`. */
export function recordLeaseWait(stats: ServeStats, ms: number): void {
  stats.leaseWaits.count++;
  stats.leaseWaits.sumMs += ms;
  for (const le of LEASE_WAIT_BUCKETS_S)
    if (ms / 1000 <= le) stats.leaseWaits.buckets[String(le)] = (stats.leaseWaits.buckets[String(le)] ?? 0) + 1;
}

/** Reads the state and renders every metric. */
export async function renderMetrics(ctx: Context, stats: ServeStats): Promise<string> {
  return renderSnapshot(await readMetricsSnapshot(ctx), stats);
}

/** Pure: the exposition text of a snapshot and the server's stats. */
export function renderSnapshot(snap: MetricsSnapshot, stats: ServeStats): string {
  const x = new Exposition();
  const apps = snap.apps;
  const byApp = (f: (a: MetricsSnapshot['apps'][number]) => number | null): Array<[Labels, number]> =>
    apps.flatMap((a) => {
      const v = f(a);
      return v === null ? [] : [[{ app: a.app }, v] as [Labels, number]];
    });

  x.gauge(
    'brr_app_release',
    'The release that serves now (1 per app, labelled with its id); absent while nothing runs.',
    apps.flatMap((a) =>
      a.current ? [[{ app: a.app, release: a.current, target: a.target }, 1] as [Labels, number]] : [],
    ),
  );
  x.gauge(
    'brr_app_release_number',
    'N of the current release vN.',
    byApp((a) => a.currentNumber),
  );
  x.gauge(
    'brr_app_releases',
    'Releases appended to the app so far (the newest release number).',
    byApp((a) => a.releases),
  );
  x.gauge(
    'brr_app_in_sync',
    "Local apps: 1 when the supervisor runs the ledger's current release, every process up and healthy (as brr status); 0 on drift.",
    byApp((a) => (a.inSync === null ? null : a.inSync ? 1 : 0)),
  );

  const outcomes: Array<[string, keyof MetricsSnapshot['apps'][number]['switches']]> = [
    ['activated', 'activated'],
    ['failed', 'failed'],
    ['rolled-back', 'rolledBack'],
  ];
  x.counter(
    'brr_switches_total',
    'Run-stage outcomes recorded in the ledger, by outcome: activated, failed, rolled-back.',
    apps.flatMap((a) => outcomes.map(([o, k]) => [{ app: a.app, outcome: o }, a.switches[k]] as [Labels, number])),
  );
  x.histogram(
    'brr_switch_duration_seconds',
    'Duration of switches that activated a release (from the request until the new release served and the old one drained).',
    apps.map((a): HistogramSeries => {
      let cum = 0;
      return {
        labels: { app: a.app },
        buckets: SWITCH_DURATION_BUCKETS_S.map((le, i) => [le, (cum += a.switchDurations.buckets[i] ?? 0)]),
        sum: a.switchDurations.sumMs / 1000,
        count: a.switchDurations.count,
      };
    }),
  );
  x.gauge(
    'brr_lease_held',
    'A deploy lease on the app is held now (1) or not (0).',
    byApp((a) => (a.leaseHeld ? 1 : 0)),
  );
  x.counter(
    'brr_lease_takeovers_total',
    'Deploy leases taken over from a holder that was gone (lease-taken-over events).',
    byApp((a) => a.leaseTakeovers),
  );

  const procs = snap.supervisor.processes;
  x.gauge('brr_supervisor_up', 'The local supervisor of this home answers (1) or not (0).', [
    [{}, snap.supervisor.up ? 1 : 0],
  ]);
  const procLabels = (p: (typeof procs)[number]): Labels => ({
    app: p.app,
    release: p.release,
    type: p.type,
    index: String(p.index),
  });
  x.gauge(
    'brr_process_up',
    'A process of the local supervisor runs (1) or not (0: exited, backing off); one series per release during a switch.',
    procs.map((p) => [procLabels(p), p.pid !== null ? 1 : 0]),
  );
  x.counter(
    'brr_process_restarts_total',
    'Restarts of a process slot of one release since the supervisor started it (a new release starts a new series).',
    procs.map((p) => [procLabels(p), p.restarts]),
  );
  // Counted per slot over releases: during a switch two rows share a slot and the same count.
  const slots = new Map<string, [Labels, number]>();
  for (const p of procs) {
    const key = `${p.app}\0${p.type}\0${p.index}`;
    const n = p.healthFailures ?? 0;
    if ((slots.get(key)?.[1] ?? -1) < n) slots.set(key, [{ app: p.app, type: p.type, index: String(p.index) }, n]);
  }
  x.counter(
    'brr_health_check_failures_total',
    'Failed health tries of a process slot since the supervisor started, over every incarnation and release (a refused connection while starting is not one).',
    [...slots.values()],
  );

  const lw = stats.leaseWaits;
  const bounds = [
    ...new Set([...LEASE_WAIT_BUCKETS_S, ...Object.keys(lw.buckets).map(Number).filter(Number.isFinite)]),
  ].sort((a, b) => a - b);
  x.histogram('brr_lease_wait_seconds', 'Time writes made through the console waited for a held deploy lease.', [
    {
      labels: {},
      buckets: bounds.map((le) => [le, lw.buckets[String(le)] ?? 0]),
      sum: lw.sumMs / 1000,
      count: lw.count,
    },
  ]);
  x.gauge(
    'brr_ledger_verify_ok',
    "The server's last ledger verification passed (1) or found problems (0); absent before the first.",
    stats.verify.ok === null ? [] : [[{}, stats.verify.ok ? 1 : 0]],
  );
  x.gauge(
    'brr_ledger_verify_timestamp_seconds',
    'When the server last verified the ledger (Unix time); absent before the first.',
    stats.verify.checkedAt === null ? [] : [[{}, Date.parse(stats.verify.checkedAt) / 1000]],
  );
  return x.text();
}
