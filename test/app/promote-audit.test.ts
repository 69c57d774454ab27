import { describe, expect, it } from 'vitest';
import {
  actorMatches,
  auditLines,
  filterReleases,
  parseSince,
  summarizeEvent,
  type AppRecords,
} from '../../src/app/audit.js';
import type { EventType, LedgerEvent, Release } from '../../src/core/types.js';
import { makeRelease } from '../release/fixtures.js';

const NOW = new Date('2026-03-10T12:00:00.000Z');

describe('parseSince', () => {
  it.each([
    ['24h', '2026-03-09T12:00:00.000Z'],
    ['7d', '2026-03-03T12:00:00.000Z'],
    ['90m', '2026-03-10T10:30:00.000Z'],
    ['2w', '2026-02-24T12:00:00.000Z'],
    ['30s', '2026-03-10T11:59:30.000Z'],
    ['2026-01-02', '2026-01-02T00:00:00.000Z'],
    ['2026-01-02T03:04:05Z', '2026-01-02T03:04:05.000Z'],
    ['2026-01-02T03:04:05+02:00', '2026-01-02T01:04:05.000Z'],
  ])('%s → %s', (text, iso) => expect(parseSince(text, NOW).toISOString()).toBe(iso));

  it.each(['yesterday', '24', '-1h', '2026-13-40', '1y', ''])('refuses %j as invalid input', (text) => {
    expect(() => parseSince(text, NOW)).toThrow(expect.objectContaining({ code: 'since_invalid', exitCode: 2 }));
  });
});

describe('actor and time filters', () => {
  it.each<[string, string, boolean]>([
    ['alice@host1', 'alice@host1', true],
    ['alice@host1', 'alice', true],
    ['alice@host1', 'alice@host2', false],
    ['alicia@host1', 'alice', false],
    ['ci:pipeline-812', 'ci:pipeline-812', true],
    ['ci:pipeline-812', 'ci', false],
  ])('%s matched by %s: %s', (actor, wanted, expected) => expect(actorMatches(actor, wanted)).toBe(expected));

  const releases: Release[] = [
    makeRelease(3, { actor: 'bob@b', createdAt: '2026-03-10T11:00:00.000Z' }),
    makeRelease(2, { actor: 'alice@a', createdAt: '2026-03-09T00:00:00.000Z' }),
    makeRelease(1, { actor: 'alice@b', createdAt: '2026-03-01T00:00:00.000Z' }),
  ];
  it.each<[string, { actor?: string; since?: Date }, string[]]>([
    ['no filter', {}, ['v3', 'v2', 'v1']],
    ['user on any host', { actor: 'alice' }, ['v2', 'v1']],
    ['exact actor', { actor: 'alice@b' }, ['v1']],
    ['since (inclusive)', { since: new Date('2026-03-09T00:00:00.000Z') }, ['v3', 'v2']],
    ['both', { actor: 'alice', since: parseSince('7d', NOW) }, ['v2']],
    ['nothing matches', { actor: 'carol' }, []],
  ])('filterReleases: %s', (_n, f, ids) => expect(filterReleases(releases, f).map((r) => r.id)).toEqual(ids));
});

let seq = 0;
function ev(
  app: string,
  type: EventType,
  release: string | null,
  detail: Record<string, unknown>,
  createdAt: string,
  actor = 'sup@h',
): LedgerEvent {
  return { app, seq: ++seq, type, release, detail, actor, createdAt, prevHash: null, hash: `h${seq}` };
}

describe('summarizeEvent never prints values it does not know to be safe', () => {
  it.each<[EventType, Record<string, unknown>, string]>([
    [
      'config-staged',
      { set: { TOKEN: { value: 'hunter2', secret: true }, DB: { value: 'x', secret: false } }, unset: ['OLD'] },
      'set DB, TOKEN; unset OLD',
    ],
    [
      'failed',
      { reason: 'health check timed out\nafter 15s', logTail: ['PASSWORD=hunter2'] },
      'health check timed out after 15s',
    ],
    ['activated', { from: 'v1', durationMs: 812 }, 'from v1; 812 ms'],
    ['release-phase-failed', { exitCode: 3, lastLines: ['hunter2'], log: '/x' }, 'exit 3'],
    ['release-phase-failed', { exitCode: null, signal: 'SIGKILL' }, 'killed by SIGKILL'],
    ['lock-broken', { lease: { owner: 'bob@b', token: 7, host: 'b' } }, 'lease of bob@b (token 7)'],
    ['trust-changed', { add: [{ keyId: 'k1', publicKey: 'AAA' }], remove: ['k0'] }, 'add k1; remove k0'],
    [
      'promoted',
      { fromApp: 'staging', fromRelease: 'v4', digest: `sha256:${'ab'.repeat(32)}` },
      'from staging v4 (abababababab)',
    ],
    ['signed', { keyId: 'k1', signature: 'SIG', publicKey: 'PUB', hash: 'H' }, 'by k1'],
    ['stopped', { anything: 'hunter2' }, ''],
  ])('%s %j → %j', (type, detail, expected) => {
    const s = summarizeEvent({ type, detail });
    expect(s).toBe(expected);
    expect(s).not.toContain('hunter2');
  });

  it('cuts long reasons to one short line', () => {
    expect(summarizeEvent({ type: 'failed', detail: { reason: 'x'.repeat(500) } })).toHaveLength(120);
  });
});

describe('auditLines', () => {
  const t = (m: number) => `2026-03-10T10:${String(m).padStart(2, '0')}:00.000Z`;
  const records: AppRecords[] = [
    {
      app: 'prod',
      releases: [
        makeRelease(1, { app: 'prod', id: 'v1', cause: 'promote staging v1', actor: 'alice@a', createdAt: t(5) }),
      ],
      events: [
        ev('prod', 'promoted', 'v1', { fromApp: 'staging', fromRelease: 'v1' }, t(5), 'alice@a'),
        ev('prod', 'activated', 'v1', {}, t(6)),
      ],
    },
    {
      app: 'staging',
      releases: [makeRelease(1, { app: 'staging', cause: 'deploy 1a2b3c4', actor: 'bob@b', createdAt: t(1) })],
      events: [
        ev('staging', 'config-staged', null, { set: { K: { value: 'v', secret: true } }, unset: [] }, t(0), 'bob@b'),
        ev('staging', 'activated', 'v1', {}, t(2)),
      ],
    },
  ];

  it('merges apps oldest first; a release precedes the events about it at the same instant', () => {
    const lines = auditLines(records).map(
      (l) => `${l.at.slice(14, 16)} ${l.app} ${l.actor} ${l.action} ${l.release ?? '-'} ${l.summary}`,
    );
    expect(lines).toEqual([
      '00 staging bob@b config-staged - set K',
      '01 staging bob@b release v1 deploy 1a2b3c4',
      '02 staging sup@h activated v1 ',
      '05 prod alice@a release v1 promote staging v1',
      '05 prod alice@a promoted v1 from staging v1',
      '06 prod sup@h activated v1 ',
    ]);
  });

  it('filters events and releases alike', () => {
    expect(auditLines(records, { actor: 'alice' }).map((l) => l.action)).toEqual(['release', 'promoted']);
    expect(auditLines(records, { since: new Date(t(5)) }).map((l) => `${l.app}:${l.action}`)).toEqual([
      'prod:release',
      'prod:promoted',
      'prod:activated',
    ]);
  });
});
