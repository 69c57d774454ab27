import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, type BuildResult } from '../../src/build/build.js';
import { fixedClock } from '../../src/core/clock.js';
import type { HomePaths } from '../../src/core/home.js';
import { findBuild, latestBuild, listBuilds } from '../../src/store/builds.js';
import { ANNOTATIONS, MEDIA_TYPES, OciLayout } from '../../src/store/oci-layout.js';
import { cleanupTempDirs, commitAll, sampleRepo, tempHome } from '../build/git-fixture.js';

afterAll(cleanupTempDirs);

let paths: HomePaths;
let older: BuildResult;
let newer: BuildResult;
let forProd: BuildResult;

beforeAll(async () => {
  const { repo } = sampleRepo();
  paths = tempHome();
  older = await buildImage({ paths, repo, clock: fixedClock('2030-01-01T00:00:00Z') });
  appendFileSync(path.join(repo, 'src/nf.mjs'), '\n// v2\n');
  commitAll(repo, 'v2', '2024-08-01T00:00:00Z');
  newer = await buildImage({ paths, repo, clock: fixedClock('2030-01-02T00:00:00Z') });
  forProd = await buildImage({
    paths,
    repo,
    ref: older.commit,
    app: 'udp-prod',
    clock: fixedClock('2030-01-03T00:00:00Z'),
  });
});

describe('listBuilds', () => {
  it('lists every index entry newest first, with processes from the image config', async () => {
    const builds = await listBuilds(paths);
    expect(builds.map((b) => [b.digest, b.app, b.createdAt])).toEqual([
      [older.digest, 'udp-prod', '2030-01-03T00:00:00.000Z'],
      [newer.digest, 'udp-counter', '2030-01-02T00:00:00.000Z'],
      [older.digest, 'udp-counter', '2030-01-01T00:00:00.000Z'],
    ]);
    expect(forProd.cached).toBe(true);
    expect(builds[1]!.processes.nf!.ports.map((p) => p.name)).toEqual(['http', 'data']);
    expect(builds[1]!.size).toBe(newer.record.size);
    expect(builds[1]!.size).toBeGreaterThan(1000);
    expect(builds[1]).toEqual(newer.record);
  });

  it('is empty for a fresh home', async () => {
    expect(await listBuilds(tempHome())).toEqual([]);
  });
});

describe('findBuild', () => {
  it('finds a build by digest, by sha256: prefix and by bare hex prefix', async () => {
    const hex = newer.digest.slice(7);
    expect((await findBuild(paths, newer.digest)).commit).toBe(newer.commit);
    expect((await findBuild(paths, `sha256:${hex.slice(0, 7)}`)).digest).toBe(newer.digest);
    expect((await findBuild(paths, hex.slice(0, 12).toUpperCase())).digest).toBe(newer.digest);
    expect((await findBuild(paths, older.digest)).app).toBe('udp-prod'); // one image, newest entry
  });

  it('refuses short, malformed, unknown and ambiguous references', async () => {
    await expect(findBuild(paths, newer.digest.slice(7, 13))).rejects.toMatchObject({
      code: 'build_ref_invalid',
      exitCode: 2,
    });
    await expect(findBuild(paths, 'sha256:xyz1234')).rejects.toMatchObject({ code: 'build_ref_invalid' });
    await expect(findBuild(paths, '0000000')).rejects.toMatchObject({ code: 'build_not_found', hint: 'brr builds' });

    const crowded = tempHome();
    const layout = new OciLayout(crowded.oci);
    await layout.init();
    for (const tail of ['1', '2']) {
      const digest = `sha256:abcdef${tail}${'0'.repeat(57)}`;
      await layout.addImage({
        mediaType: MEDIA_TYPES.manifest,
        digest,
        size: 10,
        annotations: {
          [ANNOTATIONS.refName]: `r${tail}`,
          [ANNOTATIONS.revision]: 'c'.repeat(40),
          [ANNOTATIONS.cacheKey]: tail,
        },
      });
    }
    await expect(findBuild(crowded, 'abcdef0')).rejects.toMatchObject({ code: 'build_not_found' });
    await expect(findBuild(crowded, 'abcdef')).rejects.toMatchObject({ code: 'build_ref_invalid' });
    await expect(findBuild(crowded, 'abcdef1')).resolves.toMatchObject({ ref: 'r1', processes: {} });
    await layout.addImage({
      mediaType: MEDIA_TYPES.manifest,
      digest: `sha256:abcdef1${'1'.repeat(57)}`,
      size: 10,
      annotations: { [ANNOTATIONS.refName]: 'r3', [ANNOTATIONS.revision]: 'c'.repeat(40), [ANNOTATIONS.cacheKey]: '3' },
    });
    await expect(findBuild(crowded, 'abcdef1')).rejects.toMatchObject({ code: 'build_ambiguous', exitCode: 2 });
  });
});

describe('latestBuild', () => {
  it('returns the newest build of an app, or null', async () => {
    expect((await latestBuild(paths, 'udp-counter'))?.digest).toBe(newer.digest);
    expect((await latestBuild(paths, 'udp-prod'))?.digest).toBe(older.digest);
    expect(await latestBuild(paths, 'nobody')).toBeNull();
  });
});
