import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from './harness.js';

/**
 * `brr gc` through the real CLI, with the supervisor running the current release: four deploys,
 * keep 1, so v4 (current) and v3 (previous healthy) stay and v1, v2 go. Then a rollback to the
 * collected v1 is refused before anything is appended, and works after rebuilding its commit.
 */

interface GcJson {
  dryRun: boolean;
  apps: Array<{ app: string; retained: Array<{ id: string; reasons: string[] }>; removedDirs: string[] }>;
  builds: { removed: Array<{ digest: string; commit: string }>; retained: Array<{ digest: string }> };
  bytesFreed: number;
}

const APP = 'udp-counter';

describe('brr gc through the real CLI', () => {
  let sb: Sandbox;
  const digests: string[] = [];
  const commits: string[] = [];
  const relDir = () => path.join(sb.home, 'releases', APP);
  const blobs = () => readdirSync(path.join(sb.home, 'oci', 'blobs', 'sha256')).sort();

  beforeAll(async () => {
    sb = await Sandbox.create();
    for (let i = 1; i <= 4; i++) {
      if (i > 1) sb.commit('src/extra.txt', `change ${i}\n`, `change ${i}`);
      const r = await sb.json<{ digest: string; commit: string; release: string }>(['deploy']);
      expect(r.release).toBe(`v${i}`);
      digests.push(r.digest);
      commits.push(r.commit);
    }
  }, 120_000);
  afterAll(async () => {
    await sb.cleanup();
  });

  it('--dry-run names what would go and deletes nothing', async () => {
    const before = { dirs: readdirSync(relDir()).sort(), blobs: blobs() };
    const r = await sb.json<GcJson>(['gc', '--keep', '1', '--dry-run']);
    expect(r.dryRun).toBe(true);
    expect(r.apps[0]!.retained).toEqual([
      { id: 'v4', digest: digests[3], reasons: ['current', 'running', 'recent'] },
      { id: 'v3', digest: digests[2], reasons: ['previous-healthy'] },
    ]);
    expect(r.apps[0]!.removedDirs).toEqual(['v1', 'v2']);
    expect(r.builds.removed.map((b) => b.digest).sort()).toEqual([digests[0], digests[1]].sort());
    expect(r.bytesFreed).toBeGreaterThan(0);
    expect({ dirs: readdirSync(relDir()).sort(), blobs: blobs() }).toEqual(before);
  });

  it('collects v1 and v2, keeps the running v4 and the rollback target v3; the ledger is untouched', async () => {
    const releasesBefore = (await sb.ok(['releases', '--json'])).stdout;
    const human = await sb.ok(['gc', '--keep', '1']);
    expect(human.stdout).toContain('udp-counter: keeps v4 (current, running, recent), v3 (previous-healthy)');
    expect(human.stdout).toMatch(/freed \d/);
    expect(readdirSync(relDir()).sort()).toEqual(['current', 'v3', 'v4']);
    expect(readlinkSync(path.join(relDir(), 'current'))).toBe('v4');
    const builds = await sb.json<Array<{ digest: string }>>(['builds']);
    expect(builds.map((b) => b.digest).sort()).toEqual([digests[2], digests[3]].sort());
    // The app kept serving throughout.
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: 'v4' });
    expect((await sb.ok(['releases', '--json'])).stdout).toBe(releasesBefore);
    expect((await sb.ok(['verify'])).stdout).toContain('ledger intact');
    const again = await sb.json<GcJson>(['gc', '--keep', '1']);
    expect(again.bytesFreed).toBe(0);
  });

  it('run and rollback of a collected release fail with build_collected, appending nothing', async () => {
    const r = await sb.brr(['rollback', 'v1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('build');
    expect(r.stderr).toContain(`brr build --repo ${sb.repo} --ref ${commits[0]}`);
    const json = await sb.brr(['rollback', 'v1', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'build_collected' } });
    // show still shows the ledger record, and says the artifact is gone and how to rebuild it.
    const show = await sb.brr(['show', 'v1']);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(digests[0]);
    expect(show.stderr).toContain(`--ref ${commits[0]}`);
    expect(await sb.json(['show', 'v1'])).toMatchObject({ id: 'v1', buildPresent: false });
    expect(await sb.json(['show', 'v3'])).toMatchObject({ id: 'v3', buildPresent: true });
    const run = await sb.brr(['run', 'v2', '--json']);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'build_collected' } });
    const rels = await sb.json<Array<{ id: string }>>(['releases']);
    expect(rels.map((x) => x.id)).toEqual(['v4', 'v3', 'v2', 'v1']);
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: 'v4' });
  });

  it('rebuilding the commit gives the same digest, and the rollback then runs', async () => {
    const rebuilt = await sb.json<{ digest: string; cached: boolean }>(['build', '--ref', commits[0]!]);
    expect(rebuilt).toEqual(expect.objectContaining({ digest: digests[0], cached: false }));
    const rb = await sb.json<{ id: string; rollbackOf: string; build: string }>(['rollback', 'v1']);
    expect(rb).toMatchObject({ id: 'v5', rollbackOf: 'v1', build: digests[0] });
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: 'v5' });
  });
});
