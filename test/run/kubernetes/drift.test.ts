import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { setAppTarget } from '../../../src/app/app-target.js';
import { kubernetesStatus } from '../../../src/app/kubernetes-status.js';
import { compareKubernetes } from '../../../src/run/kubernetes/drift.js';
import type { KubeObject } from '../../../src/run/kubernetes/types.js';
import { DIGEST_1, DIGEST_2, KubeWorld } from '../../helpers/kubernetes/harness.js';

const pod = (
  version: string,
  digest: string,
  ready = true,
  hash = 'h1',
  extra: Partial<KubeObject['metadata']> = {},
): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: `p-${version}`,
    labels: { 'app.kubernetes.io/version': version },
    annotations: { 'brr.dev/release-hash': hash },
    ...extra,
  },
  spec: { containers: [{ name: 'nf', image: `r.example/upf@${digest}` }] },
  status: {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    containerStatuses: [{ imageID: `r.example/upf@${digest}` }],
  },
});
const ledger = { id: 'v2', digest: DIGEST_1, hash: 'h1', replicas: 2 };

describe('drift (pure)', () => {
  it.each([
    ['in sync', [pod('v2', DIGEST_1), pod('v2', DIGEST_1)], true, null],
    ['other release running', [pod('v1', DIGEST_1), pod('v2', DIGEST_1)], false, 'pods run v1 (ledger says v2)'],
    [
      'image changed by hand',
      [pod('v2', DIGEST_2), pod('v2', DIGEST_1)],
      false,
      'image digest differs from the ledger',
    ],
    [
      'release hash differs',
      [pod('v2', DIGEST_1, true, 'other'), pod('v2', DIGEST_1)],
      false,
      'release hash differs from the ledger',
    ],
    ['too few pods', [pod('v2', DIGEST_1)], false, '1 of 2 pods'],
    ['not ready', [pod('v2', DIGEST_1), pod('v2', DIGEST_1, false)], false, '1 pod not ready'],
    ['nothing runs', [], false, 'not running'],
    [
      'terminating pods do not count',
      [
        pod('v2', DIGEST_1),
        pod('v2', DIGEST_1),
        pod('v1', DIGEST_1, true, 'h1', { deletionTimestamp: '2025-01-01T00:00:00Z' }),
      ],
      true,
      null,
    ],
  ])('%s', (_name, pods, inSync, problem) => {
    const r = compareKubernetes(ledger, pods as KubeObject[]);
    expect({ inSync: r.inSync, problem: r.problem }).toEqual({ inSync, problem });
  });

  it('no current release and no pods is in sync; pods without a current release are drift', () => {
    expect(compareKubernetes(null, []).inSync).toBe(true);
    expect(compareKubernetes(null, [pod('v1', DIGEST_1)]).problem).toBe(
      'pods run, but the ledger has no current release',
    );
  });
});

describe('brr status for a Kubernetes app, against the FAKE API server', () => {
  let w: KubeWorld;
  beforeEach(async () => {
    w = await KubeWorld.create();
    await setAppTarget(w.ctx, 'upf', w.target);
  });
  afterEach(() => w.close());

  it('is in sync after a rollout, and reports drift when the cluster was changed behind the ledger', async () => {
    await w.run(await w.release());
    expect(await kubernetesStatus(w.ctx, 'upf', w.target, w.deps)).toEqual({
      app: 'upf',
      ledger: 'v1',
      running: 'v1',
      inSync: true,
      problem: null,
    });
    // Someone runs `kubectl set image`: the pods now run another digest.
    const p = w.fake.list('Pod', 'upf').find((x) => x.metadata.labels['app.kubernetes.io/component'] === 'nf')!;
    p.spec = { ...p.spec, containers: [{ ...p.spec.containers[0], image: `registry.example.com/nf/upf@${DIGEST_2}` }] };
    expect(await kubernetesStatus(w.ctx, 'upf', w.target, w.deps)).toMatchObject({
      inSync: false,
      problem: 'image digest differs from the ledger',
    });
  });

  it("reports an unreachable cluster as the row's problem", async () => {
    await w.run(await w.release());
    await w.fake.close();
    const r = await kubernetesStatus(w.ctx, 'upf', w.target, w.deps);
    expect(r.inSync).toBe(false);
    expect(r.problem).toContain('cannot reach the Kubernetes API server');
  });
});
