import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, nextCrashCount, restartDelayMs, shouldRestart } from '../../../src/run/local/backoff.js';

describe('restartDelayMs', () => {
  it.each([
    [1, 0],
    [2, 200],
    [3, 400],
    [4, 800],
    [5, 1_600],
    [12, 204_800],
    [13, 300_000],
    [14, 300_000],
    [1_000, 300_000],
  ])('crash %i in a row waits %i ms with the defaults', (crashes, delay) => {
    expect(restartDelayMs(crashes, DEFAULT_BACKOFF)).toBe(delay);
  });

  it.each([
    [0, 0],
    [2, 10],
    [3, 20],
    [4, 25],
    [50, 25],
  ])('with base 10 and cap 25, crash %i waits %i ms', (crashes, delay) => {
    expect(restartDelayMs(crashes, { baseMs: 10, capMs: 25 })).toBe(delay);
  });
});

describe('nextCrashCount', () => {
  it.each([
    [0, 50, 1],
    [1, 50, 2],
    [7, 9_999, 8],
    [7, 10_000, 1],
    [7, 60_000, 1],
  ])('after %i crashes, an exit at %i ms of uptime makes %i', (prev, uptime, next) => {
    expect(nextCrashCount(prev, uptime, DEFAULT_BACKOFF)).toBe(next);
  });
});

describe('shouldRestart', () => {
  const ok = { code: 0, signal: null };
  const failed = { code: 1, signal: null };
  const killed = { code: null, signal: 'SIGKILL' };
  it.each([
    ['always', ok, true],
    ['always', failed, true],
    ['always', killed, true],
    ['on-failure', ok, false],
    ['on-failure', failed, true],
    ['on-failure', killed, true],
    ['never', ok, false],
    ['never', failed, false],
    ['never', killed, false],
  ] as const)('%s after %o → %s', (policy, exit, expected) => {
    expect(shouldRestart(policy, exit)).toBe(expected);
  });
});
