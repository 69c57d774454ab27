import { describe, expect, it } from 'vitest';
import { switchNote } from '../../src/cli/output.js';

describe('switchNote', () => {
  it.each([
    [{ durationMs: 1, alreadyRunning: true }, 'it was already running'],
    [{ durationMs: 480, activatedMs: 250 }, 'switch took 480 ms'],
    [{ durationMs: 480 }, 'switch took 480 ms'],
    // A live UDP flow kept the old process until its grace ran out: the take-over was quick.
    [
      { durationMs: 10_550, activatedMs: 252 },
      'switch took 252 ms; the old release drained its connections and flows for 10.3 s',
    ],
  ])('%o → %s', (run, text) => {
    expect(switchNote(run)).toBe(text);
  });
});
