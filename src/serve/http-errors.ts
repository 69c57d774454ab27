/**
 * How a brr error becomes an HTTP answer: `{ error: { code, message, hint } }` with a status
 * decided by the error's code (never by its message). Anything that is not a BrrError is a bug:
 * 500 `internal`, with a fixed message, so no stack, path or foreign error text leaks.
 */
import { BrrError, isBrrError, type ErrorCode } from '../core/errors.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  unauthorized: 401,
  forbidden: 403,
  csrf_failed: 403,
  route_not_found: 404,
  method_not_allowed: 405,
  request_body_too_large: 413,
  rate_limited: 429,
  internal: 500,
  app_unknown: 404,
  no_release: 404,
  no_build: 404,
  build_collected: 409,
  lease_held: 409,
  lease_lost: 409,
  lease_fenced: 409,
  ledger_conflict: 409,
  ledger_busy: 503,
  ledger_behind_witness: 409,
  switch_in_progress: 409,
  supervisor_stopping: 503,
  supervisor_unreachable: 503,
  ledger_unreachable: 503,
  token_exists: 409,
  rollback_target_is_current: 409,
  nothing_to_roll_back: 409,
  release_untrusted: 409,
  store_locked: 409,
};

/** The HTTP status of a brr error code: the table, then `*_not_found` → 404, invalid input (exit 2) → 400, else 500. */
export function httpStatusOf(e: BrrError): number {
  const fixed = STATUS[e.code];
  if (fixed !== undefined) return fixed;
  if (e.code.endsWith('_not_found')) return 404;
  if (e.exitCode === 2) return 400;
  return 500;
}

export interface ErrorAnswer {
  status: number;
  body: { error: { code: string; message: string; hint: string | null } };
}

/** The answer for a thrown value. */
export function errorAnswer(e: unknown): ErrorAnswer {
  if (!isBrrError(e))
    return {
      status: 500,
      body: {
        error: {
          code: 'internal',
          message: 'the server failed unexpectedly (a bug in brr)',
          hint: "see the server's log; report it with what you did",
        },
      },
    };
  return { status: httpStatusOf(e), body: { error: { code: e.code, message: e.message, hint: e.hint ?? null } } };
}
