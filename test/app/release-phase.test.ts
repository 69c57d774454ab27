import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execReleaseCommand } from '../../src/app/release-phase-exec.js';
import { redactLines, releasePhaseDone, releasePhaseEnv, releasePhaseLogPath } from '../../src/app/release-phase.js';
import { buildImage } from '../../src/build/build.js';
import { homePaths } from '../../src/core/home.js';
import { findBuild } from '../../src/store/builds.js';
import { IMAGE_LABELS } from '../../src/store/image.js';
import { readConfig, readManifest } from '../../src/store/image-read.js';
import { OciLayout } from '../../src/store/oci-layout.js';
import { cleanupTempDirs, repoWith, tempHome } from '../build/git-fixture.js';

const dir = mkdtempSync(path.join(tmpdir(), 'brr-release-phase-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  cleanupTempDirs();
});

describe('the release command travels in the image', () => {
  const yaml = 'processes:\n  web: { command: "true" }\n';
  const labels = async (paths: ReturnType<typeof tempHome>, digest: string) => {
    const layout = new OciLayout(paths.oci);
    return (await readConfig(layout, await readManifest(layout, digest))).config.Labels;
  };

  it('as label dev.brr.release, read back into the build record; the digest stays reproducible', async () => {
    const { repo } = repoWith({ 'brr.yaml': `${yaml}release:\n  command: ./migrate up\n` });
    const a = tempHome();
    const b = tempHome();
    const first = await buildImage({ paths: a, repo });
    const again = await buildImage({ paths: b, repo });
    expect(again.digest).toBe(first.digest);
    expect((await labels(a, first.digest))[IMAGE_LABELS.release]).toBe('{"command":"./migrate up"}');
    expect((await findBuild(a, first.digest)).release).toEqual({ command: './migrate up' });
  });

  it('without a release phase there is no label at all, so such images keep their old digests', async () => {
    const { repo } = repoWith({ 'brr.yaml': yaml });
    const paths = tempHome();
    const built = await buildImage({ paths, repo });
    expect(Object.keys(await labels(paths, built.digest))).not.toContain(IMAGE_LABELS.release);
    expect((await findBuild(paths, built.digest)).release).toBeNull();
  });
});

/** Running (not a zombie waiting for a reaper that may not come in a container). */
function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('release phase planning', () => {
  it('runs once per release: only a success for that very release counts', () => {
    const events = [
      { type: 'release-phase-failed' as const, release: 'v2' },
      { type: 'release-phase-succeeded' as const, release: 'v1' },
      { type: 'release-phase-started' as const, release: 'v2' },
    ];
    expect(releasePhaseDone(events, 'v1')).toBe(true);
    expect(releasePhaseDone(events, 'v2')).toBe(false);
    expect(releasePhaseDone([], 'v1')).toBe(false);
  });

  it('environment: a minimal base, then config, then BRR_APP and BRR_RELEASE, which config cannot override', () => {
    const env = releasePhaseEnv(
      { PATH: '/bin', HOME: '/root', SECRET_OF_CLI: 'x', TZ: 'UTC' },
      { DATABASE_URL: 'pg://', PATH: '/opt/bin', BRR_APP: 'evil' },
      'upf',
      'v3',
    );
    expect(env).toEqual({
      PATH: '/opt/bin',
      HOME: '/root',
      TZ: 'UTC',
      DATABASE_URL: 'pg://',
      BRR_APP: 'upf',
      BRR_RELEASE: 'v3',
    });
  });

  it('masks secret values in output lines, longest first; short or public values stay', () => {
    expect(redactLines(['login admin:hunter22xyz', 'pw=hunter22 pin=123'], ['hunter22', 'hunter22xyz', '123'])).toEqual(
      ['login admin:<redacted>', 'pw=<redacted> pin=123'],
    );
  });

  it('logs to <home>/logs/<app>/release.<id>.log', () => {
    expect(releasePhaseLogPath(homePaths('/h'), 'upf', 'v7')).toBe('/h/logs/upf/release.v7.log');
  });
});

describe('running the release command', () => {
  it('appends its output to the log and keeps the last lines of both streams', async () => {
    const log = path.join(dir, 'ok.log');
    const seen: string[] = [];
    const r = await execReleaseCommand({
      command: 'for i in $(seq 1 30); do echo out$i; done; echo "err $BRR_RELEASE" >&2; printf partial; exit 3',
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', BRR_RELEASE: 'v9' },
      logFile: log,
      header: '--- run 1',
      tailLines: 5,
      onLine: (l) => seen.push(l),
    });
    expect(r).toMatchObject({ exitCode: 3, signal: null, error: null });
    expect(r.lastLines).toHaveLength(5);
    expect(r.lastLines).toEqual(expect.arrayContaining(['out29', 'out30', 'err v9', 'partial']));
    expect(seen).toHaveLength(32);
    const text = readFileSync(log, 'utf8');
    expect(text.startsWith('--- run 1\nout1\n')).toBe(true);
    expect(text).toContain('err v9');
    expect(text.trimEnd().endsWith('--- exit code 3')).toBe(true);
    // A second run of the same release appends to the same file.
    await execReleaseCommand({
      command: 'echo again',
      cwd: dir,
      env: {},
      logFile: log,
      header: '--- run 2',
      tailLines: 5,
    });
    expect(readFileSync(log, 'utf8')).toMatch(/--- exit code 3\n--- run 2\nagain\n--- exit code 0\n$/);
  });

  it('aborting stops the whole process group, not only the shell', async () => {
    const ac = new AbortController();
    const pidFile = path.join(dir, 'grandchild.pid');
    const run = execReleaseCommand({
      command: `sleep 60 & echo $! > ${pidFile}; echo started; wait`,
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      logFile: path.join(dir, 'abort.log'),
      header: '---',
      tailLines: 5,
      onLine: (l) => (l === 'started' ? ac.abort(new Error('lease lost')) : undefined),
      signal: ac.signal,
    });
    const r = await run;
    expect(r.exitCode === null || r.exitCode !== 0).toBe(true);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((res) => setTimeout(res, 100));
    expect(alive(grandchild)).toBe(false);
  });

  it('a command that cannot start (its directory is gone) is a failure with the reason', async () => {
    const r = await execReleaseCommand({
      command: 'true',
      cwd: path.join(dir, 'nope'),
      env: {},
      logFile: path.join(dir, 'nostart.log'),
      header: '---',
      tailLines: 5,
    });
    expect(r.exitCode).toBeNull();
    expect(r.error).toMatch(/ENOENT/);
    expect(r.lastLines.join('\n')).toMatch(/ENOENT/);
  });
});
