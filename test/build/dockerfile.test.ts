import { chmodSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/build/build.js';
import { buildArgv, detectEngine, exportArgv, removeArgv, type DockerfileBuild } from '../../src/build/dockerfile.js';
import { commitTime } from '../../src/build/checkout.js';
import { pushBuild } from '../../src/registry/push-build.js';
import { readConfig, readManifest } from '../../src/store/image-read.js';
import { OciLayout } from '../../src/store/oci-layout.js';
import { cleanupTempDirs, commitAll, repoWith, tempHome } from './git-fixture.js';
import { podmanUnavailable, startPodman, type TestPodman } from '../helpers/podman.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { missingTool } from '../helpers/tools.js';

/** `build.dockerfile`: the engine's command lines (data), and a real podman build imported by digest. */

const b: DockerfileBuild = {
  engine: 'podman',
  context: '/w/src',
  dockerfile: '/w/src/Dockerfile',
  tag: 'localhost/brr-build:abc',
  epoch: 1700000000,
  labels: { 'b.l': '2', 'a.l': '{"x":1}' },
  out: '/w/oci',
};

describe('engine command lines', () => {
  it('podman: --timestamp and SOURCE_DATE_EPOCH pin every time; labels sorted', () => {
    expect(buildArgv(b)).toEqual([
      'podman',
      'build',
      '--tag',
      'localhost/brr-build:abc',
      '--timestamp',
      '1700000000',
      '--file',
      '/w/src/Dockerfile',
      '--build-arg',
      'SOURCE_DATE_EPOCH=1700000000',
      '--label',
      'a.l={"x":1}',
      '--label',
      'b.l=2',
      '/w/src',
    ]);
    expect(exportArgv(b)).toEqual(['podman', 'push', 'localhost/brr-build:abc', 'oci:/w/oci:image']);
    expect(removeArgv(b)).toEqual(['podman', 'rmi', '--force', 'localhost/brr-build:abc']);
  });
  it('buildah builds the same way; docker writes an OCI archive with rewritten timestamps', () => {
    expect(buildArgv({ ...b, engine: 'buildah' }).slice(0, 2)).toEqual(['buildah', 'build']);
    expect(buildArgv({ ...b, engine: 'docker', out: '/w/i.tar' })).toContain(
      'type=oci,dest=/w/i.tar,rewrite-timestamp=true',
    );
    expect(exportArgv({ ...b, engine: 'docker' })).toBeNull();
  });
  it('engine detection: BRR_CONTAINER_ENGINE, else podman, buildah, docker', () => {
    expect(detectEngine({ BRR_CONTAINER_ENGINE: 'docker' }, () => true)).toBe('docker');
    expect(detectEngine({}, (c) => c !== 'podman')).toBe('buildah');
    expect(() => detectEngine({}, () => false)).toThrow(expect.objectContaining({ code: 'container_engine_missing' }));
  });
});

const skip = missingTool('docker-registry') ?? missingTool('busybox') ?? podmanUnavailable();

describe.skipIf(!!skip)('a Dockerfile build with podman', () => {
  let podman: TestPodman;
  let reg: TestRegistry;
  const saved = { ...process.env };
  beforeAll(async () => {
    reg = await startRegistry();
    podman = startPodman([reg.host]);
    Object.assign(process.env, podman.env); // brr runs the engine with the caller's environment
  });
  afterAll(async () => {
    for (const k of Object.keys(podman?.env ?? {})) if (saved[k] === undefined) delete process.env[k];
    podman?.cleanup();
    await reg?.stop();
    cleanupTempDirs();
  });

  it('builds on the clean checkout, imports by digest, reproducibly, and the image runs', async () => {
    const dockerfile = [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'ARG SOURCE_DATE_EPOCH',
      'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /app && echo built-at-$SOURCE_DATE_EPOCH > /app/stamp"]',
      'COPY app/ /app/',
      'CMD ["/bin/busybox", "cat", "/app/stamp", "/app/hello.txt"]',
    ].join('\n');
    const { repo } = repoWith({
      'brr.yaml': 'app: df\nbuild:\n  dockerfile: Dockerfile\nprocesses:\n  web: { command: "cat /app/hello.txt" }\n',
      Dockerfile: `${dockerfile}\n`,
      'app/hello.txt': 'hello from a Dockerfile\n',
    });
    copyFileSync('/bin/busybox', path.join(repo, 'busybox'));
    chmodSync(path.join(repo, 'busybox'), 0o755);
    const commit = commitAll(repo, 'busybox');
    const home = tempHome();
    const first = await buildImage({ paths: home, repo });
    const layout = new OciLayout(home.oci);
    const m = await readManifest(layout, first.digest);
    for (const d of [first.digest, m.config.digest, ...m.layers.map((l) => l.digest)])
      expect(await layout.verifyBlob(d)).toBe('ok');
    const c = await readConfig(layout, m);
    expect(c.config.Labels['org.opencontainers.image.revision']).toBe(commit);
    expect(first.record.processes.web!.command).toBe('cat /app/hello.txt');
    expect(Date.parse(c.created)).toBe((await commitTime(repo, commit)) * 1000);

    const again = await buildImage({ paths: tempHome(), repo, noCache: true });
    expect(again.digest).toBe(first.digest);

    const pushed = await pushBuild({ paths: home, build: first.digest, to: `${reg.host}/df:1` });
    const run = podman.run(['run', '--rm', '--network', 'host', pushed.reference]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(`built-at-${await commitTime(repo, commit)}\nhello from a Dockerfile\n`);
  }, 240_000);
});
