/**
 * `brr check`: the CNTi-style static checks of one release. The release is rendered in memory
 * (also for a local-target app), so what is checked is exactly what `brr render` would apply.
 */
import { BrrError, notFound } from '../core/errors.js';
import { pushedReference } from '../run/kubernetes/image-ref.js';
import { essentialFailures, runChecks, type CheckResult } from '../run/kubernetes/check.js';
import { renderRelease } from '../run/kubernetes/render.js';
import { appTarget } from './app-target.js';
import { parseReleaseId } from '../release/plan.js';
import type { Context } from './context.js';
import { defaultKubernetesDeps, renderInputFor, type KubernetesDeps } from './kubernetes-render.js';

/**
 * `brr check [vN]`: a release rendered in memory (for any app: a local-target app renders as it
 * would on Kubernetes) and run through the CNTi static checks. Never decrypts secrets and never
 * needs the build pushed: an unpushed build is named `<registry>/<app>@digest`, which the checks
 * read the same way.
 */

export interface CheckReport {
  app: string;
  release: string;
  results: CheckResult[];
  /** Essential checks that failed: the command exits 1 when there is any. */
  essentialFailed: number;
}

/** `brr check [vN]`: renders the release (default: the newest) in memory and runs the CNTi-style checks on it. */
export async function checkRelease(
  ctx: Context,
  app: string,
  id: string | undefined,
  deps: KubernetesDeps = defaultKubernetesDeps(ctx),
): Promise<CheckReport> {
  const release = id === undefined ? undefined : parseReleaseId(id);
  const target = await appTarget(ctx, app);
  const rel = release ? await ctx.ledger.getRelease(app, release) : await ctx.ledger.latestRelease(app);
  if (!rel)
    throw notFound(
      'release_not_found',
      `app ${app} has no release ${release ?? 'yet'}`,
      `list them with \`brr releases --app ${app}\``,
    );
  const where =
    target.target === 'kubernetes'
      ? { namespace: target.namespace, registry: target.registry.replace(/\/+$/, '') }
      : { namespace: app, registry: 'localhost/brr' };
  const build = await deps.buildOf(rel.build.digest);
  const inMemory: KubernetesDeps = {
    ...deps,
    imageFor: (registry, a, digest, pushed) =>
      deps.imageFor(registry, a, digest, pushed) ??
      pushedReference(pushed, registry, a, digest) ??
      `${registry}/${a}@${digest}`,
  };
  const rendered = renderRelease(await renderInputFor(inMemory, rel, where, false, ctx.settings));
  const imageSizes: Record<string, number> = {};
  const size = build.size;
  if (typeof size === 'number')
    for (const o of rendered.objects) {
      const spec = JSON.stringify(o);
      for (const m of spec.matchAll(/"image":"([^"]+)"/g)) imageSizes[m[1]!] = size;
    }
  const results = runChecks(rendered.objects, { imageSizes });
  return { app, release: rel.id, results, essentialFailed: essentialFailures(results).length };
}

/** The error `brr check` ends with when an essential check failed (exit 1, after the report). */
export function essentialFailed(report: CheckReport): BrrError {
  const names = [...new Set(essentialFailures(report.results).map((r) => r.check))];
  return new BrrError(
    'check_failed',
    `${report.app} ${report.release}: essential CNTi checks failed: ${names.join(', ')}`,
    { exitCode: 1, hint: 'each failed row says what to change; fix, build or release again, then `brr check`' },
  );
}
