import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrrError } from '../../../src/core/errors.js';
import { createKubeApi, type KubeApi } from '../../../src/run/kubernetes/client.js';
import { startFakeApiServer, type FakeApiServer } from '../../helpers/kubernetes/fake-apiserver.js';

const cm = (name: string, data: Record<string, string>, ns = 'upf') => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: {
    name,
    namespace: ns,
    labels: { 'app.kubernetes.io/instance': 'upf', 'app.kubernetes.io/managed-by': 'brr' },
  },
  data,
  immutable: true,
});

async function errorOf(p: Promise<unknown>): Promise<BrrError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof BrrError) return e;
    throw e;
  }
  throw new Error('expected a BrrError');
}

describe('Kubernetes client against the FAKE API server', () => {
  let fake: FakeApiServer;
  let api: KubeApi;
  beforeAll(async () => {
    fake = await startFakeApiServer({ namespaces: ['upf'] });
    const kc = new KubeConfig();
    kc.loadFromOptions(fake.kubeconfigOptions());
    api = createKubeApi(kc);
  });
  afterAll(() => fake.close());

  it('applies with server-side apply, field manager brr, forced, and the bearer token', async () => {
    const out = await api.apply(cm('upf-v1-config', { LOG_LEVEL: 'info' }));
    expect(out.metadata.uid).toBeTruthy();
    const p = fake.patches.at(-1)!;
    expect(p).toMatchObject({
      path: '/api/v1/namespaces/upf/configmaps/upf-v1-config',
      contentType: 'application/apply-patch+yaml',
      fieldManager: 'brr',
      force: true,
    });
    expect(p.body).toEqual(cm('upf-v1-config', { LOG_LEVEL: 'info' }));
    expect(fake.requests.every((r) => r.authorized)).toBe(true);
  });

  it('reads, lists by label selector and deletes; a missing object is null / false, not an error', async () => {
    await api.apply({
      ...cm('other-v1-config', {}),
      metadata: { name: 'other-v1-config', namespace: 'upf', labels: { 'app.kubernetes.io/instance': 'other' } },
    });
    expect((await api.read('v1', 'ConfigMap', 'upf', 'upf-v1-config'))?.data).toEqual({ LOG_LEVEL: 'info' });
    expect(await api.read('v1', 'ConfigMap', 'upf', 'nope')).toBeNull();
    const listed = await api.list(
      'v1',
      'ConfigMap',
      'upf',
      'app.kubernetes.io/instance=upf,app.kubernetes.io/managed-by=brr',
    );
    expect(listed.map((o) => o.metadata.name)).toEqual(['upf-v1-config']);
    expect(listed[0]!.kind).toBe('ConfigMap');
    expect(await api.remove('v1', 'ConfigMap', 'upf', 'other-v1-config')).toBe(true);
    expect(await api.remove('v1', 'ConfigMap', 'upf', 'other-v1-config')).toBe(false);
  });

  it('translates 422 (changing an immutable ConfigMap) and 404 (no namespace) by status, not text', async () => {
    const e422 = await errorOf(api.apply(cm('upf-v1-config', { LOG_LEVEL: 'debug' })));
    expect(e422.code).toBe('kube_invalid');
    expect(e422.exitCode).toBe(2);
    expect(e422.message).toContain('immutable');
    const e404 = await errorOf(api.apply(cm('x-v1-config', {}, 'missing')));
    expect(e404.code).toBe('kube_not_found');
    expect(e404.hint).toContain('namespace');
  });

  it('never repeats the API server message for a Secret (it could quote data)', async () => {
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace: 'upf' },
      data: { K: 'dg==' },
      immutable: true,
      type: 'Opaque',
    };
    await api.apply(secret);
    const e = await errorOf(api.apply({ ...secret, data: { K: 'dzI=' } }));
    expect(e.code).toBe('kube_invalid');
    expect(e.message).not.toContain('immutable');
    expect(e.message).toContain('Invalid');
  });

  it('refuses requests without the bearer token (401 → kube_unauthorized)', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({ ...fake.kubeconfigOptions(), users: [{ name: 'fake-user', token: 'wrong' }] });
    const e = await errorOf(createKubeApi(kc).read('v1', 'ConfigMap', 'upf', 'upf-v1-config'));
    expect(e.code).toBe('kube_unauthorized');
    expect(fake.requests.at(-1)!.authorized).toBe(false);
  });

  it('reports an unreachable API server as kube_unreachable', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      ...fake.kubeconfigOptions(),
      clusters: [{ name: 'fake', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
    });
    expect((await errorOf(createKubeApi(kc).list('v1', 'Pod', 'upf', 'a=b'))).code).toBe('kube_unreachable');
  });
});
