import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { changeConfig } from '../../../src/app/change-config.js';
import { openContext, type Context } from '../../../src/app/context.js';
import type { KubernetesDeps } from '../../../src/app/kubernetes-render.js';
import { runOnKubernetes, type KubernetesRunResult } from '../../../src/app/kubernetes-run.js';
import type { ProcessSpec, Release, ReleasePhaseSpec } from '../../../src/core/types.js';
import { planRelease } from '../../../src/release/plan.js';
import { createKubeApi } from '../../../src/run/kubernetes/client.js';
import type { KubernetesTarget } from '../../../src/run/kubernetes/types.js';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';

export const DIGEST_1 = `sha256:${'1'.repeat(64)}`;
export const DIGEST_2 = `sha256:${'2'.repeat(64)}`;
export const COMMIT = '1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b';
export const SECRET_VALUE = 'hunter2-very-secret';

const health = (check: ProcessSpec['health']['check']): ProcessSpec['health'] => ({
  check,
  timeoutMs: 10_000,
  intervalMs: 1_000,
  upForMs: 1_000,
});
export const NF: ProcessSpec = {
  command: 'node nf.mjs',
  scale: 2,
  ports: [{ name: 'http', port: 8080, protocol: 'tcp', address: '127.0.0.1' }],
  health: health({ kind: 'http', path: '/healthz', port: 'http' }),
  graceMs: 5_000,
  restart: 'always',
};
export const WORKER: ProcessSpec = {
  command: 'node worker.mjs',
  scale: 1,
  ports: [],
  health: health({ kind: 'exec', command: 'true' }),
  graceMs: 5_000,
  restart: 'always',
};

/**
 * A brr home with a real SQLite ledger, and the FAKE API server as the cluster. Builds are
 * injected (digest → process types), so these tests need no image store.
 */
export class KubeWorld {
  readonly lines: string[] = [];
  readonly target: KubernetesTarget = {
    target: 'kubernetes',
    context: 'fake',
    namespace: 'upf',
    registry: 'registry.example.com/nf',
    kubeconfig: null,
  };
  builds = new Map<string, Record<string, ProcessSpec>>([
    [DIGEST_1, { nf: NF, worker: WORKER }],
    [DIGEST_2, { nf: NF }],
  ]);
  /** Release phases of builds (digest → command), none unless a test sets one. */
  releasePhases = new Map<string, ReleasePhaseSpec>();
  readonly deps: KubernetesDeps;
  private constructor(
    readonly fake: FakeApiServer,
    readonly ctx: Context,
    private readonly home: string,
  ) {
    const kc = new KubeConfig();
    kc.loadFromOptions(fake.kubeconfigOptions());
    this.deps = {
      buildOf: async (digest) => ({
        processes: this.builds.get(digest) ?? {},
        release: this.releasePhases.get(digest) ?? null,
      }),
      api: () => createKubeApi(kc),
      imageFor: (registry, app, digest) => `${registry}/${app}@${digest}`,
      pollMs: 1,
    };
  }

  static async create(): Promise<KubeWorld> {
    // Secrets are sealed in the ledger with this key and opened only for the cluster.
    process.env.BRR_SECRETS_KEY = randomBytes(32).toString('base64');
    const home = mkdtempSync(path.join(tmpdir(), 'brr-k8s-'));
    return new KubeWorld(
      await startFakeApiServer({ namespaces: ['upf'] }),
      openContext({ home, actor: 'test@host' }),
      home,
    );
  }

  /** A release of `digest` with the app's current config (staged before the first). */
  async release(digest = DIGEST_1): Promise<Release> {
    return this.ctx.ledger.appendRelease('upf', (latest, staged) =>
      planRelease({
        latest,
        staged,
        build: { digest, commit: COMMIT },
        formation: Object.fromEntries(Object.entries(this.builds.get(digest) ?? {}).map(([t, s]) => [t, s.scale])),
        actor: 'test@host',
        now: new Date(),
      }),
    );
  }

  /** `brr config set` (a new release once there is one). */
  async config(set: string[], secret = false): Promise<Release | null> {
    return (await changeConfig(this.ctx, 'upf', { set, secret })).release;
  }

  run(rel: Release, timeoutMs = 10_000): Promise<KubernetesRunResult> {
    return runOnKubernetes(this.ctx, rel, this.target, (l) => this.lines.push(l), { deps: this.deps, timeoutMs });
  }

  async events(): Promise<string[]> {
    return (await this.ctx.ledger.listEvents('upf'))
      .filter((e) => e.type !== 'config-staged')
      .map((e) => `${e.type} ${e.release ?? '-'}`);
  }

  /** The live Deployment's image and the ConfigMap and Secret its env reads (ConfigMap first). */
  live(name = 'upf-nf'): { refs: string[]; image: string; version: string } {
    const d = this.fake.get('Deployment', name, 'upf');
    const c = d?.spec.template.spec.containers[0];
    type Ref = { valueFrom?: { configMapKeyRef?: { name: string }; secretKeyRef?: { name: string } } };
    const env: Ref[] = c?.env ?? [];
    const names = (k: 'configMapKeyRef' | 'secretKeyRef') => [
      ...new Set(env.map((e) => e.valueFrom?.[k]?.name).filter((n): n is string => !!n)),
    ];
    return {
      refs: [...names('configMapKeyRef'), ...names('secretKeyRef')],
      image: c?.image,
      version: d?.spec.template.metadata.labels['app.kubernetes.io/version'],
    };
  }

  names(kind: string): string[] {
    return this.fake
      .list(kind, 'upf')
      .map((o) => o.metadata.name as string)
      .sort();
  }

  async close(): Promise<void> {
    await this.ctx.close();
    await this.fake.close();
    rmSync(this.home, { recursive: true, force: true });
    delete process.env.BRR_SECRETS_KEY;
  }
}
