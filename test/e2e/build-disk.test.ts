import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountTmpfs, unmountTmpfs } from '../helpers/tools.js';
import { BRR, pidsWithHome, Sandbox, TEST_SECRETS_KEY } from './harness.js';

/**
 * Building on a disk that fills up (a real 2 MB tmpfs as the home), and what killed builds
 * leave behind, through the real CLI.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A brr.yaml whose build writes `bytes` of incompressible output, so packaging needs that much again. */
function bigBuild(bytes: number, extra = ''): string {
  return `app: big
build:
  command: "${extra}mkdir -p dist && head -c ${bytes} /dev/urandom > dist/blob && echo 'setInterval(() => {}, 1000)' > dist/main.js"
  output: dist
processes:
  web:
    command: node main.js
`;
}

describe('disk full while building', () => {
  let sb: Sandbox;
  let home: string;
  let skip: string | null = null;
  beforeAll(async () => {
    sb = await Sandbox.create();
    home = path.join(sb.dir, 'small-home');
    mkdirSync(home);
    skip = mountTmpfs(home, '2m');
  });
  afterAll(async () => {
    if (!skip) unmountTmpfs(home);
    await sb.cleanup();
  });

  it('is a disk_full error naming where, the space needed and what is free; nothing is recorded or left behind', async (ctx) => {
    if (skip) return ctx.skip(skip);
    sb.commit('brr.yaml', bigBuild(1_300_000), 'big build');
    const r = await sb.brr(['build', '--json'], { env: { BRR_HOME: home } });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('disk_full');
    expect(r.stderr).toContain(`out of disk space while packaging the image: writing to ${path.join(home, 'oci')}`);
    expect(r.stderr).toMatch(/ENOSPC\); this build needs about 2\.\d MB, and [\d.]+ (MB|KB) are free there/);
    expect(r.stderr).toContain('hint: free space on that filesystem');
    expect(r.stderr).not.toContain('bug in brr');
    expect(readdirSync(path.join(home, 'tmp'))).toEqual([]);
    expect(readdirSync(path.join(home, 'oci', '.brr-tmp'))).toEqual([]);
    const builds = JSON.parse((await sb.brr(['builds', '--json'], { env: { BRR_HOME: home } })).stdout) as unknown[];
    expect(builds).toEqual([]);
    // With room for it, the same home builds.
    sb.commit('brr.yaml', bigBuild(300_000), 'smaller build');
    expect((await sb.brr(['build'], { env: { BRR_HOME: home } })).code).toBe(0);
  });

  it('is the same disk_full error for a build packed straight from git archive (no build command)', async (ctx) => {
    if (skip) return ctx.skip(skip);
    // Committed, incompressible: the layer needs about as much room as the file.
    writeFileSync(path.join(sb.repo, 'blob.bin'), randomBytes(2_500_000));
    sb.commit('brr.yaml', 'app: big\nprocesses:\n  web: { command: node main.js }\n', 'no build command');
    const r = await sb.brr(['build'], { env: { BRR_HOME: home } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^archive [0-9a-f]{12} from /m);
    expect(r.stderr).not.toMatch(/^(checkout|packing from a checkout)/m);
    expect(r.stderr).toContain(`out of disk space while packaging the image: writing to ${path.join(home, 'oci')}`);
    expect(r.stderr).not.toContain('bug in brr');
    expect(readdirSync(path.join(home, 'tmp'))).toEqual([]);
    expect(readdirSync(path.join(home, 'oci', '.brr-tmp'))).toEqual([]);
  });
});

describe('leftovers of killed builds', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await Sandbox.create();
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  it('are removed at the next build when their owner is dead; a live owner keeps its own', async () => {
    sb.commit('brr.yaml', bigBuild(1000, 'touch started && sleep 60; '), 'slow build');
    const child = spawn(process.execPath, [BRR, 'build'], {
      cwd: sb.repo,
      env: { ...process.env, BRR_HOME: sb.home, NO_COLOR: '1', BRR_SECRETS_KEY: TEST_SECRETS_KEY },
      stdio: 'ignore',
    });
    const tmp = path.join(sb.home, 'tmp');
    let work: string | undefined;
    for (let i = 0; i < 400 && !work; i++) {
      await sleep(50);
      const found = existsSync(tmp) ? readdirSync(tmp).find((n) => n.startsWith(`build-${child.pid}-`)) : undefined;
      if (found && existsSync(path.join(tmp, found, 'src', 'started'))) work = path.join(tmp, found);
    }
    expect(work).toBeDefined();
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // The build command it started outlives it; stop it the way an operator would.
    for (const pid of pidsWithHome(sb.home)) {
      try {
        if (readlinkSync(`/proc/${pid}/cwd`).startsWith(work!)) process.kill(pid, 'SIGKILL');
      } catch {}
    }
    expect(existsSync(work!)).toBe(true);
    // A scratch file of a killed packer in the OCI store, and one whose owner (this test) runs.
    const ociTmp = path.join(sb.home, 'oci', '.brr-tmp');
    mkdirSync(ociTmp, { recursive: true });
    const deadLayer = path.join(ociTmp, `layer-${child.pid}-0123456789ab`);
    const liveWork = path.join(tmp, `build-${process.pid}-abcdef`);
    writeFileSync(deadLayer, 'partial layer');
    mkdirSync(liveWork);

    sb.commit('brr.yaml', bigBuild(1000), 'quick build');
    const r = await sb.brr(['build']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`removed ${work} (left by a killed build)`);
    expect(r.stderr).toContain(`removed ${deadLayer} (left by a killed build)`);
    expect(existsSync(work!)).toBe(false);
    expect(existsSync(deadLayer)).toBe(false);
    expect(existsSync(liveWork)).toBe(true);
  });
});
