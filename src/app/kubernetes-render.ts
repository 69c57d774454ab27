import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { invalidInput, notFound } from '../core/errors.js';
import type { ProcessSpec, Release, ReleasePhaseSpec } from '../core/types.js';
import { configEnv } from '../release/config.js';
import { parseReleaseId } from '../release/plan.js';
import type { KubeApi } from '../run/kubernetes/client.js';
import { cnfTestsuiteConfig, cnfTestsuiteYaml } from '../run/kubernetes/cnf-testsuite.js';
import { defaultPushTarget, pushedReference } from '../run/kubernetes/image-ref.js';
import { renderRelease } from '../run/kubernetes/render.js';
import type { KubeObject, KubernetesTarget, RenderInput, RenderResult } from '../run/kubernetes/types.js';
import { objectFileName, objectYaml, yamlStream } from '../run/kubernetes/yaml.js';
import { findBuild, listBuilds } from '../store/builds.js';
import { appTarget } from './app-target.js';
import type { Context } from './context.js';
import { loadSecretsKey, type Settings } from './settings.js';

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
    /** Where the build was pushed (`registry/repo[:tag]@sha256:…`). */
    pushed?: string[];
    /** Compressed bytes of the image (manifest + config + layers). */
    size?: number;
  }>;
  /** The API client for a target (default: its kubeconfig and context). */
  api(target: KubernetesTarget): KubeApi | Promise<KubeApi>;
  /**
   * Pinned image reference of a build for an app (default: where it was pushed for this app, see
   * pushedReference); null when unknown.
   */
  imageFor(registry: string, app: string, digest: string, pushed: readonly string[]): string | null;
  /** Pushes a build of the local store to `to` (`registry/repo`) and records it (default: pushBuild). */
  push?(digest: string, to: string, progress: (line: string) => void): Promise<void>;
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
    imageFor: (registry, app, digest, pushed) => pushedReference(pushed, registry, app, digest),
    push: async (digest, to, progress) => {
      const { pushBuild } = await import('../registry/push-build.js');
      await pushBuild({ paths: ctx.paths, build: digest, to, progress });
    },
    pollMs: 1000,
  };
}

/**
 * `brr run`'s push: when the build is not in the app's registry (no recorded push there), push it
 * to `<registry>/<app>` and record it, so the render that follows names an image that exists.
 */
export async function ensurePushed(
  deps: KubernetesDeps,
  rel: Release,
  registry: string,
  onProgress: (line: string) => void,
): Promise<void> {
  const build = await deps.buildOf(rel.build.digest);
  if (deps.imageFor(registry, rel.app, rel.build.digest, build.pushed ?? [])) return;
  const to = defaultPushTarget(registry, rel.app);
  if (!deps.push)
    throw invalidInput(
      'kubernetes_image_not_pushed',
      `build ${rel.build.digest} is not in ${registry}`,
      `brr push --to ${to}`,
    );
  onProgress(`pushing ${rel.build.digest} to ${to} (the app's registry lacks it)`);
  await deps.push(rel.build.digest, to, onProgress);
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
  settings: Pick<Settings, 'secretsKey'>,
): Promise<RenderInput> {
  const build = await deps.buildOf(rel.build.digest);
  const image = deps.imageFor(where.registry, rel.app, rel.build.digest, build.pushed ?? []);
  if (!image) {
    const to = defaultPushTarget(where.registry, rel.app);
    throw invalidInput(
      'kubernetes_image_not_pushed',
      `${rel.app} ${rel.id}: build ${rel.build.digest} was not pushed to ${where.registry} (nor to ${to}), so no render can name its image`,
      `push it: \`brr push ${rel.build.digest.slice('sha256:'.length, 'sha256:'.length + 12)} --to ${to}\` (\`brr run\` pushes by itself)`,
    );
  }
  const config: Record<string, string> = {};
  const secrets: Record<string, string | null> = {};
  const opened = includeSecrets ? configEnv(rel.config, loadSecretsKey(settings)) : null;
  for (const key of Object.keys(rel.config).sort()) {
    const v = rel.config[key]!;
    if (v.secret) secrets[key] = opened ? (opened[key] as string) : null;
    else config[key] = v.value;
  }
  return {
    app: rel.app,
    namespace: where.namespace,
    release: { id: rel.id, hash: rel.hash, commit: rel.build.commit, digest: rel.build.digest, cause: rel.cause },
    image,
    processes: build.processes,
    releasePhase: build.release ?? null,
    init: build.init ?? null,
    formation: rel.formation,
    config,
    secrets,
  };
}

/**
 * The app's other builds pushed to the same repository as `image` (for `brr render
 * --cnf-testsuite`'s test tags), from the local store's push records.
 */
export async function otherPushedBuilds(
  ctx: Context,
  app: string,
  registry: string,
  image: string,
): Promise<Array<{ digest: string; createdAt: string }>> {
  const repo = image.slice(0, image.lastIndexOf('@'));
  const out: Array<{ digest: string; createdAt: string }> = [];
  for (const b of await listBuilds(ctx.paths)) {
    const ref = pushedReference(b.pushed ?? [], registry, app, b.digest);
    if (ref && ref.slice(0, ref.lastIndexOf('@')) === repo && !out.some((o) => o.digest === b.digest))
      out.push({ digest: b.digest, createdAt: b.createdAt });
  }
  return out;
}

/** Where `brr render --cnf-testsuite --out DIR` puts the manifests, relative to DIR. */
export const CNF_MANIFEST_DIR = 'manifests';

export interface RenderOptions {
  release?: string;
  namespace?: string;
  registry?: string;
  includeSecrets?: boolean;
  /** Also make the CNTi test suite's cnf-testsuite.yml (manifests in `manifests/` beside it). */
  cnfTestsuite?: boolean;
}

/** `brr render`: a release (default the newest) as objects, for the app's target or the flags given. */
export async function renderForApp(
  ctx: Context,
  deps: KubernetesDeps,
  app: string,
  opts: RenderOptions,
): Promise<RenderResult & { release: string; cnfTestsuite?: string }> {
  const id = opts.release === undefined ? undefined : parseReleaseId(opts.release);
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
  const rel = id ? await ctx.ledger.getRelease(app, id) : await ctx.ledger.latestRelease(app);
  if (!rel)
    throw notFound(
      'release_not_found',
      `app ${app} has no release ${id ?? 'yet'}`,
      `list them with \`brr releases --app ${app}\``,
    );
  const reg = registry.replace(/\/+$/, '');
  const input = await renderInputFor(
    deps,
    rel,
    { namespace, registry: reg },
    opts.includeSecrets ?? false,
    ctx.settings,
  );
  const result = renderRelease(input);
  if (!opts.cnfTestsuite) return { ...result, release: rel.id };
  const others = await otherPushedBuilds(ctx, app, reg, input.image);
  const current = (await listBuilds(ctx.paths)).find((b) => b.digest === rel.build.digest);
  const config = cnfTestsuiteConfig({
    app,
    namespace,
    manifestDirectory: CNF_MANIFEST_DIR,
    objects: result.objects,
    current: { digest: rel.build.digest, createdAt: current?.createdAt ?? rel.createdAt },
    others,
  });
  const warnings = [...result.warnings];
  if (others.filter((o) => o.digest !== rel.build.digest).length === 0)
    warnings.push(
      `no other build of ${app} is pushed to ${input.image.slice(0, input.image.lastIndexOf('@'))}: the CNTi rolling_update, rolling_downgrade, rolling_version_change and rollback tests get no tags and skip; push another build there`,
    );
  return { ...result, warnings, release: rel.id, cnfTestsuite: cnfTestsuiteYaml(config) };
}

/** Rendered objects as one multi-document YAML stream (`brr render` to stdout). */
export function renderedYaml(objects: readonly KubeObject[]): string {
  return yamlStream(objects);
}

/** Writes one YAML file per object into `dir` (created); returns the files, in order. */
export function writeRenderedObjects(objects: readonly KubeObject[], dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return objects.map((o, i) => {
    const file = path.join(dir, objectFileName(o, i));
    writeFileSync(file, objectYaml(o));
    // A Secret with its values is as sensitive as the key that sealed them.
    if (o.kind === 'Secret') chmodSync(file, 0o600);
    return file;
  });
}

/**
 * `brr render --out DIR`: one YAML file per object in DIR; with a CNTi test suite config, the
 * objects go to DIR/manifests and the config to DIR/cnf-testsuite.yml. Returns the files written.
 */
export function writeRender(r: { objects: readonly KubeObject[]; cnfTestsuite?: string }, dir: string): string[] {
  if (!r.cnfTestsuite) return writeRenderedObjects(r.objects, dir);
  const files = writeRenderedObjects(r.objects, path.join(dir, CNF_MANIFEST_DIR));
  const file = path.join(dir, 'cnf-testsuite.yml');
  writeFileSync(file, r.cnfTestsuite);
  return [...files, file];
}
