import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeConfig } from '../../src/app/change-config.js';
import { openContext, type Context } from '../../src/app/context.js';
import type { KubernetesDeps } from '../../src/app/kubernetes-render.js';
import { runOnKubernetes } from '../../src/app/kubernetes-run.js';
import { kubernetesStatus } from '../../src/app/kubernetes-status.js';
import type { ProcessSpec } from '../../src/core/types.js';
import { planRelease } from '../../src/release/plan.js';
import { createKubeApi, type KubeApi } from '../../src/run/kubernetes/client.js';
import { loadKubeConfig } from '../../src/run/kubernetes/kubeconfig.js';
import { imageDigest } from '../../src/run/kubernetes/names.js';
import type { KubernetesTarget } from '../../src/run/kubernetes/types.js';

/**
 * End-to-end on a real cluster (kind, k3s, …): runs only with BRR_E2E_KUBECONFIG set, since no
 * cluster can run here. This skip is deliberate and independent of BRR_REQUIRE_TOOLS (CI has no
 * cluster; a missing cluster is not a missing tool). See docs/kubernetes.md for how to run it.
 *
 * BRR_E2E_IMAGE: a pinned image with a busybox userland (default below), BRR_E2E_CONTEXT: the
 * context (default: the kubeconfig's current one).
 */
const KUBECONFIG = process.env.BRR_E2E_KUBECONFIG;
const IMAGE = process.env.BRR_E2E_IMAGE ?? '';
const skip = KUBECONFIG
  ? null
  : 'BRR_E2E_KUBECONFIG is not set (no Kubernetes cluster here); see docs/kubernetes.md to run against kind or k3s';
if (skip) process.stderr.write(`SKIP: ${skip}\n`);

const WEB: ProcessSpec = {
  // FAIL=1 in config makes the process exit: the release that sets it cannot roll out.
  command:
    'if [ "$FAIL" = 1 ]; then echo failing on purpose; exit 1; fi; mkdir -p /tmp/www && echo "$GREETING" > /tmp/www/healthz && exec httpd -f -p 8080 -h /tmp/www',
  scale: 2,
  ports: [{ name: 'http', port: 8080, protocol: 'tcp', address: '127.0.0.1' }],
  health: {
    check: { kind: 'http', path: '/healthz', port: 'http' },
    timeoutMs: 20_000,
    intervalMs: 1_000,
    upForMs: 1_000,
  },
  graceMs: 5_000,
  restart: 'always',
};

describe.skipIf(skip !== null)('end-to-end on a real cluster (BRR_E2E_KUBECONFIG)', () => {
  let ctx: Context;
  let home: string;
  let api: KubeApi;
  let target: KubernetesTarget;
  let deps: KubernetesDeps;
  const app = `e2e-${randomBytes(3).toString('hex')}`;
  const lines: string[] = [];

  beforeAll(async () => {
    if (!imageDigest(IMAGE))
      throw new Error(
        'set BRR_E2E_IMAGE to a pinned image with busybox httpd, e.g. docker.io/library/busybox@sha256:… (see docs/kubernetes.md)',
      );
    const kc = new KubeConfig();
    kc.loadFromFile(KUBECONFIG as string);
    target = {
      target: 'kubernetes',
      context: process.env.BRR_E2E_CONTEXT ?? kc.getCurrentContext(),
      namespace: app,
      registry: 'unused.invalid',
      kubeconfig: KUBECONFIG as string,
    };
    api = createKubeApi(loadKubeConfig(target));
    await api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: app } });
    process.env.BRR_SECRETS_KEY = randomBytes(32).toString('base64');
    home = mkdtempSync(path.join(tmpdir(), 'brr-e2e-k8s-'));
    ctx = openContext({ home, actor: 'e2e@host' });
    deps = { buildOf: async () => ({ processes: { web: WEB } }), api: () => api, imageFor: () => IMAGE, pollMs: 1000 };
  });
  afterAll(async () => {
    await api?.remove('v1', 'Namespace', '', app).catch(() => false);
    await ctx?.close();
    if (home) rmSync(home, { recursive: true, force: true });
    delete process.env.BRR_SECRETS_KEY;
  });

  const release = async (set: string[]) => {
    const r = (await changeConfig(ctx, app, { set })).release;
    if (r) return r;
    return ctx.ledger.appendRelease(app, (latest, staged) =>
      planRelease({
        latest,
        staged,
        build: { digest: imageDigest(IMAGE) as string, commit: '0'.repeat(40) },
        formation: { web: 2 },
        actor: 'e2e@host',
        now: new Date(),
      }),
    );
  };
  const run = (rel: Awaited<ReturnType<typeof release>>) =>
    runOnKubernetes(ctx, rel, target, (l) => lines.push(l), { deps, timeoutMs: 150_000 });
  const envFrom = async () => {
    const d = await api.read('apps/v1', 'Deployment', app, `${app}-web`);
    return JSON.stringify(
      (d?.spec as { template: { spec: { containers: Array<{ envFrom: unknown }> } } }).template.spec.containers[0]!
        .envFrom,
    );
  };

  it('rolls out a release, is in sync, then a failing release is rolled back with its config', async () => {
    await changeConfig(ctx, app, { set: ['GREETING=one'] });
    const v1 = await release([]);
    await run(v1);
    expect(await kubernetesStatus(ctx, app, target, deps)).toMatchObject({ inSync: true, running: 'v1' });
    const v2 = await release(['FAIL=1']);
    await expect(run(v2)).rejects.toMatchObject({ code: 'rollout_failed' });
    expect(await envFrom()).toContain(`${app}-v1-config`);
    expect((await ctx.ledger.listEvents(app)).map((e) => e.type).slice(-3)).toEqual([
      'switch-started',
      'failed',
      'rolled-back',
    ]);
    expect(await kubernetesStatus(ctx, app, target, deps)).toMatchObject({ inSync: true, running: 'v1' });
  }, 600_000);

  const kubectl = spawnSync('sh', ['-c', 'command -v kubectl']).status === 0;
  it.skipIf(!kubectl)(
    "kubectl rollout undo brings back the previous template and with it the previous release's own config",
    async () => {
      const v3 = await release(['FAIL=0', 'GREETING=three']);
      await run(v3);
      expect(await envFrom()).toContain(`${app}-v3-config`);
      const undo = spawnSync(
        'kubectl',
        [
          '--kubeconfig',
          KUBECONFIG as string,
          '--context',
          target.context,
          '-n',
          app,
          'rollout',
          'undo',
          `deployment/${app}-web`,
        ],
        { encoding: 'utf8' },
      );
      expect(undo.status, undo.stderr).toBe(0);
      const status = spawnSync(
        'kubectl',
        [
          '--kubeconfig',
          KUBECONFIG as string,
          '--context',
          target.context,
          '-n',
          app,
          'rollout',
          'status',
          `deployment/${app}-web`,
          '--timeout=120s',
        ],
        { encoding: 'utf8' },
      );
      expect(status.status, status.stderr).toBe(0);
      // The ConfigMap of v1 was retained (and is referenced by ReplicaSet history), so the undo works with v1's config.
      expect(await envFrom()).toContain(`${app}-v1-config`);
      expect(await api.read('v1', 'ConfigMap', app, `${app}-v1-config`)).not.toBeNull();
      // brr notices that the cluster no longer runs the ledger's current release.
      expect(await kubernetesStatus(ctx, app, target, deps)).toMatchObject({ inSync: false });
    },
    600_000,
  );
});
