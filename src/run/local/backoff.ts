/**
 * Restart decisions for crashed processes, as pure functions so the policy is table-tested.
 * Modelled on Kubernetes' CrashLoopBackOff: the first restart is immediate (a one-off crash
 * should cost as little downtime as possible), then the delay doubles from `baseMs` up to
 * `capMs`, and a process that stayed up for `stableMs` is forgiven its earlier crashes.
 */
import type { RestartPolicy } from '../../core/types.js';

export interface BackoffOptions {
  /** Delay before the second restart in a row; doubles after that. */
  baseMs: number;
  /** Longest delay between restarts. */
  capMs: number;
  /** Uptime after which the crash count is reset. */
  stableMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 200, capMs: 5 * 60_000, stableMs: 10_000 };

/** How a process ended, as Node's `exit` event reports it. */
export interface ExitStatus {
  code: number | null;
  signal: string | null;
}

/**
 * Whether a process that ended on its own (not stopped by the supervisor) is started again.
 * Death by a signal counts as a failure: the process did not choose to end.
 */
export function shouldRestart(policy: RestartPolicy, exit: ExitStatus): boolean {
  if (policy === 'always') return true;
  if (policy === 'never') return false;
  return exit.signal !== null || exit.code !== 0;
}

/**
 * Crashes in a row after this exit: reset to 1 when the process had been up for `stableMs`,
 * otherwise one more than before.
 */
export function nextCrashCount(previous: number, uptimeMs: number, opts: BackoffOptions): number {
  return uptimeMs >= opts.stableMs ? 1 : previous + 1;
}

/**
 * Delay before restarting after the `crashes`-th crash in a row (1-based): 0, base, 2·base,
 * 4·base, … capped at `capMs`.
 */
export function restartDelayMs(crashes: number, opts: Pick<BackoffOptions, 'baseMs' | 'capMs'>): number {
  if (crashes <= 1) return 0;
  // Past 2^40 the product is far beyond any cap; clamping the exponent avoids Infinity.
  const exp = Math.min(crashes - 2, 40);
  return Math.min(opts.capMs, opts.baseMs * 2 ** exp);
}
