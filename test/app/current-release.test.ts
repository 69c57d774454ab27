/**
 * The current release, the target and the whole app state read by event type from the ledger's
 * indexes (app/current-release.ts, app-target.ts appTarget, app-state.ts readAppState) must equal
 * the folds over the whole event log they replace (status, the console's summaries, deploys,
 * config changes, rollbacks, the supervisor's resume): random histories of every event type, on
 * a real SQLite ledger.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES, type NewEvent } from '../../src/core/types.js';
import { openSqliteLedger } from '../../src/ledger/sqlite/ledger.js';
import { appTarget, currentTarget } from '../../src/app/app-target.js';
import { foldAppState, readAppState, type AppState } from '../../src/app/app-state.js';
import type { Context } from '../../src/app/context.js';
import { currentReleaseOf } from '../../src/app/current-release.js';
import { currentReleaseId } from '../../src/release/state.js';

const dir = mkdtempSync(path.join(tmpdir(), 'brr-current-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// mulberry32: the same histories every run, with every bit random (an LCG's low bits repeat).
let seed = 7;
const rnd = (n: number) => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
};

const TARGETS: Record<string, unknown>[] = [
  { target: 'local' },
  { target: 'kubernetes', context: 'kind', namespace: 'nf', registry: '127.0.0.1:5000', kubeconfig: null },
  { target: 'kubernetes', context: 'prod', namespace: 'core', registry: 'r.example/nf', kubeconfig: '/k' },
  { target: 'mars' }, // malformed: the fold skips it, and so must the read by type
];

/** Everything an AppState answers, for releases v1..v9 (and none). */
async function stateOf(s: AppState) {
  const ids = [null, ...Array.from({ length: 9 }, (_, i) => `v${i + 1}`)];
  return {
    currentId: s.currentId,
    previousHealthyId: s.previousHealthyId,
    target: s.target,
    trust: s.trust,
    perRelease: await Promise.all(
      ids.map(async (id) => ({
        id,
        lastServedOtherThan: await s.lastServedOtherThan(id),
        signed: id ? (await s.signedEvents(id)).map((e) => e.hash) : null,
        phaseDone: id ? await s.releasePhaseDone(id) : null,
      })),
    ),
  };
}

describe('current release and target by event type', () => {
  it('equal the folds over every event, after each append of random histories', async () => {
    const ledger = openSqliteLedger(path.join(dir, 'ledger.db'));
    const ctx = { ledger } as unknown as Context;
    try {
      for (const app of ['a', 'b', 'c']) {
        for (let i = 0; i < 150; i++) {
          const type = EVENT_TYPES[rnd(EVENT_TYPES.length)]!;
          const event: NewEvent = {
            type,
            release: type === 'stopped' || type === 'target-set' || rnd(4) === 0 ? null : `v${1 + rnd(9)}`,
            detail: type === 'target-set' ? { ...TARGETS[rnd(TARGETS.length)] } : {},
            actor: 't@h',
            createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
          };
          await ledger.appendEvent(app, event);
          const events = await ledger.listEvents(app);
          expect(await currentReleaseOf(ledger, app), `${app} after ${i + 1} events`).toBe(currentReleaseId(events));
          expect(await appTarget(ctx, app), `${app} after ${i + 1} events`).toEqual(currentTarget(events));
          if (i % 10 === 9)
            expect(await stateOf(await readAppState(ctx, app))).toEqual(await stateOf(foldAppState(app, events)));
        }
      }
      expect(await currentReleaseOf(ledger, 'none')).toBeNull();
      expect(await appTarget(ctx, 'none')).toEqual({ target: 'local' });
    } finally {
      await ledger.close();
    }
  });
});
