import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BrrError } from '../../src/core/errors.js';
import { planRollback } from '../../src/release/plan.js';
import { DIGEST_1, DIGEST_2, KubeWorld, SECRET_VALUE } from '../helpers/kubernetes/harness.js';
import type { Obj } from '../helpers/kubernetes/fake-controllers.js';

const versionOf = (w: Obj) => w.spec.template.metadata.labels['app.kubernetes.io/version'] as string;

async function failure(p: Promise<unknown>): Promise<BrrError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof BrrError) return e;
    throw e;
  }
  throw new Error('expected the rollout to fail');
}

describe('brr run on Kubernetes, against the FAKE API server', () => {
  let w: KubeWorld;
  beforeEach(async () => {
    w = await KubeWorld.create();
    await w.config(['GREETING=one']);
    await w.config([`API_TOKEN=${SECRET_VALUE}`], true);
  });
  afterEach(() => w.close());

  it('applies in order by server-side apply (manager brr, forced), watches the rollout, records activated', async () => {
    w.fake.setScript(() => ({ kind: 'progress' }));
    const v1 = await w.release();
    const r = await w.run(v1);
    expect(r.release).toBe('v1');
    expect(w.fake.patches.map((p) => p.path.split('/').slice(-2).join('/'))).toEqual([
      'limitranges/upf-defaults',
      'configmaps/upf-v1-config',
      'secrets/upf-v1-secret',
      'services/upf-nf',
      'poddisruptionbudgets/upf-nf',
      'poddisruptionbudgets/upf-worker',
      'deployments/upf-nf',
      'deployments/upf-worker',
    ]);
    expect(
      w.fake.patches.every(
        (p) => p.fieldManager === 'brr' && p.force && p.contentType === 'application/apply-patch+yaml',
      ),
    ).toBe(true);
    expect(await w.events()).toEqual(['switch-started v1', 'activated v1']);
    expect(w.lines).toContain('upf-nf: 1 of 2 new replicas updated');
    expect(w.lines).toContain('upf-nf: 2 of 2 replicas updated and available');
    // The secret reaches the cluster decrypted, and nowhere else.
    expect(Buffer.from(w.fake.get('Secret', 'upf-v1-secret', 'upf')!.data.API_TOKEN, 'base64').toString()).toBe(
      SECRET_VALUE,
    );
    expect(w.fake.get('ConfigMap', 'upf-v1-config', 'upf')!.data).toEqual({ GREETING: 'one' });
    expect(w.lines.join('\n')).not.toContain(SECRET_VALUE);
    const stored =
      JSON.stringify(await w.ctx.ledger.listEvents('upf')) + JSON.stringify(await w.ctx.ledger.listReleases('upf'));
    expect(stored).not.toContain(SECRET_VALUE);
  });

  it('on a stuck rollout re-applies the last healthy release with its own ConfigMap and Secret, records both, fails', async () => {
    w.fake.setScript((d) => (versionOf(d) === 'v2' ? { kind: 'stuck' } : { kind: 'instant' }));
    await w.run(await w.release());
    const v2 = (await w.config(['GREETING=two']))!;
    const before = w.fake.patches.length;
    const e = await failure(w.run(v2));
    expect(e.code).toBe('rollout_failed');
    expect(e.exitCode).toBe(1);
    expect(e.message).toMatch(
      /v2 failed: Deployment upf-nf exceeded its progress deadline.*pods: CrashLoopBackOff.*v1 was restored/,
    );
    expect(await w.events()).toEqual([
      'switch-started v1',
      'activated v1',
      'switch-started v2',
      'failed v2',
      'rolled-back v1',
    ]);
    const failed = (await w.ctx.ledger.listEvents('upf')).find((x) => x.type === 'failed')!;
    expect(String(failed.detail.reason)).toContain('progress deadline');
    // The re-apply sent v1's own config objects again, then its workloads: config comes back with the code.
    const again = w.fake.patches.slice(before).map((p) => p.path.split('/').pop());
    expect(again.slice(-7)).toEqual([
      'upf-v1-config',
      'upf-v1-secret',
      'upf-nf',
      'upf-nf',
      'upf-worker',
      'upf-nf',
      'upf-worker',
    ]);
    expect(w.live()).toEqual({
      refs: ['upf-v1-config', 'upf-v1-secret'],
      image: `registry.example.com/nf/upf@${DIGEST_1}`,
      version: 'v1',
    });
    expect(w.lines.join('\n')).toContain('re-applying v1 with its own ConfigMap and Secret');
  });

  it('times out a rollout that never becomes available (no deadline reported) and rolls back', async () => {
    w.fake.setScript((d) => (versionOf(d) === 'v2' ? { kind: 'hang' } : { kind: 'instant' }));
    await w.run(await w.release());
    const e = await failure(w.run((await w.config(['GREETING=two']))!, 300));
    expect(e.message).toMatch(/timed out after 0s waiting for upf-nf \(0 of 2 updated replicas available\)/);
    expect(w.live().version).toBe('v1');
  });

  it('a failing first release has nothing to go back to: failed, no rollback', async () => {
    w.fake.setScript(() => ({ kind: 'stuck', deadlineAfter: 1 }));
    const e = await failure(w.run(await w.release()));
    expect(e.message).toContain('there is no earlier healthy release');
    expect(await w.events()).toEqual(['switch-started v1', 'failed v1']);
  });

  it('an apply refused before anything changed (namespace missing) fails without a rollback', async () => {
    await w.run(await w.release());
    const v2 = (await w.config(['GREETING=two']))!;
    const e = await failure(w.run.call(Object.assign(w, { target: { ...w.target, namespace: 'gone' } }), v2));
    expect(e.code).toBe('kube_not_found');
    expect(await w.events()).toEqual(['switch-started v1', 'activated v1', 'switch-started v2', 'failed v2']);
  });

  it('brr rollback: the new release copies the old config, so the cluster gets the old config back', async () => {
    await w.run(await w.release());
    await w.run((await w.config(['GREETING=two']))!);
    expect(w.fake.get('ConfigMap', 'upf-v2-config', 'upf')!.data).toEqual({ GREETING: 'two' });
    // The release `brr rollback v1` appends (its preflight needs the build store, which this test injects; cli.test.ts runs the command).
    const v3 = await w.ctx.ledger.appendRelease('upf', async () =>
      planRollback({
        releases: await w.ctx.ledger.listReleases('upf'),
        currentId: 'v2',
        targetId: 'v1',
        actor: 't',
        now: new Date(),
      }),
    );
    await w.run(v3);
    expect(w.live().refs).toEqual(['upf-v3-config', 'upf-v3-secret']);
    expect(w.fake.get('ConfigMap', 'upf-v3-config', 'upf')!.data).toEqual({ GREETING: 'one' });
    expect(Buffer.from(w.fake.get('Secret', 'upf-v3-secret', 'upf')!.data.API_TOKEN, 'base64').toString()).toBe(
      SECRET_VALUE,
    );
  });

  it('clean-up deletes only config that no retained release and no live ReplicaSet needs; prunes removed process types', async () => {
    await w.run(await w.release());
    for (let i = 2; i <= 13; i++) await w.run((await w.config([`GREETING=${i}`]))!);
    // ReplicaSet history (revisionHistoryLimit 10 + the current one) pins v3..v13; v1 and v2 are gone.
    expect(w.names('ConfigMap')).toEqual([
      'upf-v10-config',
      'upf-v11-config',
      'upf-v12-config',
      'upf-v13-config',
      'upf-v3-config',
      'upf-v4-config',
      'upf-v5-config',
      'upf-v6-config',
      'upf-v7-config',
      'upf-v8-config',
      'upf-v9-config',
    ]);
    expect(w.names('Secret')).not.toContain('upf-v2-secret');
    // Without the ReplicaSet that references it, v4's config is no longer needed; v3's still is.
    const rs = w.fake
      .list('ReplicaSet', 'upf')
      .find(
        (r) =>
          r.spec.template.metadata.labels['app.kubernetes.io/version'] === 'v4' &&
          r.metadata.name.startsWith('upf-nf-'),
      )!;
    w.fake.remove('ReplicaSet', rs.metadata.name, 'upf');
    const rsw = w.fake
      .list('ReplicaSet', 'upf')
      .find((r) => r.spec.template.metadata.labels['app.kubernetes.io/version'] === 'v4')!;
    w.fake.remove('ReplicaSet', rsw.metadata.name, 'upf');
    // v14 drops the worker process type: its Deployment and PDB are pruned after the rollout.
    const v14 = await w.release(DIGEST_2);
    await w.run(v14);
    expect(w.names('ConfigMap')).not.toContain('upf-v4-config');
    expect(w.names('ConfigMap')).toContain('upf-v3-config');
    expect(w.names('Deployment')).toEqual(['upf-nf']);
    expect(w.names('PodDisruptionBudget')).toEqual(['upf-nf']);
    expect(w.lines.join('\n')).toContain('clean-up: deleted Deployment/upf-worker');
  });

  it('release phase (fake): a Job per release with its own config, image and init, waited for before the rollout', async () => {
    w.releasePhases.set(DIGEST_1, { command: 'node migrate.mjs' });
    const v1 = await w.release();
    await w.run(v1);
    const order = w.fake.patches.map((p) => p.path.split('/').slice(-2).join('/'));
    expect(order.indexOf('jobs/upf-v1-release')).toBeGreaterThan(order.indexOf('secrets/upf-v1-secret'));
    expect(order.indexOf('jobs/upf-v1-release')).toBeLessThan(order.indexOf('deployments/upf-nf'));
    const job = w.fake.get('Job', 'upf-v1-release', 'upf')!;
    const c = job.spec.template.spec.containers[0];
    expect(c.image).toBe(`registry.example.com/nf/upf@${DIGEST_1}`);
    expect(c.command).toEqual(['node', 'migrate.mjs']);
    expect(c.env).toContainEqual({
      name: 'GREETING',
      valueFrom: { configMapKeyRef: { key: 'GREETING', name: 'upf-v1-config' } },
    });
    expect(c.env).toContainEqual({
      name: 'API_TOKEN',
      valueFrom: { secretKeyRef: { key: 'API_TOKEN', name: 'upf-v1-secret' } },
    });
    expect(job.spec).toMatchObject({ backoffLimit: 0, template: { spec: { restartPolicy: 'Never' } } });
    expect(w.lines).toContain('upf-v1-release: release command succeeded');
    expect(await w.events()).toEqual(['switch-started v1', 'activated v1']);
    // The next healthy release's clean-up deletes the earlier Job; its own stays.
    w.releasePhases.set(DIGEST_2, { command: 'node migrate.mjs' });
    await w.run(await w.release(DIGEST_2));
    expect(w.names('Job')).toEqual(['upf-v2-release']);
    expect(w.fake.jobs).toEqual(['upf-v1-release', 'upf-v2-release']);
  });

  it('release phase (fake): a failed Job fails the deploy and leaves the running release untouched', async () => {
    await w.run(await w.release());
    w.releasePhases.set(DIGEST_2, { command: 'node migrate.mjs' });
    w.fake.setJobScript(() => 'failed');
    const v2 = await w.release(DIGEST_2);
    const e = await failure(w.run(v2));
    expect(e.code).toBe('release_phase_failed');
    expect(e.message).toContain('release phase of v2: Job upf-v2-release failed (BackoffLimitExceeded');
    expect(e.hint).toContain('kubectl -n upf logs job/upf-v2-release');
    expect(await w.events()).toEqual(['switch-started v1', 'activated v1', 'switch-started v2', 'failed v2']);
    // No workload was touched: v1 still runs, with its own config; nothing was rolled back.
    expect(w.live()).toMatchObject({ version: 'v1', image: `registry.example.com/nf/upf@${DIGEST_1}` });
    expect(
      w.fake.patches.some(
        (p) => p.path.endsWith('deployments/upf-nf') && p.body.metadata.labels['app.kubernetes.io/version'] === 'v2',
      ),
    ).toBe(false);
  });
});
