import { describe, expect, it } from 'vitest';
import { holdsLeases, interruptMessage, releaseOnInterrupt, trackLease, trackSwitch } from '../../src/app/interrupt.js';

/** What an interrupted CLI gives back and says (the signal wiring itself is tested through the CLI in e2e/lease). */
describe('interrupt', () => {
  it('releases every tracked lease, says which switch the supervisor carries on, and forgets untracked ones', async () => {
    const released: string[] = [];
    const untrackA = trackLease('a', async () => void released.push('a'));
    trackLease('b', async () => void released.push('b'));
    const untrackC = trackLease('c', async () => void released.push('c'));
    untrackC();
    const answered = trackSwitch('b', 'v7');
    expect(holdsLeases()).toBe(true);
    const notes = await releaseOnInterrupt();
    expect(released.sort()).toEqual(['a', 'b']);
    expect(notes).toEqual([
      { app: 'a', released: true, switching: null },
      { app: 'b', released: true, switching: 'v7' },
    ]);
    expect(holdsLeases()).toBe(false);
    answered();
    untrackA();
  });

  it('gives up on a release that hangs or fails, and says the lease lapses by itself', async () => {
    trackLease('slow', () => new Promise<void>(() => {}));
    trackLease('broken', () => Promise.reject(new Error('ledger gone')));
    const notes = await releaseOnInterrupt(50);
    expect(notes.map((n) => [n.app, n.released])).toEqual([
      ['slow', false],
      ['broken', false],
    ]);
  });

  it.each([
    [
      { app: 'upf', released: true, switching: 'v4' },
      'interrupted: released the deploy lease on upf; the supervisor carries on the switch to v4 and records its outcome (see `brr status --app upf`)',
    ],
    [
      { app: 'upf', released: true, switching: null },
      'interrupted: released the deploy lease on upf; no switch was handed to the supervisor: the running release is unchanged',
    ],
    [
      { app: 'upf', released: false, switching: null },
      'interrupted: could not release the deploy lease on upf (it lapses by itself, or take it with `brr lock --force --app upf`); no switch was handed to the supervisor: the running release is unchanged',
    ],
  ])('%j', (note, line) => expect(interruptMessage(note)).toBe(line));
});
