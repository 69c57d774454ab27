import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openContext, type Context } from '../../src/app/context.js';
import { changeConfig } from '../../src/app/change-config.js';
import { createRelease } from '../../src/app/create-release.js';
import { collectGarbage, type GcReport } from '../../src/app/gc.js';
import { buildStatus, checkBuildVerifies, preflightRelease } from '../../src/app/preflight.js';
import { buildImage } from '../../src/build/build.js';
import { fixedClock } from '../../src/core/clock.js';
import type { BrrError } from '../../src/core/errors.js';
import type { HomePaths } from '../../src/core/home.js';
import { readManifest } from '../../src/store/image-read.js';
import { materializeRelease, setCurrentLink } from '../../src/store/materialize.js';
import { MEDIA_TYPES, OciLayout } from '../../src/store/oci-layout.js';
import { cleanupTempDirs, commitAll, sampleRepo, tempHome } from '../build/git-fixture.js';

/**
 * GC against a real SQLite ledger, real builds of a real git repository and real materialized
 * (read-only) release trees. Seven releases, keep 1:
 *   v1 b1 · v2 b2 · v3 b3 (same layer as b2) · v4 b4 · v5 b5 · v6 b5 (config change) · v7 b6
 * v3 and v5 served (activated), v5 is current; v7 is the newest. b0 was built before anything
 * and never released; b7 was built after v7 and not released yet.
 * Kept: v7 (recent), v5 (current), v3 (previous healthy); builds b6, b5, b3, b7.
 */

afterAll(cleanupTempDirs);

let paths: HomePaths;
let ctx: Context;
let layout: OciLayout;
let repo: string;
const b: string[] = [];
const commits: string[] = [];
const APP = 'upf';

const yml = (scale: number) =>
  readFileSync(path.join(repo, 'brr.yaml'), 'utf8').replace(/scale: \d+/, `scale: ${scale}`);
const blobs = () => readdirSync(path.join(paths.oci, 'blobs', 'sha256')).sort();
const indexDigests = async () => [...new Set((await layout.listImages()).map((d) => d.digest))].sort();
const dirs = () => readdirSync(path.join(paths.releases, APP)).sort();
const HOUR = 3600_000;
const ago = (ms: number) => new Date(Date.now() - ms);

beforeAll(async () => {
  ({ repo } = sampleRepo());
  paths = tempHome();
  layout = new OciLayout(paths.oci);
  const build = async (i: number, createdAt: string) => {
    b[i] = (await buildImage({ paths, repo, ref: commits[i], app: APP, clock: fixedClock(createdAt) })).digest;
  };
  // Distinct commit dates give distinct layers; c3 repeats c2's date and only changes brr.yaml
  // (not part of the build output), so b3 shares b2's layer but has its own config and manifest.
  const day = (d: number) => `2024-05-0${d}T07:08:09Z`;
  writeFileSync(path.join(repo, 'src', 'v.txt'), 'c0\n');
  commits[0] = commitAll(repo, 'c0', day(1));
  for (let i = 1; i <= 7; i++) {
    if (i === 3) writeFileSync(path.join(repo, 'brr.yaml'), yml(2));
    else writeFileSync(path.join(repo, 'src', 'v.txt'), `c${i}\n`);
    commits[i] = commitAll(repo, `c${i}`, day(i === 3 ? 2 : i === 1 ? 9 : i));
  }
  for (let i = 0; i <= 7; i++) await build(i, i === 7 ? ago(-HOUR).toISOString() : '2020-01-01T00:00:00.000Z');
  ctx = openContext({ home: paths.root, actor: 'tester@gc' });
  for (const i of [1, 2, 3, 4, 5]) await createRelease(ctx, APP, { build: b[i] });
  await changeConfig(ctx, APP, { set: ['X=1'] });
  await createRelease(ctx, APP, { build: b[6] });
  for (const [i, id] of ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'].entries())
    await materializeRelease(paths, APP, id, b[[1, 2, 3, 4, 5, 5][i]!]!);
  for (const id of ['v1', 'v3', 'v5'])
    await ctx.ledger.appendEvent(APP, {
      type: 'activated',
      release: id,
      detail: {},
      actor: 'sup',
      createdAt: new Date().toISOString(),
    });
  await setCurrentLink(paths, APP, 'v5');
});

afterAll(async () => {
  await ctx.close();
});

describe('brr gc (use-case)', () => {
  let layer23 = '';
  let orphan = '';
  let before: { blobs: string[]; index: string; dirs: string[] };
  let releasesBefore = '';

  it('the fixture is what the comment says', async () => {
    expect(new Set(b).size).toBe(8);
    const [m2, m3] = [await readManifest(layout, b[2]!), await readManifest(layout, b[3]!)];
    expect(m2.layers[0]!.digest).toBe(m3.layers[0]!.digest);
    expect(m2.config.digest).not.toBe(m3.config.digest);
    layer23 = m2.layers[0]!.digest;
    // Debris: an old orphan blob (a crashed build), an old and a fresh materialization temp dir.
    orphan = (await layout.putBlob('orphan', MEDIA_TYPES.config)).digest;
    utimesSync(layout.blobPath(orphan), ago(48 * HOUR), ago(48 * HOUR));
    for (const [name, t] of [
      ['.tmp-v9-old', ago(48 * HOUR)],
      ['.tmp-v9-new', new Date()],
    ] as const) {
      mkdirSync(path.join(paths.releases, APP, name));
      utimesSync(path.join(paths.releases, APP, name), t, t);
    }
    before = { blobs: blobs(), index: readFileSync(path.join(paths.oci, 'index.json'), 'utf8'), dirs: dirs() };
    releasesBefore = JSON.stringify(await ctx.ledger.listReleases(APP));
  });

  let dry: GcReport;
  it('--dry-run reports the plan and deletes nothing', async () => {
    dry = await collectGarbage(ctx, { keep: 1, dryRun: true });
    expect(dry.apps[0]!.retained.map((r) => `${r.id}:${r.reasons.join('+')}`)).toEqual([
      'v7:recent',
      'v5:current',
      'v3:previous-healthy',
    ]);
    expect(dry.apps[0]!.removedDirs).toEqual(['v1', 'v2', 'v4', 'v6']);
    expect(dry.builds.removed.map((x) => x.digest).sort()).toEqual([b[0], b[1], b[2], b[4]].sort());
    expect(dry.builds.retained.map((x) => x.digest).sort()).toEqual([b[3], b[5], b[6], b[7]].sort());
    expect(dry.bytesFreed).toBeGreaterThan(0);
    expect({ blobs: blobs(), index: readFileSync(path.join(paths.oci, 'index.json'), 'utf8'), dirs: dirs() }).toEqual(
      before,
    );
  });

  it('removes unretained dirs, images and unreachable blobs; keeps rollback targets and shared layers', async () => {
    const report = await collectGarbage(ctx, { keep: 1 });
    expect(report.bytesFreed).toBe(dry.bytesFreed);
    // v7 was never materialized; the fresh temp dir may belong to a materialization at work.
    expect(dirs()).toEqual(['.tmp-v9-new', 'current', 'v3', 'v5']);
    expect(readlinkSync(path.join(paths.releases, APP, 'current'))).toBe('v5');
    expect(await indexDigests()).toEqual([b[3], b[5], b[6], b[7]].sort());
    for (const i of [3, 5, 6, 7])
      await expect(
        checkBuildVerifies(paths, { app: APP, id: `b${i}`, build: { digest: b[i]!, commit: commits[i]! } }),
      ).resolves.toBeUndefined();
    const left = new Set(blobs().map((h) => `sha256:${h}`));
    expect(left.has(layer23)).toBe(true);
    for (const i of [0, 1, 2, 4]) expect(left.has(b[i]!), `manifest b${i}`).toBe(false);
    expect(left.has(orphan)).toBe(false);
    // Every blob left is needed by a kept image: nothing unreachable survives.
    const needed = new Set<string>();
    for (const d of await indexDigests()) {
      const m = await readManifest(layout, d);
      [d, m.config.digest, ...m.layers.map((l) => l.digest)].forEach((x) => needed.add(x));
    }
    expect([...left].sort()).toEqual([...needed].sort());
  });

  it('never touches the ledger: same releases, chain verifies', async () => {
    expect(JSON.stringify(await ctx.ledger.listReleases(APP))).toBe(releasesBefore);
    const v = await ctx.ledger.verify();
    expect(v).toMatchObject({ ok: true, releases: 7 });
  });

  it('is idempotent: a second run frees nothing', async () => {
    const again = await collectGarbage(ctx, { keep: 1 });
    expect(again.bytesFreed).toBe(0);
    expect(again.builds.removed).toEqual([]);
  });

  it('leaves the dirs of an app being deployed (lease held) alone, and collects them later', async () => {
    await materializeRelease(paths, APP, 'v6', b[5]!);
    const lease = await ctx.ledger.acquireLease(
      APP,
      { owner: 'carol@ops', host: 'elsewhere', pid: 1 },
      60_000,
      new Date(),
    );
    const busy = await collectGarbage(ctx, { keep: 1 });
    expect(busy).toMatchObject({ busyApps: [APP], apps: [{ removedDirs: [] }] });
    expect(dirs()).toContain('v6');
    await ctx.ledger.releaseLease(APP, lease.token);
    const later = await collectGarbage(ctx, { keep: 1 });
    expect(later).toMatchObject({ busyApps: [], apps: [{ removedDirs: ['v6'] }] });
    expect(dirs()).not.toContain('v6');
  });

  it('a collected release fails preflight with build_collected and the exact rebuild command', async () => {
    const v1 = (await ctx.ledger.getRelease(APP, 'v1'))!;
    const err = (await preflightRelease(ctx, APP, v1).catch((e: unknown) => e)) as BrrError;
    expect(err.code).toBe('build_collected');
    expect(err.exitCode).toBe(1);
    expect(err.message).toContain('brr gc');
    expect(err.hint).toContain(`brr build --repo ${repo} --ref ${commits[1]}`);
    await expect(preflightRelease(ctx, APP, (await ctx.ledger.getRelease(APP, 'v3'))!)).resolves.toMatchObject({
      checks: ['build', 'secrets', 'trust'],
    });
    // `brr show` reports it without failing: the ledger record itself is intact.
    expect(await buildStatus(paths, v1)).toEqual({ present: false, message: err.message, hint: err.hint });
    expect(await buildStatus(paths, (await ctx.ledger.getRelease(APP, 'v3'))!)).toEqual({
      present: true,
      message: null,
      hint: null,
    });
  });

  it('rebuilding the commit gives the same digest, and the release runs from it again', async () => {
    const rebuilt = await buildImage({ paths, repo, ref: commits[1], app: APP });
    expect(rebuilt).toMatchObject({ digest: b[1], cached: false });
    const v1 = (await ctx.ledger.getRelease(APP, 'v1'))!;
    await expect(preflightRelease(ctx, APP, v1)).resolves.toMatchObject({ digest: b[1] });
    expect(existsSync(path.join(await materializeRelease(paths, APP, 'v1', b[1]!), 'nf.mjs'))).toBe(true);
  });

  it('a damaged blob of a kept build fails preflight with store_corrupt', async () => {
    const layer = (await readManifest(layout, b[6]!)).layers[0]!.digest;
    const bytes = readFileSync(layout.blobPath(layer));
    bytes[10] = bytes[10]! ^ 0xff;
    writeFileSync(layout.blobPath(layer), bytes);
    const v7 = (await ctx.ledger.getRelease(APP, 'v7'))!;
    await expect(preflightRelease(ctx, APP, v7)).rejects.toMatchObject({
      code: 'store_corrupt',
      details: { blob: layer, what: 'layer', problem: 'mismatch' },
    });
  });
});
