import { existsSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/build/build.js';
import { fixedClock } from '../../src/core/clock.js';
import type { BrrError } from '../../src/core/errors.js';
import { materializeRelease } from '../../src/store/materialize.js';
import { OciLayout } from '../../src/store/oci-layout.js';
import { readConfig, readManifest } from '../../src/store/image-read.js';
import { cleanupTempDirs, commitAll, repoWith, sampleRepo, tempHome } from './git-fixture.js';

afterAll(cleanupTempDirs);

const indexEntries = async (oci: string) => (await new OciLayout(oci).listImages()).length;

describe('buildImage', () => {
  it('builds the sample into an image whose config names the commit and the processes', async () => {
    const { repo, commit } = sampleRepo();
    const paths = tempHome();
    const lines: string[] = [];
    const r = await buildImage({
      paths,
      repo,
      progress: (l) => lines.push(l),
      clock: fixedClock('2030-01-01T00:00:00Z'),
    });
    expect(r).toMatchObject({ commit, cached: false, dirty: false });
    expect(r.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(r.record).toMatchObject({
      digest: r.digest,
      commit,
      app: 'udp-counter',
      path: '',
      source: repo,
      createdAt: '2030-01-01T00:00:00.000Z',
    });
    expect(r.record.ref).toBe(`udp-counter-${commit.slice(0, 12)}-${r.digest.slice(7, 15)}`);
    expect(Object.keys(r.record.processes)).toEqual(['nf']);
    expect(lines).toContain('$ node build.mjs');
    const layout = new OciLayout(paths.oci);
    const config = await readConfig(layout, await readManifest(layout, r.digest));
    expect(config.created).toBe('2024-05-06T07:08:09.000Z');
    expect(config.config.WorkingDir).toBe('/app');
    expect(config.config.Labels['org.opencontainers.image.revision']).toBe(commit);
    expect(JSON.parse(config.config.Labels['dev.brr.manifest']!).nf.command).toBe('node nf.mjs');
    const dir = await materializeRelease(paths, 'udp-counter', 'v1', r.digest);
    expect(JSON.parse(readFileSync(path.join(dir, 'build-info.json'), 'utf8'))).toEqual({
      builtFrom: '2024-05-06T07:08:09.000Z',
    });
    expect(existsSync(path.join(dir, 'nf.mjs'))).toBe(true);
  });

  it('hits the cache the second time, and rebuilds to the same digest with noCache and in another home', async () => {
    const { repo } = sampleRepo();
    const paths = tempHome();
    const first = await buildImage({ paths, repo });
    const lines: string[] = [];
    const hit = await buildImage({ paths, repo, progress: (l) => lines.push(l) });
    expect(hit).toMatchObject({ digest: first.digest, cached: true });
    expect(lines).toEqual([]); // no checkout, no recipe
    const rebuilt = await buildImage({ paths, repo, noCache: true });
    expect(rebuilt).toMatchObject({ digest: first.digest, cached: false });
    const elsewhere = await buildImage({ paths: tempHome(), repo });
    expect(elsewhere).toMatchObject({ digest: first.digest, cached: false });
  });

  it('gives the same digest for the same commit in another clone of the repository', async () => {
    const a = sampleRepo();
    const b = sampleRepo();
    expect(b.commit).toBe(a.commit);
    expect((await buildImage({ paths: tempHome(), repo: b.repo })).digest).toBe(
      (await buildImage({ paths: tempHome(), repo: a.repo })).digest,
    );
  });

  it('records the same image for another app without rebuilding it', async () => {
    const { repo } = sampleRepo();
    const paths = tempHome();
    const first = await buildImage({ paths, repo });
    const other = await buildImage({ paths, repo, app: 'udp-prod' });
    expect(other).toMatchObject({ digest: first.digest, cached: true });
    expect(other.record.app).toBe('udp-prod');
    expect(await indexEntries(paths.oci)).toBe(2);
  });

  it('reports a dirty work tree and leaves the uncommitted change out of the image', async () => {
    const { repo } = sampleRepo();
    appendFileSync(path.join(repo, 'src/nf.mjs'), '\n// UNCOMMITTED CHANGE\n');
    writeFileSync(path.join(repo, 'src/untracked.mjs'), 'untracked\n');
    const paths = tempHome();
    const r = await buildImage({ paths, repo });
    expect(r.dirty).toBe(true);
    const dir = await materializeRelease(paths, 'udp-counter', 'v1', r.digest);
    expect(readFileSync(path.join(dir, 'nf.mjs'), 'utf8')).not.toContain('UNCOMMITTED CHANGE');
    expect(existsSync(path.join(dir, 'untracked.mjs'))).toBe(false);
    expect(r.digest).toBe((await buildImage({ paths: tempHome(), repo: sampleRepo().repo })).digest);
  });

  it('builds an older commit given by --ref', async () => {
    const { repo, commit } = sampleRepo();
    appendFileSync(path.join(repo, 'src/nf.mjs'), '\n// v2\n');
    const second = commitAll(repo, 'v2', '2024-06-01T00:00:00Z');
    const paths = tempHome();
    const old = await buildImage({ paths, repo, ref: commit.slice(0, 10) });
    const head = await buildImage({ paths, repo });
    expect(old.commit).toBe(commit);
    expect(head.commit).toBe(second);
    expect(head.digest).not.toBe(old.digest);
  });

  it('builds a subdirectory of a monorepo', async () => {
    const { repo } = sampleRepo('services/udp');
    const paths = tempHome();
    const r = await buildImage({ paths, repo, path: './services/udp/' });
    expect(r.record.path).toBe('services/udp');
    const dir = await materializeRelease(paths, 'udp-counter', 'v1', r.digest);
    expect(existsSync(path.join(dir, 'nf.mjs'))).toBe(true);
    expect(existsSync(path.join(dir, 'README.md'))).toBe(false);
    await expect(buildImage({ paths, repo, path: 'services/nope' })).rejects.toMatchObject({
      code: 'path_not_found',
      message: expect.stringContaining('services/nope'),
    });
    await expect(buildImage({ paths, repo, path: '../x' })).rejects.toMatchObject({ code: 'path_invalid' });
  });

  it('runs the recipe with a scrubbed environment', async () => {
    const { repo } = repoWith({
      'brr.yaml':
        'build:\n  command: ["mkdir -p out", "env | sort > out/env.txt"]\n  output: out\nprocesses:\n  web: { command: "true" }\n',
    });
    process.env.BRR_TEST_SECRET = 'deploy-token';
    try {
      const paths = tempHome();
      const r = await buildImage({ paths, repo });
      const dir = await materializeRelease(paths, 'scrubbed', 'v1', r.digest);
      const env = readFileSync(path.join(dir, 'env.txt'), 'utf8');
      expect(env).not.toContain('deploy-token');
      const names = env
        .trim()
        .split('\n')
        .map((l) => l.split('=')[0]);
      // sh itself adds PWD (and dash may add OLDPWD, SHLVL, _); nothing else may come from brr's caller.
      expect(names.filter((n) => !['PWD', 'OLDPWD', 'SHLVL', '_'].includes(n!))).toEqual([
        'CI',
        'HOME',
        'LANG',
        'PATH',
        'SOURCE_DATE_EPOCH',
        'TZ',
      ]);
      expect(env).toContain(`SOURCE_DATE_EPOCH=${Date.parse('2024-05-06T07:08:09Z') / 1000}\n`);
    } finally {
      delete process.env.BRR_TEST_SECRET;
    }
  });
});

describe('buildImage failures leave index.json untouched', () => {
  it('names the failing command, its exit code and the last log lines', async () => {
    const { repo } = repoWith({
      'brr.yaml':
        'build:\n  command:\n    - echo first step\n    - "for i in $(seq 1 30); do echo line$i; done; exit 3"\nprocesses:\n  web: { command: "true" }\n',
    });
    const paths = tempHome();
    const err = (await buildImage({ paths, repo }).catch((e: unknown) => e)) as BrrError;
    expect(err.code).toBe('build_failed');
    expect(err.exitCode).toBe(1);
    expect(err.message).toContain('exited with code 3');
    expect(err.message).toContain('for i in $(seq 1 30)');
    expect(err.message).toContain('line30');
    expect(err.message).not.toContain('line5\n');
    const logFile = err.details!.logFile as string;
    expect(err.hint).toContain(logFile);
    expect(readFileSync(logFile, 'utf8')).toContain('first step\n');
    expect(await indexEntries(paths.oci)).toBe(0);
    expect(existsSync(paths.tmp) ? (await import('node:fs')).readdirSync(paths.tmp) : []).toEqual([]);
  });

  it('refuses an unknown ref, naming it and the repository', async () => {
    const { repo } = sampleRepo();
    await expect(buildImage({ paths: tempHome(), repo, ref: 'no-such-branch' })).rejects.toMatchObject({
      code: 'ref_not_found',
      message: expect.stringContaining(`"no-such-branch" does not name a commit in ${repo}`),
      hint: `git -C ${repo} log --oneline`,
    });
  });

  it('refuses a directory that is not a git repository', async () => {
    await expect(buildImage({ paths: tempHome(), repo: tempHome().root })).rejects.toMatchObject({
      code: 'not_a_repo',
      exitCode: 2,
    });
  });

  it('refuses a bad manifest and a missing build output', async () => {
    const bad = repoWith({ 'brr.yaml': 'processes:\n  web: { command: "x", scale: -1 }\n' });
    const paths = tempHome();
    await expect(buildImage({ paths, repo: bad.repo })).rejects.toMatchObject({
      code: 'manifest_invalid',
      message: expect.stringContaining('processes.web.scale'),
    });
    const noOut = repoWith({
      'brr.yaml': 'build: { command: "true", output: dist }\nprocesses:\n  web: { command: "x" }\n',
    });
    await expect(buildImage({ paths, repo: noOut.repo })).rejects.toMatchObject({ code: 'build_output_missing' });
    expect(await indexEntries(paths.oci)).toBe(0);
  });
});
