/**
 * Durations as users write them (`500ms`, `30s`, `2m`, `1h`, bare seconds), in brr.yaml, flags
 * and environment variables alike. Every duration ends up in a Node timer, and a timer holds at
 * most 2^31-1 ms (about 24.8 days): a longer delay is silently replaced by 1 ms, which would turn
 * `grace: 600h` into an instant SIGKILL. So the bound is checked here, once, where the user's
 * words are still at hand to name in the error.
 */
import { invalidInput, type BrrError } from '../core/errors.js';

/** The longest delay a Node timer can hold (ms); `setTimeout` fires at once for anything longer. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** MAX_TIMER_MS in the units users write: whole hours, rounded down (596h). */
export const MAX_DURATION_TEXT = `${Math.floor(MAX_TIMER_MS / 3_600_000)}h`;

/** Parses `500ms`, `30s`, `2m`, `1h` or a bare number of seconds into milliseconds; null if malformed. */
export function parseDuration(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : null;
  if (typeof v !== 'string') return null;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  const ms = Math.round(n * factor);
  return Number.isFinite(ms) ? ms : null;
}

/** Why `ms` cannot be waited for by a timer, or null when it can. */
export function durationTooLong(ms: number): string | null {
  return ms > MAX_TIMER_MS ? `is longer than the ${MAX_DURATION_TEXT} (about 24.8 days) brr can wait` : null;
}

/**
 * Parses a duration given as a flag or an environment variable, naming `key` (`--wait`,
 * `BRR_LEASE_TTL`) in the error: exit 2, code `duration_invalid`. `minMs` is the smallest
 * accepted value (default 0).
 */
export function parseDurationInput(key: string, raw: string, opts: { minMs?: number; example: string }): number {
  const ms = parseDuration(raw);
  const fail = (why: string): BrrError =>
    invalidInput('duration_invalid', `${key}: "${raw}" ${why}`, `e.g. ${opts.example}`, { key, value: raw });
  if (ms === null) throw fail('is not a duration such as 500ms, 30s, 5m or 1h');
  const tooLong = durationTooLong(ms);
  if (tooLong) throw fail(tooLong);
  const min = opts.minMs ?? 0;
  if (ms < min) throw fail(`is too short: it must be at least ${min}ms`);
  return ms;
}
