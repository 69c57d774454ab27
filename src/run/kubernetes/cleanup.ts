import type { KubeApi } from './client.js';
import { LABELS, MANAGER, appSelector, podSelector } from './names.js';
import type { KubeObject } from './types.js';

/**
 * Clean-up after a rollout: the per-release ConfigMaps and Secrets that nothing needs any more,
 * and workloads of process types the running release no longer has. Clean-up that deletes what
 * a retained release needs is the bug users of other tools report most, so every rule keeps
 * when in doubt: an object stays if a retained release owns it OR any live ReplicaSet,
 * Deployment, StatefulSet or ControllerRevision mentions its name anywhere (env key refs, envFrom,
 * volumes): `kubectl rollout undo` brings such a template back, and it must still find its config.
 */

export interface Ref {
  kind: string;
  name: string;
}

export interface ConfigCleanupPlan {
  delete: Ref[];
  keep: Array<Ref & { why: string }>;
}

function strings(v: unknown, into: Set<string>): Set<string> {
  if (typeof v === 'string') into.add(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, into);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) strings(x, into);
  return into;
}

/** Names that live objects mention, mapped to one object that mentions each (for the report). */
export function liveReferences(live: readonly KubeObject[]): Map<string, string> {
  const refs = new Map<string, string>();
  for (const o of live) {
    const body = o.kind === 'ControllerRevision' ? o.data : (o.spec as Record<string, unknown> | undefined)?.template;
    // ControllerRevision data may be a JSON string (raw extension): scan its text for our names too.
    const found = strings(body, new Set());
    for (const s of [...found]) if (s.startsWith('{')) strings(safeParse(s), found);
    for (const s of found) if (!refs.has(s)) refs.set(s, `${o.kind} ${o.metadata.name}`);
  }
  return refs;
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

/**
 * Pure: which of the app's ConfigMaps and Secrets to delete. Only objects brr made for this app
 * (labels, and the `<app>-vN-config|secret` name) are candidates at all.
 */
export function planConfigCleanup(
  app: string,
  configObjects: readonly KubeObject[],
  retained: readonly string[],
  live: readonly KubeObject[],
): ConfigCleanupPlan {
  const refs = liveReferences(live);
  const keepIds = new Set(retained);
  const nameRe = new RegExp(`^${app.replace(/[-]/g, '\\-')}-(v[1-9][0-9]*)-(config|secret)$`);
  const plan: ConfigCleanupPlan = { delete: [], keep: [] };
  for (const o of [...configObjects].sort(
    (a, b) => a.metadata.name.localeCompare(b.metadata.name) || a.kind.localeCompare(b.kind),
  )) {
    const labels = o.metadata.labels ?? {};
    const m = nameRe.exec(o.metadata.name);
    if (!m || labels[LABELS.managedBy] !== MANAGER || labels[LABELS.instance] !== app) continue;
    const ref = { kind: o.kind, name: o.metadata.name };
    const id = m[1] as string;
    if (keepIds.has(id)) plan.keep.push({ ...ref, why: `release ${id} is retained` });
    else if (refs.has(o.metadata.name)) plan.keep.push({ ...ref, why: `referenced by ${refs.get(o.metadata.name)}` });
    else plan.delete.push(ref);
  }
  return plan;
}

/**
 * Pure: live Deployments, StatefulSets, Services, PDBs, the LimitRange and release Jobs of the app
 * that `desired` no longer has (a LimitRange only acts when a pod is admitted, so deleting it touches
 * no running pod; an earlier release's Job has done its work once its successor is healthy).
 */
export function planPrune(desired: readonly KubeObject[], live: readonly KubeObject[]): Ref[] {
  const want = new Set(desired.map((o) => `${o.kind}/${o.metadata.name}`));
  const order = ['Deployment', 'StatefulSet', 'PodDisruptionBudget', 'Service', 'LimitRange', 'Job'];
  return live
    .filter(
      (o) =>
        order.includes(o.kind) &&
        o.metadata.labels?.[LABELS.managedBy] === MANAGER &&
        !want.has(`${o.kind}/${o.metadata.name}`),
    )
    .map((o) => ({ kind: o.kind, name: o.metadata.name }))
    .sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || a.name.localeCompare(b.name));
}

export const API_VERSIONS: Record<string, string> = {
  ConfigMap: 'v1',
  Secret: 'v1',
  Service: 'v1',
  Pod: 'v1',
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  ReplicaSet: 'apps/v1',
  ControllerRevision: 'apps/v1',
  PodDisruptionBudget: 'policy/v1',
  LimitRange: 'v1',
  Job: 'batch/v1',
};

export interface CleanupResult {
  deleted: string[];
  kept: string[];
}

/** Lists what the app has in the namespace, plans, and deletes. Workloads first, then config. */
export async function cleanUp(
  api: KubeApi,
  app: string,
  namespace: string,
  desired: readonly KubeObject[],
  retained: readonly string[],
): Promise<CleanupResult> {
  const list = (kind: string, selector: string) => api.list(API_VERSIONS[kind] as string, kind, namespace, selector);
  const owned = (
    await Promise.all(
      ['Deployment', 'StatefulSet', 'Service', 'PodDisruptionBudget', 'LimitRange', 'Job'].map((k) =>
        list(k, appSelector(app)),
      ),
    )
  ).flat();
  const deleted: string[] = [];
  for (const r of planPrune(desired, owned))
    if (await api.remove(API_VERSIONS[r.kind] as string, r.kind, namespace, r.name))
      deleted.push(`${r.kind}/${r.name}`);
  // Listed after pruning, so a pruned workload's history no longer pins its config.
  const live = (
    await Promise.all([
      list('ReplicaSet', podSelector(app)),
      list('ControllerRevision', podSelector(app)),
      list('Deployment', appSelector(app)),
      list('StatefulSet', appSelector(app)),
    ])
  ).flat();
  const config = (await Promise.all([list('ConfigMap', appSelector(app)), list('Secret', appSelector(app))])).flat();
  const plan = planConfigCleanup(app, config, retained, live);
  for (const r of plan.delete)
    if (await api.remove('v1', r.kind, namespace, r.name)) deleted.push(`${r.kind}/${r.name}`);
  return { deleted, kept: plan.keep.map((k) => `${k.kind}/${k.name} (${k.why})`) };
}
