import { BrrError } from '../core/errors.js';
import type { EventType, Release } from '../core/types.js';
import type { KubeApi } from '../run/kubernetes/client.js';
import { cleanUp } from '../run/kubernetes/cleanup.js';
import { LABELS } from '../run/kubernetes/names.js';
import { renderRelease } from '../run/kubernetes/render.js';
import { podProblems, watchRollout, type WatchOptions } from '../run/kubernetes/rollout.js';
import type { KubeObject, KubernetesTarget } from '../run/kubernetes/types.js';
import { DEFAULT_KEEP } from '../release/retention.js';
import { readAppState, type AppState } from './app-state.js';
import type { Context } from './context.js';
import { defaultKubernetesDeps, ensurePushed, renderInputFor, type KubernetesDeps } from './kubernetes-render.js';

/**
 * `brr run` on a Kubernetes app: render, server-side apply in order, watch the rollout, record
 * the outcome. On failure the last healthy release is applied again with its own ConfigMap and
 * Secret (so config comes back with the code, which `kubectl rollout undo` alone does not do),
 * both outcomes are recorded, and the command fails.
 */

export const DEFAULT_ROLLOUT_TIMEOUT_MS = 5 * 60_000;

export interface KubernetesRunOptions {
  timeoutMs?: number;
  /** The app's state as the caller read it (under the deploy lease); default: read it now. */
  state?: AppState;
  deps?: KubernetesDeps;
  /** The deploy lease's signal: once aborted, nothing more is applied or recorded. */
  signal?: AbortSignal;
}

export interface KubernetesRunResult {
  app: string;
  release: string;
  durationMs: number;
  /** Where the time went: brr's own work (render, apply, clean-up) vs waiting for the cluster. */
  timings: { renderMs: number; applyMs: number; waitMs: number; cleanupMs: number };
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet']);

export async function runOnKubernetes(
  ctx: Context,
  rel: Release,
  target: KubernetesTarget,
  onProgress: (line: string) => void,
  opts: KubernetesRunOptions = {},
): Promise<KubernetesRunResult> {
  const t0 = performance.now();
  const app = rel.app;
  const deps = opts.deps ?? defaultKubernetesDeps(ctx);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_ROLLOUT_TIMEOUT_MS;
  const timings = { renderMs: 0, applyMs: 0, waitMs: 0, cleanupMs: 0 };
  const record = (type: EventType, release: string, detail: Record<string, unknown>) =>
    ctx.ledger.appendEvent(app, { type, release, detail, actor: ctx.actor, createdAt: ctx.clock.now().toISOString() });
  await ensurePushed(deps, rel, target.registry, onProgress);
  const api = await deps.api(target);
  // The last release that served, other than this one: the way back if this rollout fails.
  const fallback = await (opts.state ?? (await readAppState(ctx, app))).lastServedOtherThan(rel.id);

  // Rendered (and secrets opened) before anything changes: a release that cannot render is refused whole.
  let t = performance.now();
  const desired = renderRelease(await renderInputFor(deps, rel, target, true, ctx.settings));
  timings.renderMs = performance.now() - t;
  for (const w of desired.warnings) onProgress(`warning: ${w}`);

  await record('switch-started', rel.id, {
    target: 'kubernetes',
    context: target.context,
    namespace: target.namespace,
  });
  onProgress(
    `applying ${desired.objects.length} objects of ${rel.id} to namespace ${target.namespace} (context ${target.context})`,
  );
  const outcome = await applyAndWatch(
    api,
    desired.objects,
    rel.id,
    { timeoutMs, pollMs: deps.pollMs, onProgress, signal: opts.signal },
    timings,
  );
  if (outcome.ok) {
    const durationMs = Math.round(performance.now() - t0);
    await record('activated', rel.id, { durationMs });
    t = performance.now();
    await cleanUpQuietly(ctx, api, rel, target, desired.objects, fallback, onProgress);
    timings.cleanupMs = performance.now() - t;
    return { app, release: rel.id, durationMs, timings };
  }

  await record('failed', rel.id, { reason: outcome.reason });
  if (!outcome.changed) throw outcome.error ?? new BrrError('rollout_failed', `${app} ${rel.id}: ${outcome.reason}`);
  const prev = fallback ? await ctx.ledger.getRelease(app, fallback) : null;
  if (!prev) {
    throw new BrrError(
      'rollout_failed',
      `${app} ${rel.id} failed: ${outcome.reason}; there is no earlier healthy release to go back to`,
      {
        hint: `inspect with \`kubectl -n ${target.namespace} describe deployments -l ${LABELS.instance}=${app}\`; fix the release and run again`,
      },
    );
  }
  onProgress(`${rel.id} failed: ${outcome.reason}; re-applying ${prev.id} with its own ConfigMap and Secret`);
  // Never the earlier release's Job again: its release phase ran when it was deployed.
  const rendered = renderRelease(await renderInputFor(deps, prev, target, true, ctx.settings));
  const back = { ...rendered, objects: rendered.objects.filter((o) => o.kind !== 'Job') };
  const restored = await applyAndWatch(
    api,
    back.objects,
    prev.id,
    { timeoutMs, pollMs: deps.pollMs, onProgress, signal: opts.signal },
    timings,
  );
  if (!restored.ok) {
    await record('failed', prev.id, { reason: `rollback after ${rel.id}: ${restored.reason}` });
    throw new BrrError(
      'rollback_failed',
      `${app} ${rel.id} failed (${outcome.reason}), and going back to ${prev.id} failed too: ${restored.reason}`,
      {
        hint: `the cluster needs a look: \`kubectl -n ${target.namespace} get pods -l ${LABELS.instance}=${app}\`; \`brr status\` shows what runs`,
      },
    );
  }
  await record('rolled-back', prev.id, { reason: outcome.reason, from: rel.id });
  await cleanUpQuietly(ctx, api, prev, target, back.objects, null, onProgress);
  throw new BrrError(
    'rollout_failed',
    `${app} ${rel.id} failed: ${outcome.reason}; ${prev.id} was restored (code and config)`,
    {
      hint: `fix the release and run it again; \`kubectl -n ${target.namespace} describe pods -l ${LABELS.version}=${rel.id}\` shows why`,
      details: { restored: prev.id },
    },
  );
}

type Outcome = { ok: true } | { ok: false; reason: string; changed: boolean; error?: BrrError };

/** Applies in order (config first, workloads last), then watches the workloads. */
async function applyAndWatch(
  api: KubeApi,
  objects: readonly KubeObject[],
  id: string,
  watch: WatchOptions,
  timings: KubernetesRunResult['timings'],
): Promise<Outcome> {
  let t = performance.now();
  let applied = 0;
  // The release Job (if any) splits the apply: config and the Job first, then wait for the Job,
  // then the rest. New config objects change nothing that runs, so a failed Job leaves the
  // running release as it was (changed: false, no rollback).
  const job = objects.findIndex((o) => o.kind === 'Job');
  const first = job < 0 ? [] : objects.slice(0, job + 1);
  const rest = job < 0 ? objects : objects.slice(job + 1);
  type Failed = Extract<Outcome, { ok: false }>;
  const applyAll = async (list: readonly KubeObject[], counts: boolean): Promise<Failed | null> => {
    try {
      for (const o of list) {
        watch.signal?.throwIfAborted();
        await api.apply(o);
        if (counts) applied++;
      }
      return null;
    } catch (e) {
      if (watch.signal?.aborted) throw e;
      const error = e instanceof BrrError ? e : new BrrError('kube_api_error', String(e));
      return { ok: false, reason: error.message, changed: applied > 0, error };
    } finally {
      timings.applyMs += performance.now() - t;
    }
  };
  if (job >= 0) {
    const refused = await applyAll(first, false);
    if (refused) return refused;
    t = performance.now();
    const ran = await watchRollout(api, [objects[job]!], watch);
    timings.waitMs += performance.now() - t;
    if (!ran.ok) {
      const ns = objects[job]!.metadata.namespace ?? '';
      const pods = await api
        .list('v1', 'Pod', ns, `job-name=${objects[job]!.metadata.name}`)
        .catch(() => [] as KubeObject[]);
      const why = podProblems(pods);
      return {
        ok: false,
        reason: `release phase: ${ran.reason}${why.length ? `; pods: ${why.join(', ')}` : ''}`,
        changed: false,
        error: new BrrError('release_phase_failed', `release phase of ${id}: ${ran.reason}`, {
          hint: `see its output: \`kubectl -n ${ns} logs job/${objects[job]!.metadata.name}\`; the running release was not touched. Fix the command and release again (a release's Job runs once: delete it to retry the same release)`,
        }),
      };
    }
    t = performance.now();
  }
  const refused = await applyAll(rest, true);
  if (refused) return refused;
  t = performance.now();
  const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.kind));
  const result = await watchRollout(api, workloads, watch);
  timings.waitMs += performance.now() - t;
  if (result.ok) return { ok: true };
  const ns = objects[0]?.metadata.namespace ?? '';
  const pods = await api
    .list(
      'v1',
      'Pod',
      ns,
      `${LABELS.instance}=${objects[0]?.metadata.labels?.[LABELS.instance] ?? ''},${LABELS.version}=${id}`,
    )
    .catch(() => []);
  const why = podProblems(pods);
  return { ok: false, reason: why.length ? `${result.reason}; pods: ${why.join(', ')}` : result.reason, changed: true };
}

/** Clean-up never fails a rollout that succeeded: problems become warnings. */
async function cleanUpQuietly(
  ctx: Context,
  api: KubeApi,
  rel: Release,
  target: KubernetesTarget,
  desired: readonly KubeObject[],
  previous: string | null,
  onProgress: (l: string) => void,
): Promise<void> {
  const latest = await ctx.ledger.latestRelease(rel.app);
  const retained = new Set([rel.id]);
  if (previous) retained.add(previous);
  for (let seq = latest?.seq ?? rel.seq; seq > 0 && seq > (latest?.seq ?? rel.seq) - DEFAULT_KEEP; seq--)
    retained.add(`v${seq}`);
  try {
    const r = await cleanUp(api, rel.app, target.namespace, desired, [...retained]);
    if (r.deleted.length) onProgress(`clean-up: deleted ${r.deleted.join(', ')}`);
  } catch (e) {
    onProgress(`warning: clean-up skipped: ${e instanceof Error ? e.message : String(e)}`);
  }
}
