import type { KubeApi } from './client.js';
import type { KubeObject } from './types.js';

/**
 * Rollout status with `kubectl rollout status` semantics, as pure functions over the objects the
 * API server returns, plus one polling loop. Polling (not a watch stream) keeps the loop simple
 * and survives API server restarts; the interval is small next to any real rollout.
 */
export interface RolloutStatus {
  done: boolean;
  /** Why the rollout cannot finish (e.g. the progress deadline passed); null while it may. */
  failed: string | null;
  /** One line for progress output. */
  message: string;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

/** A Deployment's rollout, as kubectl's DeploymentStatusViewer decides it. */
export function deploymentStatus(d: KubeObject): RolloutStatus {
  const spec = obj(d.spec);
  const st = obj(d.status);
  const waiting = (message: string): RolloutStatus => ({ done: false, failed: null, message });
  if (num(d.metadata.generation) > num(st.observedGeneration))
    return waiting('waiting for the new spec to be observed');
  const progressing = (Array.isArray(st.conditions) ? (st.conditions as Obj[]) : []).find(
    (c) => c.type === 'Progressing',
  );
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return {
      done: false,
      failed: `exceeded its progress deadline (${num(st.availableReplicas)} of ${spec.replicas ?? 1} available)`,
      message: 'progress deadline exceeded',
    };
  }
  const want = typeof spec.replicas === 'number' ? spec.replicas : 1;
  const updated = num(st.updatedReplicas);
  if (updated < want) return waiting(`${updated} of ${want} new replicas updated`);
  const total = num(st.replicas);
  if (total > updated) return waiting(`${total - updated} old replicas pending termination`);
  const available = num(st.availableReplicas);
  if (available < updated) return waiting(`${available} of ${updated} updated replicas available`);
  return { done: true, failed: null, message: `${updated} of ${want} replicas updated and available` };
}

/** A StatefulSet's rollout (RollingUpdate), as kubectl's StatefulSetStatusViewer decides it. */
export function statefulSetStatus(s: KubeObject): RolloutStatus {
  const spec = obj(s.spec);
  const st = obj(s.status);
  const waiting = (message: string): RolloutStatus => ({ done: false, failed: null, message });
  if (num(st.observedGeneration) === 0 || num(s.metadata.generation) > num(st.observedGeneration))
    return waiting('waiting for the new spec to be observed');
  const want = typeof spec.replicas === 'number' ? spec.replicas : 1;
  const ready = num(st.readyReplicas);
  if (ready < want) return waiting(`${ready} of ${want} pods ready`);
  if (st.updateRevision !== st.currentRevision)
    return waiting(`${num(st.updatedReplicas)} of ${want} pods at the new revision`);
  return { done: true, failed: null, message: `${ready} of ${want} pods ready at the new revision` };
}

/** The release phase's Job: done when Complete, failed when Failed (backoffLimit 0: one try). */
export function jobStatus(j: KubeObject): RolloutStatus {
  const st = obj(j.status);
  const conditions = Array.isArray(st.conditions) ? (st.conditions as Obj[]) : [];
  const is = (type: string) => conditions.find((c) => c.type === type && c.status === 'True');
  const failed = is('Failed');
  if (failed)
    return {
      done: false,
      failed: `failed (${String(failed.reason ?? 'Failed')}${failed.message ? `: ${String(failed.message)}` : ''})`,
      message: 'release command failed',
    };
  if (is('Complete')) return { done: true, failed: null, message: 'release command succeeded' };
  return {
    done: false,
    failed: null,
    message: num(st.active) > 0 ? 'release command running' : 'release command starting',
  };
}

export function workloadStatus(o: KubeObject): RolloutStatus {
  if (o.kind === 'Job') return jobStatus(o);
  return o.kind === 'StatefulSet' ? statefulSetStatus(o) : deploymentStatus(o);
}

/** Why pods are not coming up (ImagePullBackOff, CrashLoopBackOff, …), most frequent first. */
export function podProblems(pods: readonly KubeObject[]): string[] {
  const counts = new Map<string, number>();
  for (const p of pods) {
    for (const cs of (obj(p.status).containerStatuses as Obj[] | undefined) ?? []) {
      const state = obj(cs.state);
      const reason =
        obj(state.waiting).reason ?? obj(state.terminated).reason ?? obj(obj(cs.lastState).terminated).reason;
      if (typeof reason === 'string' && reason !== 'ContainerCreating' && reason !== 'Completed')
        counts.set(reason, (counts.get(reason) ?? 0) + 1);
    }
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([r, n]) => `${r} (${n} pod${n === 1 ? '' : 's'})`);
}

export interface WatchOptions {
  timeoutMs: number;
  pollMs: number;
  /** Called with a line whenever a workload's status line changes. */
  onProgress: (line: string) => void;
  /** Aborts the watch (the deploy lease was lost): throws, and nothing more is done. */
  signal?: AbortSignal;
}

export type WatchResult = { ok: true } | { ok: false; reason: string };

/**
 * Polls every workload until all are rolled out, one fails, or the timeout passes. A workload
 * that disappeared mid-rollout (someone deleted it) is a failure, not a hang.
 */
export async function watchRollout(
  api: KubeApi,
  workloads: readonly KubeObject[],
  opts: WatchOptions,
): Promise<WatchResult> {
  const deadline = Date.now() + opts.timeoutMs;
  const last = new Map<string, string>();
  const pending = new Set(workloads.map((w) => w.metadata.name));
  for (;;) {
    opts.signal?.throwIfAborted();
    for (const w of workloads) {
      if (!pending.has(w.metadata.name)) continue;
      const live = await api.read(w.apiVersion, w.kind, w.metadata.namespace ?? '', w.metadata.name);
      if (!live) return { ok: false, reason: `${w.kind} ${w.metadata.name} disappeared during the rollout` };
      const st = workloadStatus(live);
      if (last.get(w.metadata.name) !== st.message) {
        last.set(w.metadata.name, st.message);
        opts.onProgress(`${w.metadata.name}: ${st.message}`);
      }
      if (st.failed) return { ok: false, reason: `${w.kind} ${w.metadata.name} ${st.failed}` };
      if (st.done) pending.delete(w.metadata.name);
    }
    if (pending.size === 0) return { ok: true };
    if (Date.now() >= deadline) {
      const stuck = [...pending].map((n) => `${n} (${last.get(n) ?? 'no status'})`).join(', ');
      return { ok: false, reason: `timed out after ${Math.round(opts.timeoutMs / 1000)}s waiting for ${stuck}` };
    }
    await new Promise((r) => setTimeout(r, Math.min(opts.pollMs, Math.max(0, deadline - Date.now()))));
  }
}
