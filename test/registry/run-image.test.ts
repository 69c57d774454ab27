import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/build/build.js';
import { pushBuild } from '../../src/registry/push-build.js';
import { repoWith, tempHome } from '../build/git-fixture.js';
import { freePort } from '../e2e/harness.js';
import { podmanUnavailable, type TestPodman } from '../helpers/podman.js';
import type { TestRegistry } from '../helpers/registry.js';
import { missingTool } from '../helpers/tools.js';
import { startBusyboxBaseRegistry } from '../helpers/busybox-base.js';

/**
 * The proof that brr's engine-less images are real images: build an app onto a busybox base,
 * push it, and run the pushed reference with podman (runc underneath); its HTTP server answers
 * on 127.0.0.1.
 */

const skip = missingTool('docker-registry') ?? missingTool('skopeo') ?? missingTool('busybox') ?? podmanUnavailable();

async function waitForHttp(url: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      return await res.text();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe.skipIf(!!skip)('running a pushed image', () => {
  let reg: TestRegistry;
  let podman: TestPodman;
  let stop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ reg, podman, stop } = await startBusyboxBaseRegistry('run'));
  });
  afterAll(async () => {
    await stop?.();
  });

  it('podman runs the pushed image and its port answers on 127.0.0.1', async () => {
    const port = await freePort();
    const yaml = [
      'app: site',
      'build:',
      '  output: www',
      '  image:',
      `    base: ${reg.host}/base:1`,
      `    entrypoint: ["/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:${port}", "-h", "/app"]`,
      '    user: "65534:65534"',
      `    ports: ["${port}/tcp"]`,
      'processes:',
      `  web: { command: "busybox httpd -f -p 127.0.0.1:${port} -h ." }`,
    ].join('\n');
    const { repo } = repoWith({ 'brr.yaml': `${yaml}\n`, 'www/index.html': '<h1>served from a brr image</h1>\n' });
    const home = tempHome();
    const built = await buildImage({ paths: home, repo });
    const pushed = await pushBuild({ paths: home, build: built.digest, to: `${reg.host}/site:1` });
    expect(pushed.reference).toBe(`${reg.host}/site@${built.digest}`);

    const run = podman.run(['run', '--detach', '--network', 'host', pushed.reference]);
    expect(run.code, run.stderr).toBe(0);
    const id = run.stdout.trim();
    try {
      expect(await waitForHttp(`http://127.0.0.1:${port}/index.html`, 20_000)).toContain('served from a brr image');
      const user = podman.run(['exec', id, '/bin/busybox', 'id', '-u']);
      expect(user.stdout.trim()).toBe('65534');
      const inspect = JSON.parse(podman.run(['image', 'inspect', pushed.reference]).stdout) as Array<{
        Digest: string;
      }>;
      expect(inspect[0]!.Digest).toBe(built.digest);
    } finally {
      podman.run(['rm', '--force', id]);
    }
  });
});
