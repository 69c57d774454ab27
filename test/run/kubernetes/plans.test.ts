import { describe, expect, it } from 'vitest';
import { planConfigCleanup, planPrune } from '../../../src/run/kubernetes/cleanup.js';
import { deploymentStatus, podProblems, statefulSetStatus } from '../../../src/run/kubernetes/rollout.js';
import type { KubeObject } from '../../../src/run/kubernetes/types.js';

const brr = { 'app.kubernetes.io/instance': 'upf', 'app.kubernetes.io/managed-by': 'brr' };
const config = (name: string, kind = 'ConfigMap', labels: Record<string, string> = brr): KubeObject => ({
  apiVersion: 'v1',
  kind,
  metadata: { name, labels },
});
const rs = (name: string, podSpec: unknown): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: { name },
  spec: { template: { spec: podSpec } },
});

describe('planConfigCleanup (pure)', () => {
  const objects = [
    config('upf-v1-config'),
    config('upf-v1-secret', 'Secret'),
    config('upf-v2-config'),
    config('upf-v3-config'),
    config('upf-v4-config'),
    config('upf-v5-config'),
    config('upf-v6-config'),
    config('upf-v7-config'),
    config('upf-settings', 'ConfigMap'), // not a release object: never touched
    config('upf-v8-config', 'ConfigMap', { 'app.kubernetes.io/instance': 'upf' }), // not managed by brr
    config('upf-prod-v1-config', 'ConfigMap', { ...brr, 'app.kubernetes.io/instance': 'upf-prod' }), // another app
  ];
  const live = [
    rs('upf-nf-a', { containers: [{ envFrom: [{ configMapRef: { name: 'upf-v2-config' } }] }] }),
    rs('upf-nf-b', {
      containers: [{ env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'upf-v3-config', key: 'X' } } }] }],
    }),
    rs('upf-nf-c', { volumes: [{ name: 'cfg', configMap: { name: 'upf-v4-config' } }] }),
    {
      apiVersion: 'apps/v1',
      kind: 'ControllerRevision',
      metadata: { name: 'upf-store-1' },
      data: JSON.stringify({
        spec: { template: { spec: { containers: [{ envFrom: [{ configMapRef: { name: 'upf-v5-config' } }] }] } } },
      }),
    },
  ];

  it('keeps retained releases and anything a live object mentions (envFrom, valueFrom, volumes, revisions)', () => {
    const plan = planConfigCleanup('upf', objects, ['v7', 'v6'], live);
    expect(plan.delete).toEqual([
      { kind: 'ConfigMap', name: 'upf-v1-config' },
      { kind: 'Secret', name: 'upf-v1-secret' },
    ]);
    expect(plan.keep.map((k) => `${k.name}: ${k.why}`)).toEqual([
      'upf-v2-config: referenced by ReplicaSet upf-nf-a',
      'upf-v3-config: referenced by ReplicaSet upf-nf-b',
      'upf-v4-config: referenced by ReplicaSet upf-nf-c',
      'upf-v5-config: referenced by ControllerRevision upf-store-1',
      'upf-v6-config: release v6 is retained',
      'upf-v7-config: release v7 is retained',
    ]);
  });

  it('deletes nothing when every release is retained', () => {
    expect(planConfigCleanup('upf', objects, ['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7'], []).delete).toEqual([]);
  });

  it('prunes workloads, PDBs and Services the release no longer has, workloads first', () => {
    const mk = (kind: string, name: string, labels: Record<string, string> = brr): KubeObject => ({
      apiVersion: 'x',
      kind,
      metadata: { name, labels },
    });
    const desired = [mk('Deployment', 'upf-nf'), mk('Service', 'upf-nf')];
    const live = [
      mk('Service', 'upf-worker'),
      mk('Deployment', 'upf-nf'),
      mk('PodDisruptionBudget', 'upf-worker'),
      mk('Deployment', 'upf-worker'),
      mk('Deployment', 'hand-made', {}),
      mk('LimitRange', 'upf-defaults'),
    ];
    expect(planPrune(desired, live)).toEqual([
      { kind: 'Deployment', name: 'upf-worker' },
      { kind: 'PodDisruptionBudget', name: 'upf-worker' },
      { kind: 'Service', name: 'upf-worker' },
      { kind: 'LimitRange', name: 'upf-defaults' },
    ]);
  });
});

describe('rollout status, as kubectl rollout status decides it (pure)', () => {
  const dep = (generation: number, spec: object, status: object): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', generation },
    spec,
    status,
  });
  it.each([
    [
      'spec not observed yet',
      dep(2, { replicas: 2 }, { observedGeneration: 1, updatedReplicas: 2, availableReplicas: 2, replicas: 2 }),
      false,
      null,
      'waiting for the new spec to be observed',
    ],
    [
      'updating',
      dep(2, { replicas: 3 }, { observedGeneration: 2, updatedReplicas: 1, replicas: 4, availableReplicas: 3 }),
      false,
      null,
      '1 of 3 new replicas updated',
    ],
    [
      'old pods terminating',
      dep(2, { replicas: 2 }, { observedGeneration: 2, updatedReplicas: 2, replicas: 3, availableReplicas: 2 }),
      false,
      null,
      '1 old replicas pending termination',
    ],
    [
      'not available yet',
      dep(2, { replicas: 2 }, { observedGeneration: 2, updatedReplicas: 2, replicas: 2, availableReplicas: 1 }),
      false,
      null,
      '1 of 2 updated replicas available',
    ],
    [
      'done',
      dep(2, { replicas: 2 }, { observedGeneration: 2, updatedReplicas: 2, replicas: 2, availableReplicas: 2 }),
      true,
      null,
      '2 of 2 replicas updated and available',
    ],
    [
      'scaled to zero',
      dep(1, { replicas: 0 }, { observedGeneration: 1 }),
      true,
      null,
      '0 of 0 replicas updated and available',
    ],
  ])('%s', (_name, d, done, failed, message) => {
    expect(deploymentStatus(d)).toEqual({ done, failed, message });
  });

  it('fails on ProgressDeadlineExceeded', () => {
    const d = dep(
      2,
      { replicas: 2 },
      {
        observedGeneration: 2,
        updatedReplicas: 2,
        replicas: 2,
        availableReplicas: 0,
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
      },
    );
    expect(deploymentStatus(d).failed).toBe('exceeded its progress deadline (0 of 2 available)');
  });

  it('StatefulSets: observed, ready, and every pod at the update revision', () => {
    const sts = (status: object): KubeObject => ({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 's', generation: 3 },
      spec: { replicas: 3 },
      status,
    });
    expect(statefulSetStatus(sts({ observedGeneration: 0 })).message).toBe('waiting for the new spec to be observed');
    expect(statefulSetStatus(sts({ observedGeneration: 3, readyReplicas: 2 })).message).toBe('2 of 3 pods ready');
    expect(
      statefulSetStatus(
        sts({ observedGeneration: 3, readyReplicas: 3, updatedReplicas: 1, currentRevision: 'a', updateRevision: 'b' }),
      ).message,
    ).toBe('1 of 3 pods at the new revision');
    expect(
      statefulSetStatus(sts({ observedGeneration: 3, readyReplicas: 3, currentRevision: 'b', updateRevision: 'b' }))
        .done,
    ).toBe(true);
  });

  it('summarizes why pods do not come up', () => {
    const pod = (state: object): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      status: { containerStatuses: [{ state }] },
    });
    const pods = [
      pod({ waiting: { reason: 'CrashLoopBackOff' } }),
      pod({ waiting: { reason: 'ImagePullBackOff' } }),
      pod({ waiting: { reason: 'CrashLoopBackOff' } }),
      pod({ running: {} }),
      pod({ waiting: { reason: 'ContainerCreating' } }),
    ];
    expect(podProblems(pods)).toEqual(['CrashLoopBackOff (2 pods)', 'ImagePullBackOff (1 pod)']);
  });
});
