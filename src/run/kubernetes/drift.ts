import { ANNOTATIONS, LABELS, imageDigest } from './names.js';
import type { KubeObject } from './types.js';

/**
 * Record vs reality on Kubernetes: the ledger's current release against the live pods (their
 * `app.kubernetes.io/version` label, their release-hash annotation and the image digests they
 * run). Pure, so every kind of drift is a table test.
 */

export interface LedgerSide {
  id: string;
  digest: string;
  hash: string;
  /** Pods the release should have (sum of its formation). */
  replicas: number;
}

export interface DriftReport {
  /** Release ids the live pods carry, comma-separated; null when no pod runs. */
  running: string | null;
  inSync: boolean;
  problem: string | null;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});
const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

/** Pods that count: not being deleted and not finished. */
function livePods(pods: readonly KubeObject[]): KubeObject[] {
  return pods.filter(
    (p) => !p.metadata.deletionTimestamp && !['Succeeded', 'Failed'].includes(String(obj(p.status).phase)),
  );
}

/** Digests a pod runs: from its spec (always pinned by brr) and, where the runtime reports one, the resolved image. */
export function podDigests(p: KubeObject): string[] {
  const out = new Set<string>();
  for (const c of list(obj(p.spec).containers)) {
    const d = imageDigest(String(c.image ?? ''));
    out.add(d ?? `unpinned ${String(c.image ?? '')}`);
  }
  for (const cs of list(obj(p.status).containerStatuses)) {
    // `repo@sha256:…` is the manifest digest; a bare `sha256:…` is the local config id, not comparable.
    const id = String(cs.imageID ?? '');
    if (id.includes('@')) {
      const d = imageDigest(id);
      if (d) out.add(d);
    }
  }
  return [...out].sort();
}

function isReady(p: KubeObject): boolean {
  return list(obj(p.status).conditions).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function compareKubernetes(ledger: LedgerSide | null, pods: readonly KubeObject[]): DriftReport {
  const live = livePods(pods);
  const versions = [...new Set(live.map((p) => p.metadata.labels?.[LABELS.version] ?? '?'))].sort();
  const running = versions.length ? versions.join(',') : null;
  const drift = (problem: string): DriftReport => ({ running, inSync: false, problem });
  if (!ledger)
    return live.length
      ? drift('pods run, but the ledger has no current release')
      : { running, inSync: true, problem: null };
  if (live.length === 0) return ledger.replicas === 0 ? { running, inSync: true, problem: null } : drift('not running');
  const others = versions.filter((v) => v !== ledger.id);
  if (others.length) return drift(`pods run ${others.join(', ')} (ledger says ${ledger.id})`);
  if (live.some((p) => podDigests(p).some((d) => d !== ledger.digest)))
    return drift('image digest differs from the ledger');
  if (live.some((p) => p.metadata.annotations?.[ANNOTATIONS.releaseHash] !== ledger.hash))
    return drift('release hash differs from the ledger');
  if (live.length < ledger.replicas) return drift(`${live.length} of ${ledger.replicas} pods`);
  const notReady = live.filter((p) => !isReady(p)).length;
  if (notReady) return drift(`${notReady} pod${notReady === 1 ? '' : 's'} not ready`);
  return { running, inSync: true, problem: null };
}
