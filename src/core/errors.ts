/**
 * The one error family brr throws on purpose. `code` is stable (scripts may branch on it),
 * `exitCode` follows the CLI convention (1 failure, 2 usage/invalid input), and `hint` tells
 * the user the next step. Never branch on `message`.
 */
export class BrrError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    opts: { hint?: string; exitCode?: number; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BrrError';
    this.code = code;
    this.exitCode = opts.exitCode ?? 1;
    this.hint = opts.hint;
    this.details = opts.details;
  }
}

/** Bad input from the user: a flag, an argument, a manifest, a config key. Exit code 2. */
export function invalidInput(
  code: string,
  message: string,
  hint?: string,
  details?: Record<string, unknown>,
): BrrError {
  return new BrrError(code, message, { exitCode: 2, hint, details });
}

/** Something named by the user does not exist (release, build, ref, app). Exit code 1. */
export function notFound(code: string, message: string, hint?: string): BrrError {
  return new BrrError(code, message, { exitCode: 1, hint });
}

/** A conflict with stored state (a concurrent writer won, a lock is held). Exit code 1. */
export function conflict(code: string, message: string, hint?: string): BrrError {
  return new BrrError(code, message, { exitCode: 1, hint });
}

export function isBrrError(e: unknown): e is BrrError {
  return e instanceof BrrError;
}
