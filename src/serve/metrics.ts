/**
 * `GET /metrics` in the Prometheus text format. A minimal stand-in owned by the metrics helper
 * (issue 12): this version renders only what the server itself measures (lease waits and the
 * last ledger verification); the metrics branch replaces the file with the full set, keeping
 * this signature.
 */
import type { Context } from '../app/context.js';

export interface ServeStats {
  leaseWaits: { count: number; sumMs: number; buckets: Record<string, number> };
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

export async function renderMetrics(_ctx: Context, stats: ServeStats): Promise<string> {
  const lines = [
    '# HELP brr_lease_wait_seconds Time writes made through the console waited for a held deploy lease.',
    '# TYPE brr_lease_wait_seconds histogram',
  ];
  for (const le of LEASE_WAIT_BUCKETS_S)
    lines.push(`brr_lease_wait_seconds_bucket{le="${le}"} ${stats.leaseWaits.buckets[String(le)] ?? 0}`);
  lines.push(`brr_lease_wait_seconds_bucket{le="+Inf"} ${stats.leaseWaits.count}`);
  lines.push(`brr_lease_wait_seconds_sum ${stats.leaseWaits.sumMs / 1000}`);
  lines.push(`brr_lease_wait_seconds_count ${stats.leaseWaits.count}`);
  lines.push(
    '# HELP brr_ledger_verify_ok Whether the last ledger verification passed (1), failed (0); absent before the first.',
  );
  lines.push('# TYPE brr_ledger_verify_ok gauge');
  if (stats.verify.ok !== null) lines.push(`brr_ledger_verify_ok ${stats.verify.ok ? 1 : 0}`);
  return `${lines.join('\n')}\n`;
}
