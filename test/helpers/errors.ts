import { BrrError } from '../../src/core/errors.js';

/** Runs `fn`, which must throw a BrrError, and returns it (any other outcome fails the test). */
export function brrErrorOf(fn: () => unknown): BrrError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BrrError) return e;
    throw e;
  }
  throw new Error('expected a BrrError');
}
