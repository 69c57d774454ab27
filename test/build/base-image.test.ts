import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/build/build.js';
import { goArch } from '../../src/store/image.js';
import { readConfig, readManifest } from '../../src/store/image-read.js';
import { OciLayout } from '../../src/store/oci-layout.js';
import { cleanupTempDirs, repoWith, tempDir, tempHome } from './git-fixture.js';
import { skopeoInspect, skopeoRaw, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { missingTool } from '../helpers/tools.js';
import { skopeoPush, writeBusyboxImage, writeIndex } from '../helpers/busybox-base.js';

/**
 * `build.image.base`: app layers appended onto a busybox base pushed to a real registry, with no
 * container engine. The base is pinned by digest (label, annotations, build record, cache key),
 * a moved tag rebuilds, a digest reference builds offline, and an index resolves per platform.
 */

const skip = missingTool('docker-registry') ?? missingTool('skopeo') ?? missingTool('busybox');
const OTHER_ARCH = goArch() === 'arm64' ? 'amd64' : 'arm64';

function appRepo(base: string, image: Record<string, unknown> = {}) {
  const yaml = [
    'app: web',
    'build:',
    '  output: site',
    '  image:',
    `    base: ${base}`,
    ...Object.entries(image).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`),
    'processes:',
    '  web: { command: "busybox httpd -f -p 8080 -h ." }',
  ].join('\n');
  return repoWith({ 'brr.yaml': `${yaml}\n`, 'site/index.html': '<h1>hello from brr</h1>\n' });
}

describe.skipIf(!!skip)('images on a base image', () => {
  let reg: TestRegistry;
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    reg = await startRegistry();
    const dir = tempDir('oci-base');
    const one = await writeBusyboxImage(dir, 'one', { architecture: goArch(), marker: 'one' });
    await writeBusyboxImage(dir, 'two', { architecture: goArch(), marker: 'two' });
    const other = await writeBusyboxImage(dir, 'other', { architecture: OTHER_ARCH, marker: 'other' });
    await writeIndex(dir, 'multi', [
      { desc: one, architecture: goArch() },
      { desc: other, architecture: OTHER_ARCH },
    ]);
    for (const [ref, dest] of [
      ['one', 'base:1'],
      ['two', 'base:2'],
      ['multi', 'multi:1'],
      ['two', 'moving:x'],
    ])
      skopeoPush(dir, ref!, `${reg.host}/${dest}`);
    for (const t of ['base:1', 'base:2']) digests[t] = skopeoInspect(`${reg.host}/${t}`).Digest as string;
    digests.other = other.digest;
  });
  afterAll(async () => {
    await reg?.stop();
    cleanupTempDirs();
  });

  it('appends the app layer and sets the config; the base is pinned by digest', async () => {
    const home = tempHome();
    const { repo } = appRepo(`${reg.host}/base:1`, {
      entrypoint: ['/bin/busybox', 'httpd', '-f', '-p', '8080'],
      user: '65534:65534',
      ports: ['8080/tcp', '2152/udp'],
      env: { GREETING: 'hello', PATH: '/bin:/app' },
    });
    const r = await buildImage({ paths: home, repo });
    const pinned = `${reg.host}/base@${digests['base:1']}`;
    expect(r.record.base).toBe(pinned);
    const layout = new OciLayout(home.oci);
    const m = await readManifest(layout, r.digest);
    const baseManifest = JSON.parse(skopeoRaw(`${reg.host}/base:1`)) as { layers: Array<{ digest: string }> };
    expect(m.layers.map((l) => l.digest)).toEqual([baseManifest.layers[0]!.digest, m.layers[1]!.digest]);
    expect(m.layers[1]!.annotations).toEqual({ 'dev.brr.layer': 'app' });
    expect((m as unknown as { annotations: Record<string, string> }).annotations).toEqual({
      'org.opencontainers.image.base.digest': digests['base:1'],
      'org.opencontainers.image.base.name': `${reg.host}/base:1`,
    });
    const c = (await readConfig(layout, m)) as unknown as {
      config: Record<string, unknown>;
      history: unknown[];
      rootfs: { diff_ids: string[] };
      architecture: string;
    };
    expect(c.config).toMatchObject({
      Entrypoint: ['/bin/busybox', 'httpd', '-f', '-p', '8080'],
      User: '65534:65534',
      WorkingDir: '/app',
      ExposedPorts: { '8080/tcp': {}, '2152/udp': {} },
    });
    expect(c.config.Cmd).toBeUndefined(); // a new entrypoint clears the base's CMD
    expect(c.config.Env).toEqual(['PATH=/bin:/app', 'BASE_ONLY=1', 'GREETING=hello']);
    expect(c.config.Labels).toMatchObject({ 'test.base': 'one', 'dev.brr.base': pinned, 'dev.brr.app': 'web' });
    expect(c.rootfs.diff_ids).toHaveLength(2);
    expect(c.history).toHaveLength(2);
    expect(c.architecture).toBe(goArch());
    // Every blob is in the local store: the image is complete and pushable.
    for (const d of [m.config, ...m.layers]) expect(await layout.verifyBlob(d.digest)).toBe('ok');
  });

  it('same commit + same base digest ⇒ same image digest; a moved tag is a cache miss', async () => {
    const home = tempHome();
    const { repo } = appRepo(`${reg.host}/moving:x`);
    const first = await buildImage({ paths: home, repo });
    expect((await buildImage({ paths: home, repo })).cached).toBe(true);
    const again = await buildImage({ paths: home, repo, noCache: true });
    expect(again.digest).toBe(first.digest);
    expect((await buildImage({ paths: tempHome(), repo })).digest).toBe(first.digest);
    // Packed straight from git archive (no build command) or from a checkout: one digest.
    expect((await buildImage({ paths: tempHome(), repo, viaCheckout: true })).digest).toBe(first.digest);
    expect(first.record.base).toBe(`${reg.host}/moving@${digests['base:2']}`);

    execFileSync('skopeo', [
      'copy',
      '--quiet',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${reg.host}/base:1`,
      `docker://${reg.host}/moving:x`,
    ]);
    const moved = await buildImage({ paths: home, repo });
    expect(moved.cached).toBe(false);
    expect(moved.record.base).toBe(`${reg.host}/moving@${digests['base:1']}`);
    expect(moved.digest).not.toBe(first.digest);
  });

  it('a base named by digest builds offline once it is in the store', async () => {
    const own = await startRegistry();
    const home = tempHome();
    try {
      execFileSync('skopeo', [
        'copy',
        '--quiet',
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        `docker://${reg.host}/base:2`,
        `docker://${own.host}/base:2`,
      ]);
      const { repo } = appRepo(`${own.host}/base@${digests['base:2']}`);
      const online = await buildImage({ paths: home, repo });
      await own.stop();
      const offline = await buildImage({ paths: home, repo, noCache: true });
      expect(offline.digest).toBe(online.digest);
    } finally {
      await own.stop();
    }
  });

  it('resolves a multi-platform index to the host platform, or to build.image.platform', async () => {
    const host = await buildImage({ paths: tempHome(), repo: appRepo(`${reg.host}/multi:1`).repo });
    expect(host.record.base).toBe(`${reg.host}/multi@${digests['base:1']}`);
    const home = tempHome();
    const other = await buildImage({
      paths: home,
      repo: appRepo(`${reg.host}/multi:1`, { platform: `linux/${OTHER_ARCH}` }).repo,
    });
    expect(other.record.base).toBe(`${reg.host}/multi@${digests.other}`);
    const layout = new OciLayout(home.oci);
    expect((await readConfig(layout, await readManifest(layout, other.digest))).architecture).toBe(OTHER_ARCH);
    const none = buildImage({
      paths: tempHome(),
      repo: appRepo(`${reg.host}/multi:1`, { platform: 'linux/s390x' }).repo,
    });
    await expect(none).rejects.toMatchObject({ code: 'image_platform_not_found' });
  });

  it('an unreachable or unknown base fails the build with a registry error naming build.image.base', async () => {
    const missing = buildImage({ paths: tempHome(), repo: appRepo(`${reg.host}/nope:1`).repo });
    await expect(missing).rejects.toMatchObject({
      code: 'registry_not_found',
      message: expect.stringContaining('build.image.base'),
    });
  });
});
