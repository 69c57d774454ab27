import { describe, expect, it } from 'vitest';
import { planCollection, type SnapshotEntry, type StoreSnapshot } from '../../src/app/gc-plan.js';
import type { EventType } from '../../src/core/types.js';
import {
  planRetention,
  previousHealthyId,
  retainedReleases,
  type AppHistory,
  type EventLike,
  type ReleaseLike,
} from '../../src/release/retention.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const at = (n: number) => `2025-01-01T00:${String(n).padStart(2, '0')}:00.000Z`;

function rel(seq: number, digest: string): ReleaseLike {
  return { id: `v${seq}`, seq, build: { digest, commit: 'c'.repeat(40) }, createdAt: at(seq) };
}
function ev(type: EventType, release: string | null): EventLike {
  return { type, release, detail: {}, actor: 'sup', createdAt: at(0) };
}
/** Releases v1..vN, each on its own digest d1..dN unless given. */
function history(n: number, events: EventLike[], digests: string[] = []): AppHistory {
  return {
    app: 'upf',
    releases: Array.from({ length: n }, (_, i) => rel(i + 1, digests[i] ?? D(String.fromCharCode(97 + i)))),
    events,
  };
}
const ids = (h: AppHistory, keep: number, running: string[] = []) =>
  retainedReleases(h, keep, running).map((r) => `${r.id}:${r.reasons.join('+')}`);

describe('retention of releases', () => {
  it.each<[string, AppHistory, number, string[], string[]]>([
    ['last N only, nothing ever ran', history(8, []), 3, [], ['v8:recent', 'v7:recent', 'v6:recent']],
    [
      'current and previous healthy beyond N',
      history(8, [ev('activated', 'v2'), ev('activated', 'v3'), ev('switch-started', 'v8'), ev('failed', 'v8')]),
      2,
      [],
      ['v8:recent', 'v7:recent', 'v3:current', 'v2:previous-healthy'],
    ],
    [
      'rolled-back: the restored release is current, the failed one is not healthy',
      history(6, [
        ev('activated', 'v1'),
        ev('activated', 'v4'),
        ev('switch-started', 'v5'),
        ev('failed', 'v5'),
        ev('rolled-back', 'v4'),
      ]),
      1,
      [],
      ['v6:recent', 'v4:current', 'v1:previous-healthy'],
    ],
    [
      'stopped: the last release that served stays',
      history(6, [ev('activated', 'v2'), ev('stopped', 'v2')]),
      1,
      [],
      ['v6:recent', 'v2:previous-healthy'],
    ],
    [
      'a switch in flight keeps its target',
      history(6, [ev('activated', 'v1'), ev('switch-started', 'v3')]),
      1,
      [],
      ['v6:recent', 'v3:in-flight', 'v1:current'],
    ],
    [
      'what the supervisor runs stays',
      history(6, [ev('activated', 'v4')]),
      1,
      ['v2', 'v9'],
      ['v6:recent', 'v4:current', 'v2:running'],
    ],
    ['keep below 1 still keeps the newest', history(3, []), 0, [], ['v3:recent']],
    [
      'reasons accumulate',
      history(2, [ev('activated', 'v1'), ev('activated', 'v2')]),
      5,
      [],
      ['v2:current+recent', 'v1:previous-healthy+recent'],
    ],
  ])('%s', (_name, h, keep, running, expected) => expect(ids(h, keep, running)).toEqual(expected));

  it('previous healthy skips re-activations of the current release', () => {
    expect(previousHealthyId([ev('activated', 'v1'), ev('activated', 'v2'), ev('activated', 'v2')], 'v2')).toBe('v1');
    expect(previousHealthyId([ev('activated', 'v2')], 'v2')).toBeNull();
  });
});

describe('retention of builds', () => {
  it('keeps digests of retained releases of ANY app, and recent unreleased builds', () => {
    const staging = { ...history(3, [ev('activated', 'v3')], [D('a'), D('b'), D('c')]), app: 'staging' };
    // prod's old v1 uses D('a') too; prod keeps only v2.
    const prod = { ...history(2, [ev('activated', 'v2')], [D('a'), D('d')]), app: 'prod' };
    const builds = [
      { digest: D('a'), app: 'staging', createdAt: at(1) },
      { digest: D('b'), app: 'staging', createdAt: at(2) },
      { digest: D('c'), app: 'staging', createdAt: at(3) },
      { digest: D('d'), app: 'prod', createdAt: at(4) },
      // never released: e1 old, e2 older than staging's newest release but among the newest 1, f after it
      { digest: D('e'), app: 'staging', createdAt: at(0) },
      { digest: D('f'), app: 'staging', createdAt: at(9) },
      { digest: D('1'), app: 'other', createdAt: at(5) },
      { digest: D('2'), app: 'other', createdAt: at(6) },
    ];
    const plan = planRetention({ apps: [staging, prod], keep: 1, running: [], builds });
    expect(Object.fromEntries(plan.digests)).toEqual({
      [D('c')]: ['release'],
      [D('d')]: ['release'],
      [D('f')]: ['unreleased-recent'],
      [D('2')]: ['unreleased-recent'],
    });
    expect(plan.releases.staging!.map((r) => r.id)).toEqual(['v3']);
    // Shared digest: prod's v1 is gone but staging keeping D('a') would keep it (keep 3 here).
    const wider = planRetention({ apps: [staging, prod], keep: 3, running: [], builds });
    expect(wider.digests.get(D('a'))).toEqual(['release']);
  });
});

function entry(digest: string, blobs: string[], over: Partial<SnapshotEntry> = {}): SnapshotEntry {
  return {
    ref: `upf-${digest.slice(7, 15)}`,
    digest,
    app: 'upf',
    brr: true,
    commit: 'c'.repeat(40),
    path: '',
    source: '/src',
    createdAt: at(1),
    blobs: [digest, ...blobs],
    ...over,
  };
}
const NOW = Date.parse('2025-01-02T00:00:00Z');
const OLD = NOW - 48 * 3600_000;
const FRESH = NOW - 60_000;

describe('planCollection', () => {
  const retention = planRetention({
    apps: [history(3, [ev('activated', 'v3')], [D('a'), D('b'), D('c')])],
    keep: 1,
    running: [],
    builds: [],
  });
  const snap: StoreSnapshot = {
    entries: [
      entry(D('a'), [D('1'), D('7')]), // not retained; layer 7 shared with c
      entry(D('b'), [D('2'), D('8')]), // not retained
      entry(D('c'), [D('3'), D('7')]), // retained
      entry(D('9'), [D('6')], { brr: false, app: null }), // someone else's image
    ],
    blobs: [D('a'), D('b'), D('c'), D('1'), D('2'), D('3'), D('6'), D('7'), D('8'), D('9'), D('4'), D('5')].map(
      (digest) => ({
        digest,
        size: 10,
        mtimeMs: digest === D('5') ? FRESH : OLD,
      }),
    ),
    dirs: [
      { app: 'upf', name: 'v1', path: '/r/upf/v1', bytes: 100, mtimeMs: OLD },
      { app: 'upf', name: 'v2', path: '/r/upf/v2', bytes: 100, mtimeMs: OLD },
      { app: 'upf', name: 'v3', path: '/r/upf/v3', bytes: 100, mtimeMs: OLD },
      { app: 'upf', name: '.tmp-v4-abc', path: '/r/upf/.tmp-v4-abc', bytes: 5, mtimeMs: OLD },
      { app: 'upf', name: '.tmp-v5-def', path: '/r/upf/.tmp-v5-def', bytes: 5, mtimeMs: FRESH },
      { app: 'upf', name: 'notes', path: '/r/upf/notes', bytes: 5, mtimeMs: OLD },
      { app: 'ghost', name: 'v1', path: '/r/ghost/v1', bytes: 100, mtimeMs: OLD },
    ],
    currentLinks: { upf: 'v1' },
    temp: [
      { path: '/oci/.brr-tmp/blob-1', bytes: 3, mtimeMs: OLD },
      { path: '/oci/.brr-tmp/blob-2', bytes: 3, mtimeMs: FRESH },
    ],
  };

  it('removes unretained dirs and images, keeps shared layers, foreign images and fresh debris', () => {
    const plan = planCollection(retention, snap, { knownApps: new Set(['upf']), nowMs: NOW, graceMs: 24 * 3600_000 });
    // v1 is the target of `current` (the link wins over the ledger here: never pull the floor).
    expect(plan.dirs.map((d) => d.name)).toEqual(['v2']);
    expect(plan.entries.map((e) => e.digest)).toEqual([D('a'), D('b')]);
    // 4 is an old orphan; 5 a fresh one (a build may be writing it); 7 shared with c; 6 foreign.
    expect(plan.blobs.map((b) => b.digest).sort()).toEqual([D('a'), D('b'), D('1'), D('2'), D('8'), D('4')].sort());
    expect(plan.temp.map((t) => t.path)).toEqual(['/r/upf/.tmp-v4-abc', '/oci/.brr-tmp/blob-1']);
    expect(plan.unknownApps).toEqual(['ghost']);
    expect(plan.bytes).toBe(100 + 6 * 10 + 5 + 3);
  });

  it("--app confines it: no orphans, no foreign temp, other apps' images stay", () => {
    const mixed = { ...snap, entries: snap.entries.map((e) => (e.digest === D('b') ? { ...e, app: 'other' } : e)) };
    const plan = planCollection(retention, mixed, {
      knownApps: new Set(['upf']),
      onlyApp: 'upf',
      nowMs: NOW,
      graceMs: 24 * 3600_000,
    });
    expect(plan.entries.map((e) => e.digest)).toEqual([D('a')]);
    expect(plan.blobs.map((b) => b.digest).sort()).toEqual([D('a'), D('1')].sort());
    expect(plan.temp.map((t) => t.path)).toEqual(['/r/upf/.tmp-v4-abc']);
    expect(plan.unknownApps).toEqual([]);
  });
});
