/**
 * The console's activity watcher on a real SQLite ledger: only what happens after it starts
 * listening is activity; new releases, ledger events (staged config naming keys only) and lease
 * changes arrive in order with increasing seqs; a reconnecting client gets what it missed; the
 * timer runs only while someone listens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ActivityWatcher, type Activity } from '../../src/app/activity.js';
import { openContext, type Context } from '../../src/app/context.js';
import { leaseHolder } from '../../src/app/lease.js';
import type { ProcessInfo } from '../../src/app/processes.js';
import { COMMIT_A, DIGEST_A, NOW } from '../release/fixtures.js';

let dir: string;
let ctx: Context;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'brr-activity-'));
  ctx = openContext({ home: dir, actor: 'alice@h' });
});
afterEach(async () => {
  await ctx.close();
  rmSync(dir, { recursive: true, force: true });
});

const release = (app: string) =>
  ctx.ledger.appendRelease(app, () => ({
    build: { digest: DIGEST_A, commit: COMMIT_A },
    config: {},
    formation: { web: 1 },
    cause: 'deploy 1a2b3c4',
    message: null,
    actor: 'bob@h',
    createdAt: NOW.toISOString(),
    rollbackOf: null,
  }));

describe('ActivityWatcher', () => {
  it('streams new releases, events and lease changes after its baseline, secret-free', async () => {
    await release('upf'); // history, not activity
    const w = new ActivityWatcher(ctx, { intervalMs: 60_000 });
    const got: Activity[] = [];
    const stop = w.subscribe((a) => got.push(a));
    await w.poll(); // the baseline (the subscribe's own poll may still run)
    await w.poll();
    expect(got).toEqual([]);
    await release('upf');
    await ctx.ledger.appendEvent('upf', {
      type: 'switch-started',
      release: 'v2',
      detail: { from: 'v1' },
      actor: 'sup',
      createdAt: NOW.toISOString(),
    });
    await ctx.ledger.appendEvent('smf', {
      type: 'config-staged',
      release: null,
      detail: { set: { TOKEN: { value: 'sealed-secret-text', secret: true } }, unset: ['OLD'] },
      actor: 'carol@h',
      createdAt: NOW.toISOString(),
    });
    const lease = await ctx.ledger.acquireLease('upf', leaseHolder(ctx), 30_000, new Date());
    await w.poll();
    await ctx.ledger.releaseLease('upf', lease.token);
    await w.poll();
    expect(got.map((a) => [a.app, a.kind, a.release])).toEqual([
      ['smf', 'config-staged', null],
      ['upf', 'release', 'v2'],
      ['upf', 'switch-started', 'v2'],
      ['upf', 'lease', null],
      ['upf', 'lease', null],
    ]);
    expect(got.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(got[0]!.detail).toEqual({ set: ['TOKEN'], unset: ['OLD'], actor: 'carol@h' });
    expect(JSON.stringify(got)).not.toContain('sealed-secret-text');
    expect(got[1]!.detail).toEqual({ cause: 'deploy 1a2b3c4', actor: 'bob@h' });
    expect(got[3]!.detail).toEqual({ holder: 'alice@h' });
    expect(got[4]!.detail).toEqual({ holder: null });
    // A client reconnecting with Last-Event-ID 3 gets 4 and 5 first.
    const replay: number[] = [];
    const stop2 = w.subscribe((a) => replay.push(a.seq), 3);
    expect(replay).toEqual([4, 5]);
    stop2();
    expect(w.listening).toBe(1);
    stop();
    expect(w.listening).toBe(0);
  });

  it('turns growing restart and health-failure counts of ps into activities (missing counts are 0)', async () => {
    // A fake ps: the real supervisor's answer is covered in test/serve/api.test.ts (a restart);
    // healthFailures comes from the metrics branch's supervisor, so its growth is fed here.
    type Row = ProcessInfo & { healthFailures?: number; lastHealthFailure?: { at: string; reason: string } };
    const row = (over: Partial<Row>): Row => ({
      app: 'upf',
      release: 'v1',
      type: 'web',
      index: 1,
      pid: 100,
      state: 'running',
      restarts: 0,
      uptimeMs: 1,
      lastExit: null,
      ...over,
    });
    let rows: Row[] = [row({ restarts: 2, healthFailures: 3 }), row({ index: 2 })];
    const w = new ActivityWatcher(ctx, { intervalMs: 60_000, ps: async () => rows });
    const got: Activity[] = [];
    const stop = w.subscribe((a) => got.push(a));
    await w.ready();
    expect(got).toEqual([]); // counts at the baseline are history
    rows = [
      row({ restarts: 3, pid: 101, healthFailures: 3 }),
      row({ index: 2, healthFailures: 1, lastHealthFailure: { at: NOW.toISOString(), reason: 'GET /healthz: 503' } }),
      row({ app: 'smf', healthFailures: 1 }), // a new slot that failed already
    ];
    await w.poll();
    await w.poll(); // nothing grew since
    // A switch: v2's process of slot web.1 appears beside v1's, with the slot's counters (3), then fails once.
    rows = [...rows, row({ release: 'v2', pid: 200, healthFailures: 3 })];
    await w.poll();
    rows = [row({ release: 'v2', pid: 200, restarts: 0, healthFailures: 4 }), ...rows.slice(1, 3)];
    await w.poll();
    expect(got.map((a) => [a.app, a.kind, a.release, a.detail])).toEqual([
      ['upf', 'restart', 'v1', { type: 'web', index: 1, pid: 101, restarts: 3 }],
      ['upf', 'health-failure', 'v1', { type: 'web', index: 2, reason: 'GET /healthz: 503' }],
      ['smf', 'health-failure', 'v1', { type: 'web', index: 1, reason: null }],
      ['upf', 'health-failure', 'v2', { type: 'web', index: 1, reason: null }],
    ]);
    stop();
  });
});
