import { ERROR_CODES, type ErrorCode } from './error-codes.js';

export type { ErrorCode } from './error-codes.js';

/**
 * The one error family brr throws on purpose. `code` is stable (scripts may branch on it) and
 * comes from the catalog in `error-codes.ts`, so an uncatalogued code does not compile;
 * `exitCode` follows the CLI convention (1 failure, 2 usage/invalid input), and `hint` tells
 * the user the next step. Never branch on `message`.
 */
export class BrrError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  /** `opts.exitCode` defaults to the catalog's exit code for `code`. */
  constructor(
    code: ErrorCode,
    message: string,
    opts: { hint?: string; exitCode?: number; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BrrError';
    this.code = code;
    // The lookup may miss at run time for a code relayed from another brr version (supervisor).
    this.exitCode = opts.exitCode ?? (ERROR_CODES[code] as { exitCode: number } | undefined)?.exitCode ?? 1;
    this.hint = opts.hint;
    this.details = opts.details;
  }
}

/** Bad input from the user: a flag, an argument, a manifest, a config key. Exit code 2. */
export function invalidInput(
  code: ErrorCode,
  message: string,
  hint?: string,
  details?: Record<string, unknown>,
): BrrError {
  return new BrrError(code, message, { exitCode: 2, hint, details });
}

/** Something named by the user does not exist (release, build, ref, app). Exit code 1. */
export function notFound(code: ErrorCode, message: string, hint?: string): BrrError {
  return new BrrError(code, message, { exitCode: 1, hint });
}

/** A conflict with stored state (a concurrent writer won, a lock is held). Exit code 1. */
export function conflict(code: ErrorCode, message: string, hint?: string): BrrError {
  return new BrrError(code, message, { exitCode: 1, hint });
}

export function isBrrError(e: unknown): e is BrrError {
  return e instanceof BrrError;
}
