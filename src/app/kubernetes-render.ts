import { invalidInput, notFound } from '../core/errors.js';
import type { ProcessSpec, Release, ReleasePhaseSpec } from '../core/types.js';
import { configEnv } from '../release/config.js';
import { secretsKeyFromEnv } from '../release/secrets.js';
import type { KubeApi } from '../run/kubernetes/client.js';
import { renderRelease } from '../run/kubernetes/render.js';
import type { KubernetesTarget, RenderInput, RenderResult } from '../run/kubernetes/types.js';
import { findBuild } from '../store/builds.js';
import { appTarget } from './app-target.js';
import type { Context } from './context.js';

/**
 * What the Kubernetes use-cases need from the world, as dependencies: tests swap the store for
 * a fixed process map and the cluster for the fake API server.
 */
export interface KubernetesDeps {
  /** What a build declares: process types and release phase (default: its record in the local store). */
  buildOf(digest: string): Promise<{
    processes: Record<string, ProcessSpec>;
    release?: ReleasePhaseSpec | null;
    init?: string | null;
  }>;
  /** The API client for a target (default: its kubeconfig and context). */
  api(target: KubernetesTarget): KubeApi | Promise<KubeApi>;
  /** Pinned image reference of a build (default `<registry>/<app>@<digest>`). */
  imageFor(registry: string, app: string, digest: string): string;
  /** Time between rollout status polls. */
  pollMs: number;
}

export function defaultKubernetesDeps(ctx: Context): KubernetesDeps {
  return {
    buildOf: (digest) => findBuild(ctx.paths, digest),
    // Loaded on first use: @kubernetes/client-node takes ~0.4 s to import, which every other
    // command (and every local deploy) would otherwise pay at start-up.
    api: async (target) => {
      const [{ createKubeApi }, { loadKubeConfig }] = await Promise.all([
        import('../run/kubernetes/client.js'),
        import('../run/kubernetes/kubeconfig.js'),
      ]);
      return createKubeApi(loadKubeConfig(target));
    },
    imageFor: (registry, app, digest) => `${registry}/${app}@${digest}`,
    pollMs: 1000,
  };
}

/**
 * One release's render input. Secret values are decrypted only when `includeSecrets` (the run
 * stage, or `brr render --include-secrets`); otherwise the Secret is rendered as a placeholder.
 */
export async function renderInputFor(
  deps: KubernetesDeps,
  rel: Release,
  where: { namespace: string; registry: string },
  includeSecrets: boolean,
): Promise<RenderInput> {
  const config: Record<string, string> = {};
  const secrets: Record<string, string | null> = {};
  const opened = includeSecrets ? configEnv(rel.config, secretsKeyFromEnv()) : null;
  for (const key of Object.keys(rel.config).sort()) {
    const v = rel.config[key]!;
    if (v.secret) secrets[key] = opened ? (opened[key] as string) : null;
    else config[key] = v.value;
  }
  return {
    app: rel.app,
    namespace: where.namespace,
    release: { id: rel.id, hash: rel.hash, commit: rel.build.commit, digest: rel.build.digest, cause: rel.cause },
    image: deps.imageFor(where.registry, rel.app, rel.build.digest),
    ...(await deps.buildOf(rel.build.digest).then((b) => ({ processes: b.processes, init: b.init ?? null }))),
    formation: rel.formation,
    config,
    secrets,
  };
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  registry?: string;
  includeSecrets?: boolean;
}

/** `brr render`: a release (default the newest) as objects, for the app's target or the flags given. */
export async function renderForApp(
  ctx: Context,
  deps: KubernetesDeps,
  app: string,
  opts: RenderOptions,
): Promise<RenderResult & { release: string }> {
  const target = await appTarget(ctx, app);
  const namespace = opts.namespace ?? (target.target === 'kubernetes' ? target.namespace : undefined);
  const registry = opts.registry ?? (target.target === 'kubernetes' ? target.registry : undefined);
  if (!namespace || !registry) {
    throw invalidInput(
      'render_target_missing',
      `app ${app} has no Kubernetes target, so render needs --namespace and --registry`,
      `set one with \`brr apps set ${app} --target kubernetes --context C --namespace NS --registry R\``,
    );
  }
  const rel = opts.release ? await ctx.ledger.getRelease(app, opts.release) : await ctx.ledger.latestRelease(app);
  if (!rel)
    throw notFound(
      'release_not_found',
      `app ${app} has no release ${opts.release ?? 'yet'}`,
      `list them with \`brr releases --app ${app}\``,
    );
  const result = renderRelease(
    await renderInputFor(
      deps,
      rel,
      { namespace, registry: registry.replace(/\/+$/, '') },
      opts.includeSecrets ?? false,
    ),
  );
  return { ...result, release: rel.id };
}
