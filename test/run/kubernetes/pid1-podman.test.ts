import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../../src/build/build.js';
import { pushBuild } from '../../../src/registry/push-build.js';
import { renderRelease } from '../../../src/run/kubernetes/render.js';
import { findBuild } from '../../../src/store/builds.js';
import { repoWith, tempHome } from '../../build/git-fixture.js';
import { startBusyboxBaseRegistry } from '../../helpers/busybox-base.js';
import { podmanUnavailable, type TestPodman } from '../../helpers/podman.js';
import type { TestRegistry } from '../../helpers/registry.js';
import { missingTool } from '../../helpers/tools.js';
import { pid1Of } from './fixtures.js';

/**
 * The proof that PID 1 is a real init: an app built onto a busybox base with
 * `build.image.init: /usr/bin/tini-static`, pushed, rendered, and run under podman (runc) with
 * exactly the rendered container's command as its entrypoint. `podman stop` sends SIGTERM to
 * PID 1: the app's trap must run (it reaches the app) and the stop must not wait for the kill.
 * The app orphans a child; the orphan is re-parented to PID 1 and, once it exits, reaped.
 */

const skip =
  missingTool('docker-registry') ??
  missingTool('skopeo') ??
  missingTool('busybox') ??
  missingTool('tini-static') ??
  podmanUnavailable();

const APP = [
  "trap 'echo got-sigterm; exit 0' TERM",
  // The inner shell exits at once: its sleep becomes PID 1's child, and a zombie when it ends unless reaped.
  "sh -c 'sleep 2 &'",
  'echo ready',
  'while :; do sleep 1; done',
  '',
].join('\n');

/** `pid ppid state comm` of every process in the container, from /proc (busybox has no procps). */
function processes(podman: TestPodman, id: string): Array<{ pid: number; ppid: number; state: string; comm: string }> {
  const r = podman.run(['exec', id, 'sh', '-c', 'cat /proc/[0-9]*/stat']);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => {
      const m = /^(\d+) \((.*)\) (\S) (\d+)/.exec(l)!;
      return { pid: Number(m[1]), comm: m[2]!, state: m[3]!, ppid: Number(m[4]) };
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!!skip)('PID 1 under podman: the rendered init forwards SIGTERM and reaps zombies', () => {
  let reg: TestRegistry;
  let podman: TestPodman;
  let stop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ reg, podman, stop } = await startBusyboxBaseRegistry('init'));
  });
  afterAll(async () => {
    await stop?.();
  });

  it('runs the rendered command; SIGTERM reaches the app; the orphan is reaped by tini', async () => {
    const yaml = [
      'app: nf',
      'build:',
      '  image:',
      `    base: ${reg.host}/base:1`,
      '    init: /usr/bin/tini-static',
      'processes:',
      '  nf: { command: "sh app.sh", resources: { cpu: 100m, memory: 64Mi } }',
    ].join('\n');
    const { repo } = repoWith({ 'brr.yaml': `${yaml}\n`, 'app.sh': APP });
    const home = tempHome();
    const built = await buildImage({ paths: home, repo });
    const record = await findBuild(home, built.digest);
    expect(record.init).toBe('/usr/local/bin/tini-static');
    expect(built.record).toEqual(record);
    // Same commit, same init binary: the same image.
    expect((await buildImage({ paths: tempHome(), repo })).digest).toBe(built.digest);
    const pushed = await pushBuild({ paths: home, build: built.digest, to: `${reg.host}/nf:1` });

    const { objects } = renderRelease({
      app: 'nf',
      namespace: 'nf',
      release: { id: 'v1', hash: 'f'.repeat(64), commit: built.commit, digest: built.digest, cause: 'test' },
      image: pushed.reference,
      processes: record.processes,
      init: record.init ?? null,
      formation: { nf: 1 },
      config: {},
      secrets: {},
    });
    const argv = pid1Of(objects.find((o) => o.kind === 'Deployment')!)[0]!;
    expect(argv).toEqual(['/usr/local/bin/tini-static', '-g', '--', 'sh', 'app.sh']);

    const run = podman.run([
      'run',
      '--detach',
      '--network',
      'host',
      '--user',
      '65532:65532',
      '--entrypoint',
      JSON.stringify(argv),
      pushed.reference,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const id = run.stdout.trim();
    try {
      await sleep(1000);
      const early = processes(podman, id);
      expect(early.find((p) => p.pid === 1)!.comm).toBe('tini-static');
      // The orphaned sleep now belongs to PID 1.
      expect(early.some((p) => p.comm === 'sleep' && p.ppid === 1)).toBe(true);
      await sleep(2500);
      const late = processes(podman, id);
      expect(late.filter((p) => p.state === 'Z')).toEqual([]);
      expect(late.some((p) => p.comm === 'sleep' && p.ppid === 1)).toBe(false);

      const t0 = Date.now();
      const stop = podman.run(['stop', '--time', '20', id], 60_000);
      expect(stop.code, stop.stderr).toBe(0);
      expect(Date.now() - t0).toBeLessThan(10_000);
      const logs = podman.run(['logs', id]).stdout;
      expect(logs).toContain('ready');
      expect(logs).toContain('got-sigterm');
      const exit = podman.run(['inspect', '--format', '{{.State.ExitCode}}', id]).stdout.trim();
      expect(exit).toBe('0');
    } finally {
      podman.run(['rm', '--force', id]);
    }
  }, 120_000);
});
