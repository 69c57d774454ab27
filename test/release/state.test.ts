import { describe, expect, it } from 'vitest';
import type { EventType, LedgerEvent } from '../../src/core/types.js';
import { currentReleaseId, lastDeployOutcome, stagedConfig } from '../../src/release/state.js';
import { plain, secret } from './fixtures.js';

let seq = 0;
function ev(type: EventType, release: string | null, detail: Record<string, unknown> = {}): LedgerEvent {
  seq += 1;
  return {
    app: 'a',
    seq,
    type,
    release,
    detail,
    actor: 'sup',
    createdAt: `2025-01-01T00:00:${String(seq).padStart(2, '0')}.000Z`,
    prevHash: null,
    hash: `h${seq}`,
  };
}

describe('stagedConfig', () => {
  it('applies config-staged events in order and ignores other events', () => {
    const events = [
      ev('config-staged', null, { set: { B: plain('1'), A: plain('x') }, unset: [] }),
      ev('activated', 'v1'),
      ev('config-staged', null, { set: { T: secret('s'), B: plain('2') }, unset: ['A'] }),
    ];
    const c = stagedConfig(events);
    expect(c).toEqual({ B: plain('2'), T: secret('s') });
    expect(Object.keys(c)).toEqual(['B', 'T']);
  });

  it('is empty without events and skips malformed members', () => {
    expect(stagedConfig([])).toEqual({});
    expect(
      stagedConfig([
        ev('config-staged', null, { set: { A: { value: 1, secret: false }, B: plain('ok') }, unset: 'A' }),
      ]),
    ).toEqual({ B: plain('ok') });
  });
});

describe('currentReleaseId', () => {
  it.each<[string, LedgerEvent[], string | null]>([
    ['no events', [], null],
    ['activated', [ev('switch-started', 'v1'), ev('activated', 'v1')], 'v1'],
    ['switch in progress keeps the old release', [ev('activated', 'v1'), ev('switch-started', 'v2')], 'v1'],
    ['failed keeps the old release', [ev('activated', 'v1'), ev('switch-started', 'v2'), ev('failed', 'v2')], 'v1'],
    [
      'rolled back names the restored release',
      [ev('activated', 'v2'), ev('switch-started', 'v3'), ev('failed', 'v3'), ev('rolled-back', 'v2')],
      'v2',
    ],
    ['stopped', [ev('activated', 'v1'), ev('stopped', 'v1')], null],
    ['started again after a stop', [ev('activated', 'v1'), ev('stopped', 'v1'), ev('activated', 'v1')], 'v1'],
    [
      'config staging does not matter',
      [ev('activated', 'v4'), ev('config-staged', null, { set: {}, unset: [] })],
      'v4',
    ],
  ])('%s', (_name, events, expected) => expect(currentReleaseId(events)).toBe(expected));
});

describe('lastDeployOutcome', () => {
  it('is null without deploys', () => {
    expect(lastDeployOutcome([ev('config-staged', null, { set: {}, unset: [] })])).toBeNull();
  });

  it('tracks a switch from start to activation', () => {
    const started = ev('switch-started', 'v2');
    expect(lastDeployOutcome([started])).toMatchObject({
      outcome: 'in-progress',
      release: 'v2',
      at: started.createdAt,
    });
    const done = ev('activated', 'v2');
    expect(lastDeployOutcome([started, done])).toEqual({
      outcome: 'activated',
      release: 'v2',
      restored: null,
      reason: null,
      actor: 'sup',
      at: done.createdAt,
    });
  });

  it('keeps what failed and why after the rollback', () => {
    const events = [
      ev('activated', 'v2'),
      ev('switch-started', 'v3'),
      ev('failed', 'v3', { reason: 'health check timed out', logTail: [] }),
      ev('rolled-back', 'v2'),
    ];
    expect(lastDeployOutcome(events.slice(0, 3))).toMatchObject({
      outcome: 'failed',
      release: 'v3',
      reason: 'health check timed out',
    });
    expect(lastDeployOutcome(events)).toMatchObject({
      outcome: 'rolled-back',
      release: 'v3',
      restored: 'v2',
      reason: 'health check timed out',
    });
  });

  it('reports a stop', () => {
    expect(lastDeployOutcome([ev('activated', 'v1'), ev('stopped', 'v1')])).toMatchObject({
      outcome: 'stopped',
      release: 'v1',
    });
  });
});
