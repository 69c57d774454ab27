import type { HealthSpec, ProcessSpec } from '../../core/types.js';
import {
  ANNOTATIONS,
  LABELS,
  appLabels,
  configMapName,
  headlessServiceName,
  secretName,
  workloadName,
} from './names.js';
import { pid1Argv } from './pid1.js';
import type { KubeObject, RenderInput } from './types.js';

/**
 * One process type as a Deployment (or a StatefulSet when `stateful: true`). Pure: the same
 * input gives the same object, so golden files and `kubectl diff` stay quiet between runs.
 */

/** Non-root by default: images built by brr carry files owned by root but readable by all. */
const RUN_AS = 65532;

/** Kept for `kubectl rollout undo`: each ReplicaSet's template names its release's ConfigMap and Secret. */
export const REVISION_HISTORY = 10;

interface Probes {
  liveness?: Record<string, unknown>;
  readiness?: Record<string, unknown>;
  startup?: Record<string, unknown>;
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** The probe action for a process: its health check, else a TCP connect to its first TCP port. */
export function probeAction(spec: ProcessSpec): Record<string, unknown> | null {
  const check = spec.health.check;
  if (check?.kind === 'http') return { httpGet: { path: check.path, port: check.port } };
  if (check?.kind === 'tcp') return { tcpSocket: { port: check.port } };
  if (check?.kind === 'exec') return { exec: { command: ['/bin/sh', '-c', check.command] } };
  const tcp = spec.ports.find((p) => p.protocol === 'tcp');
  return tcp ? { tcpSocket: { port: tcp.name } } : null;
}

/**
 * Probes from the health config: `timeout` (how long a starting process may take) becomes the
 * startup probe's budget, `interval` the readiness period. Liveness is slower on purpose: a busy
 * NF that misses one check should be taken out of rotation, not restarted.
 */
export function probesFor(spec: ProcessSpec): Probes {
  const action = probeAction(spec);
  if (!action) return {};
  const h: HealthSpec = spec.health;
  const period = seconds(h.intervalMs);
  return {
    startup: {
      ...action,
      failureThreshold: Math.max(1, Math.ceil(h.timeoutMs / (period * 1000))),
      periodSeconds: period,
      timeoutSeconds: period,
    },
    readiness: { ...action, failureThreshold: 3, periodSeconds: period, timeoutSeconds: period },
    liveness: { ...action, failureThreshold: 3, periodSeconds: Math.max(10, period), timeoutSeconds: period },
  };
}

/**
 * The process's `resources` as both request and limit (Guaranteed QoS: an NF is neither throttled
 * below what it asked for nor evicted first). What is not given comes from the LimitRange.
 */
export function resourcesFor(spec: ProcessSpec): Record<string, unknown> | undefined {
  const r = spec.resources;
  if (!r) return undefined;
  const q: Record<string, string> = {};
  if (r.cpu) q.cpu = r.cpu;
  if (r.memory) q.memory = r.memory;
  return { limits: { ...q }, requests: { ...q } };
}

/**
 * The container's environment: brr's own variables, then one entry per config key read from the
 * release's immutable ConfigMap (`configMapKeyRef`) or Secret (`secretKeyRef`). Per key rather
 * than `envFrom`: the CNTi checks immutable_configmap and secrets_used only look at key refs and
 * volumes. brr's variables and PORT win over config, as explicit `env` won over `envFrom` before.
 */
export function envFor(input: RenderInput, type: string, spec: ProcessSpec): Array<Record<string, unknown>> {
  const env: Array<Record<string, unknown>> = [
    { name: 'BRR_APP', value: input.app },
    { name: 'BRR_PROCESS_TYPE', value: type },
    { name: 'BRR_RELEASE', value: input.release.id },
  ];
  const own = new Set(env.map((e) => e.name as string));
  const tcp = spec.ports.find((p) => p.protocol === 'tcp');
  if (tcp && !('PORT' in input.config) && !('PORT' in input.secrets))
    env.push({ name: 'PORT', value: String(tcp.port) });
  const cm = configMapName(input.app, input.release.id);
  const secret = secretName(input.app, input.release.id);
  const keys = [...Object.keys(input.config), ...Object.keys(input.secrets)].filter((k) => !own.has(k)).sort();
  for (const key of keys) {
    env.push(
      key in input.secrets
        ? { name: key, valueFrom: { secretKeyRef: { key, name: secret } } }
        : { name: key, valueFrom: { configMapKeyRef: { key, name: cm } } },
    );
  }
  return env;
}

/** The container hardening every brr pod shares (workloads and the release Job). */
export function containerSecurity(): Record<string, unknown> {
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
  };
}

/** The pod-level settings every brr pod shares. */
export function podSecurity(): Record<string, unknown> {
  return {
    fsGroup: RUN_AS,
    runAsGroup: RUN_AS,
    runAsNonRoot: true,
    runAsUser: RUN_AS,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * The preStop drain: seconds a terminating pod keeps running after it left the Service's
 * endpoints, so every node's kube-proxy stops sending it new flows (and UDP conntrack entries
 * move to a live pod) before SIGTERM. Half the process's grace, from 1 to 5 seconds; the pod's
 * termination grace is the drain plus the full `grace`, so the process still gets all of it.
 * The `sleep` action (Kubernetes 1.30+) needs nothing in the image.
 */
export function drainSeconds(spec: ProcessSpec): number {
  return Math.min(5, Math.max(1, Math.ceil(spec.graceMs / 2000)));
}

function container(input: RenderInput, type: string, spec: ProcessSpec): Record<string, unknown> {
  const probes = probesFor(spec);
  return {
    command: pid1Argv(input.init, spec.command),
    env: envFor(input, type, spec),
    image: input.image,
    imagePullPolicy: 'IfNotPresent',
    lifecycle: { preStop: { sleep: { seconds: drainSeconds(spec) } } },
    livenessProbe: probes.liveness,
    name: type.toLowerCase().replace(/_/g, '-'),
    ports: spec.ports.length
      ? spec.ports.map((p) => ({ containerPort: p.port, name: p.name, protocol: p.protocol.toUpperCase() }))
      : undefined,
    readinessProbe: probes.readiness,
    resources: resourcesFor(spec),
    securityContext: containerSecurity(),
    startupProbe: probes.startup,
    volumeMounts: [{ mountPath: '/tmp', name: 'tmp' }],
  };
}

/** Labels of the pods of one process type; the first three are the (immutable) selector. */
export function selectorLabels(app: string, type: string): Record<string, string> {
  return { [LABELS.name]: app, [LABELS.instance]: app, [LABELS.component]: type.toLowerCase().replace(/_/g, '-') };
}

export function renderWorkload(input: RenderInput, type: string, spec: ProcessSpec): KubeObject {
  const { app, release } = input;
  const labels = { ...appLabels(app), ...selectorLabels(app, type), [LABELS.version]: release.id };
  const annotations = {
    [ANNOTATIONS.commit]: release.commit,
    [ANNOTATIONS.release]: release.id,
    [ANNOTATIONS.releaseHash]: release.hash,
  };
  const template = {
    metadata: { annotations, labels },
    spec: {
      automountServiceAccountToken: false,
      containers: [container(input, type, spec)],
      enableServiceLinks: false,
      securityContext: podSecurity(),
      terminationGracePeriodSeconds: drainSeconds(spec) + Math.ceil(spec.graceMs / 1000),
      volumes: [{ emptyDir: {}, name: 'tmp' }],
    },
  };
  // Without a check, the local supervisor waits `upFor`; minReadySeconds is the same idea.
  const minReadySeconds = spec.health.check === null ? Math.ceil(spec.health.upForMs / 1000) : undefined;
  const common = {
    minReadySeconds,
    replicas: input.formation[type] ?? spec.scale,
    revisionHistoryLimit: REVISION_HISTORY,
    selector: { matchLabels: selectorLabels(app, type) },
    template,
  };
  const metadata = {
    annotations: { ...annotations, [ANNOTATIONS.changeCause]: `brr ${release.id}: ${release.cause}` },
    labels,
    name: workloadName(app, type),
    namespace: input.namespace,
  };
  if (spec.stateful) {
    return {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata,
      spec: { ...common, serviceName: headlessServiceName(app, type), updateStrategy: { type: 'RollingUpdate' } },
    };
  }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    spec: {
      ...common,
      // A pod that cannot get ready within twice its start budget is not going to: fail fast.
      progressDeadlineSeconds: Math.max(60, 2 * seconds(spec.health.timeoutMs)),
      // Keep serving during the switch: a new pod must be available before an old one goes.
      strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: 0 }, type: 'RollingUpdate' },
    },
  };
}
