import { createHash } from 'node:crypto';

/**
 * The FAKE API server's stand-in for the Deployment and StatefulSet controllers: a scripted
 * rollout player. Each read of a workload advances its rollout one step, so tests are exact
 * and fast. Only node built-ins here (bench/render-bench.mjs transpiles this file on the fly).
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = Record<string, any>;

/**
 * - instant: rolled out at the first read
 * - progress: one more replica updated/available per read
 * - stuck: pods crash-loop; after `deadlineAfter` reads the Deployment reports ProgressDeadlineExceeded
 * - hang: pods never get ready and no deadline is reported (the watcher's own timeout must fire)
 */
export type RolloutScript =
  { kind: 'instant' } | { kind: 'progress' } | { kind: 'stuck'; deadlineAfter?: number } | { kind: 'hang' };

export interface Store {
  put(o: Obj): void;
  get(kind: string, ns: string, name: string): Obj | undefined;
  list(kind: string, ns: string): Obj[];
  delete(kind: string, ns: string, name: string): boolean;
}

interface Rollout {
  script: RolloutScript;
  reads: number;
  owner: string;
}

export class RolloutPlayer {
  private rollouts = new Map<string, Rollout>();
  script: (workload: Obj) => RolloutScript = () => ({ kind: 'instant' });

  constructor(private readonly store: Store) {}

  /** Called after a Deployment or StatefulSet was applied with a new generation. */
  started(w: Obj): void {
    const ns = w.metadata.namespace as string;
    const template = w.spec.template as Obj;
    const hash = createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 10);
    const owner = `${w.metadata.name}-${hash}`;
    const selector = { ...(w.spec.selector?.matchLabels ?? {}) };
    if (w.kind === 'Deployment') {
      const existing = this.store
        .list('ReplicaSet', ns)
        .filter((rs) => rs.metadata.ownerReferences?.[0]?.name === w.metadata.name);
      let revision =
        1 +
        Math.max(
          0,
          ...existing.map((rs) => Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0)),
        );
      const same = existing.find((rs) => rs.metadata.name === owner);
      if (same) revision = Number(same.metadata.annotations['deployment.kubernetes.io/revision']);
      const labels = { ...template.metadata.labels, 'pod-template-hash': hash };
      this.store.put({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: owner,
          namespace: ns,
          labels,
          annotations: { 'deployment.kubernetes.io/revision': String(revision) },
          ownerReferences: [{ kind: 'Deployment', name: w.metadata.name }],
        },
        spec: {
          replicas: w.spec.replicas,
          selector: { matchLabels: { ...selector, 'pod-template-hash': hash } },
          template: { ...template, metadata: { ...template.metadata, labels } },
        },
      });
      // Old ReplicaSets stay (scaled to 0) up to revisionHistoryLimit, as the controller keeps them.
      const old = existing
        .filter((rs) => rs.metadata.name !== owner)
        .sort(
          (a, b) =>
            Number(a.metadata.annotations['deployment.kubernetes.io/revision']) -
            Number(b.metadata.annotations['deployment.kubernetes.io/revision']),
        );
      for (const rs of old) rs.spec.replicas = 0;
      const limit = w.spec.revisionHistoryLimit ?? 10;
      for (const rs of old.slice(0, Math.max(0, old.length - limit)))
        this.store.delete('ReplicaSet', ns, rs.metadata.name);
    } else {
      this.store.put({
        apiVersion: 'apps/v1',
        kind: 'ControllerRevision',
        metadata: { name: owner, namespace: ns, labels: { ...selector, 'controller.kubernetes.io/hash': hash } },
        data: { spec: { template } },
        revision: 1,
      });
    }
    this.rollouts.set(`${w.kind}/${ns}/${w.metadata.name}`, { script: this.script(w), reads: 0, owner });
    this.setPods(w, owner, 0, false);
  }

  /** Called on every read of a workload: advances its rollout one step and writes its status. */
  advance(w: Obj): void {
    const r = this.rollouts.get(`${w.kind}/${w.metadata.namespace}/${w.metadata.name}`);
    if (!r) return;
    r.reads++;
    const want = w.spec.replicas ?? 1;
    let updated = want;
    let available = want;
    let deadline = false;
    switch (r.script.kind) {
      case 'instant':
        break;
      case 'progress':
        updated = Math.min(want, r.reads);
        available = Math.min(want, Math.max(0, r.reads - 1));
        break;
      case 'stuck':
        available = 0;
        deadline = r.reads > (r.script.deadlineAfter ?? 3);
        break;
      case 'hang':
        available = 0;
        break;
    }
    const done = updated === want && available === want;
    const crash = r.script.kind === 'stuck' || r.script.kind === 'hang';
    this.setPods(w, r.owner, available, crash, updated);
    const gen = w.metadata.generation;
    if (w.kind === 'Deployment') {
      const conditions = [
        {
          type: 'Progressing',
          status: deadline ? 'False' : 'True',
          reason: deadline ? 'ProgressDeadlineExceeded' : done ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated',
        },
      ];
      w.status = {
        observedGeneration: gen,
        replicas: done ? want : want + (updated < want ? 1 : 0),
        updatedReplicas: updated,
        availableReplicas: available,
        readyReplicas: available,
        unavailableReplicas: want - available,
        conditions,
      };
    } else {
      w.status = {
        observedGeneration: gen,
        replicas: want,
        readyReplicas: available,
        updatedReplicas: updated,
        currentRevision: done ? r.owner : 'old',
        updateRevision: r.owner,
      };
    }
  }

  /** The pods of the current revision: `ready` of them ready, the rest crash-looping or starting. */
  private setPods(w: Obj, owner: string, ready: number, crash: boolean, count = w.spec.replicas ?? 1): void {
    const ns = w.metadata.namespace as string;
    const selector = w.spec.selector?.matchLabels ?? {};
    for (const p of this.store.list('Pod', ns)) {
      if (
        Object.entries(selector).every(([k, v]) => p.metadata.labels?.[k] === v) &&
        p.metadata.labels?.['brr.fake/owner'] !== owner &&
        ready > 0
      )
        this.store.delete('Pod', ns, p.metadata.name);
    }
    const template = w.spec.template as Obj;
    for (let i = 0; i < count; i++) {
      const isReady = i < ready;
      const containers = (template.spec.containers as Obj[]).map((c) => ({
        name: c.name,
        image: c.image,
        imageID: c.image,
        ready: isReady,
        restartCount: crash ? 3 : 0,
        state: isReady
          ? { running: {} }
          : crash
            ? { waiting: { reason: 'CrashLoopBackOff' } }
            : { waiting: { reason: 'ContainerCreating' } },
      }));
      this.store.put({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `${owner}-${i}`,
          namespace: ns,
          labels: { ...template.metadata.labels, 'brr.fake/owner': owner },
          annotations: { ...template.metadata.annotations },
        },
        spec: template.spec,
        status: {
          phase: 'Running',
          conditions: [{ type: 'Ready', status: isReady ? 'True' : 'False' }],
          containerStatuses: containers,
        },
      });
    }
  }

  /** Cascading delete, as the garbage collector would do it. */
  deleted(kind: string, ns: string, name: string): void {
    this.rollouts.delete(`${kind}/${ns}/${name}`);
    for (const rs of this.store.list('ReplicaSet', ns))
      if (rs.metadata.ownerReferences?.[0]?.name === name) this.store.delete('ReplicaSet', ns, rs.metadata.name);
    for (const p of this.store.list('Pod', ns))
      if (String(p.metadata.labels?.['brr.fake/owner'] ?? '').startsWith(`${name}-`))
        this.store.delete('Pod', ns, p.metadata.name);
  }
}
