import type { Digest, Formation, ProcessSpec, ReleasePhaseSpec } from '../../core/types.js';

/**
 * The shapes the Kubernetes target speaks. Objects are plain JSON, exactly as they go to the API
 * server (and into `brr render` YAML), so rendering stays pure and tests compare data.
 */

export interface KubeMetadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** Any Kubernetes object: apiVersion, kind, metadata, then kind-specific fields. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: KubeMetadata;
  [key: string]: unknown;
}

/** Where a Kubernetes app runs: recorded in the ledger by `brr apps set`. */
export interface KubernetesTarget {
  target: 'kubernetes';
  /** Context name in the kubeconfig. */
  context: string;
  namespace: string;
  /** Registry and path prefix; the image is `<registry>/<app>@<digest>`. */
  registry: string;
  /** Absolute path of the kubeconfig; null = the default ($KUBECONFIG, then ~/.kube/config). */
  kubeconfig: string | null;
}

export interface LocalTarget {
  target: 'local';
}

export type AppTarget = LocalTarget | KubernetesTarget;

/** Everything one release renders from: no ledger, no store, no cluster. */
export interface RenderInput {
  app: string;
  namespace: string;
  release: {
    id: string;
    hash: string;
    commit: string;
    digest: Digest;
    cause: string;
  };
  /** Full image reference, pinned: `<repo>@sha256:…`. */
  image: string;
  processes: Record<string, ProcessSpec>;
  /** The build's release phase (a Job per release, run before the rollout); null or absent when none. */
  releasePhase?: ReleasePhaseSpec | null;
  /** The image's tini/dumb-init (its `dev.brr.init` label), PID 1 of every container; null when it has none. */
  init: string | null;
  formation: Formation;
  /** Plain config (goes into the ConfigMap). */
  config: Record<string, string>;
  /**
   * Secret config: key → value, or key → null when the value is withheld (`brr render` without
   * `--include-secrets`): the Secret is then a placeholder with empty values.
   */
  secrets: Record<string, string | null>;
}

export interface RenderResult {
  /** In apply order: LimitRange, ConfigMap, Secret, the release Job, Services, PodDisruptionBudgets, workloads. */
  objects: KubeObject[];
  /** Things the user should know (a missing probe, an IP address in config), each naming the CNTi check. */
  warnings: string[];
}
