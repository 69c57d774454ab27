import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../src/core/types.js';
import { openSqliteLedger } from '../../src/ledger/sqlite/ledger.js';
import { Sandbox } from './harness.js';

/**
 * The release phase through the real CLI: `release.command` runs once per release before its
 * processes start, and its failure fails the deploy while the old release keeps serving.
 */

// Records each run outside the (read-only) release directory; fails on demand, printing lines
// that must come back in the error, and a secret that must not.
const COMMAND = [
  'echo "migrating $BRR_APP $BRR_RELEASE in $(pwd)"',
  'echo "$BRR_RELEASE" >> "$MARK_DIR/runs"',
  'if [ "$MIGRATE_FAIL" = 1 ]; then echo "using $DB_PASSWORD"; echo "boom: relation users already exists" >&2; exit 7; fi',
].join('; ');

async function events(sb: Sandbox): Promise<LedgerEvent[]> {
  const ledger = openSqliteLedger(path.join(sb.home, 'ledger.db'));
  try {
    return await ledger.listEvents('udp-counter');
  } finally {
    await ledger.close();
  }
}

const runs = (sb: Sandbox) =>
  readFileSync(path.join(sb.dir, 'marks', 'runs'), 'utf8')
    .trim()
    .split('\n');

describe('release phase', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await Sandbox.create();
    mkdirSync(path.join(sb.dir, 'marks'));
    const yml = readFileSync(path.join(sb.repo, 'brr.yaml'), 'utf8');
    sb.commit('brr.yaml', `${yml}release:\n  command: ${JSON.stringify(COMMAND)}\n`, 'release phase');
    await sb.ok(['config', 'set', `MARK_DIR=${path.join(sb.dir, 'marks')}`]);
    await sb.ok(['config', 'set', '--secret', 'DB_PASSWORD=s3cr3t-pw']);
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  it('runs before the processes start, in the release directory, with the config, and is recorded', async () => {
    const r = await sb.json<{ release: string; releasePhase: string }>(['deploy']);
    expect(r).toMatchObject({ release: 'v1', releasePhase: 'ran' });
    expect(runs(sb)).toEqual(['v1']);
    const log = readFileSync(path.join(sb.home, 'logs', 'udp-counter', 'release.v1.log'), 'utf8');
    expect(log).toContain(`migrating udp-counter v1 in ${path.join(sb.home, 'releases', 'udp-counter', 'v1')}`);
    const ev = await events(sb);
    const seqOf = (type: string) => ev.find((e) => e.type === type && e.release === 'v1')!.seq;
    expect(seqOf('release-phase-started')).toBeLessThan(seqOf('release-phase-succeeded'));
    expect(seqOf('release-phase-succeeded')).toBeLessThan(seqOf('switch-started'));
    expect(ev.find((e) => e.type === 'release-phase-succeeded')!.detail).toMatchObject({ exitCode: 0 });
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: 'v1' });
  });

  it('runs once per release: running v1 again does not run it again', async () => {
    const r = await sb.json<{ release: string; releasePhase: string }>(['run', 'v1']);
    expect(r).toMatchObject({ release: 'v1', releasePhase: 'skipped' });
    expect(runs(sb)).toEqual(['v1']);
    expect((await events(sb)).filter((e) => e.type === 'release-phase-started')).toHaveLength(1);
  });

  it('its failure fails the deploy (exit 1, exit code, last lines, log path) and the old release keeps answering', async () => {
    const before = JSON.parse((await sb.get('/')).body) as { release: string; pid: number };
    const r = await sb.brr(['config', 'set', 'MIGRATE_FAIL=1']);
    expect(r.code).toBe(1);
    const log = path.join(sb.home, 'logs', 'udp-counter', 'release.v2.log');
    expect(r.stderr).toContain('release phase of udp-counter v2 failed with exit code 7');
    expect(r.stderr).toContain('boom: relation users already exists');
    expect(r.stderr).toContain(log);
    expect(r.stderr).not.toContain('s3cr3t-pw');
    expect(r.stderr).toContain('using <redacted>');
    expect(runs(sb)).toEqual(['v1', 'v2']);
    // Untouched: same process, same release, and the switch was never requested.
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: 'v1', pid: before.pid });
    const ev = await events(sb);
    const failed = ev.find((e) => e.type === 'release-phase-failed')!;
    expect(failed.release).toBe('v2');
    expect(failed.detail).toMatchObject({ exitCode: 7, log });
    expect(failed.detail.lastLines).toEqual(
      expect.arrayContaining(['boom: relation users already exists', 'using <redacted>']),
    );
    expect(ev.some((e) => e.type === 'switch-started' && e.release === 'v2')).toBe(false);
    expect((await sb.brr(['status'])).code).toBe(0);
    // The lease was released on the way out: the next deploy is not blocked.
    expect(JSON.parse((await sb.ok(['lock', '--json'])).stdout)).toMatchObject({ lease: null });
  });

  it('the fix is a new release whose release phase runs, then it serves', async () => {
    const r = await sb.json<{ release: string }>(['config', 'unset', 'MIGRATE_FAIL']);
    expect(r.release).toBe('v3');
    expect(runs(sb)).toEqual(['v1', 'v2', 'v3']);
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: 'v3' });
    // A rollback is a new release too, so its release phase runs (commands must be idempotent).
    await sb.ok(['rollback', 'v1']);
    expect(runs(sb)).toEqual(['v1', 'v2', 'v3', 'v4']);
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: 'v4' });
  });
});
