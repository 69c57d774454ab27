import { isBrrError } from '../core/errors.js';
import { compareKubernetes, type DriftReport } from '../run/kubernetes/drift.js';
import { podSelector } from '../run/kubernetes/names.js';
import type { KubernetesTarget } from '../run/kubernetes/types.js';
import type { Context } from './context.js';
import { defaultKubernetesDeps, type KubernetesDeps } from './kubernetes-render.js';
import { currentReleaseOf } from './current-release.js';

/**
 * `brr status` for a Kubernetes app: the ledger's current release against the live pods. An
 * unreachable cluster is reported as the row's problem, never as a crash of the whole status.
 */
export async function kubernetesStatus(
  ctx: Context,
  app: string,
  target: KubernetesTarget,
  deps: KubernetesDeps = defaultKubernetesDeps(ctx),
): Promise<DriftReport & { app: string; ledger: string | null }> {
  const id = await currentReleaseOf(ctx.ledger, app);
  const rel = id ? await ctx.ledger.getRelease(app, id) : null;
  const ledger = rel
    ? {
        id: rel.id,
        digest: rel.build.digest,
        hash: rel.hash,
        replicas: Object.values(rel.formation).reduce((a, b) => a + b, 0),
      }
    : null;
  try {
    const pods = await (await deps.api(target)).list('v1', 'Pod', target.namespace, podSelector(app));
    return { app, ledger: id, ...compareKubernetes(ledger, pods) };
  } catch (e) {
    if (!isBrrError(e)) throw e;
    return { app, ledger: id, running: null, inSync: false, problem: `cluster: ${e.message}` };
  }
}
