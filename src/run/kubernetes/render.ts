import { invalidInput } from '../../core/errors.js';
import type { ProcessSpec } from '../../core/types.js';
import {
  ANNOTATIONS,
  LABELS,
  appLabels,
  configMapName,
  headlessServiceName,
  imageDigest,
  limitRangeName,
  secretName,
  workloadName,
} from './names.js';
import { probeAction, renderWorkload, selectorLabels } from './render-workload.js';
import { hardcodedIps } from './check.js';
import { renderReleaseJob } from './render-job.js';
import type { KubeObject, RenderInput, RenderResult } from './types.js';

/**
 * `renderRelease`: one release as Kubernetes objects, in apply order. Pure (Kamal's "commands
 * as data"): `brr render` prints these, `brr run` applies exactly these.
 */
export function renderRelease(input: RenderInput): RenderResult {
  const digest = imageDigest(input.image);
  if (digest === null || digest !== input.release.digest) {
    throw invalidInput(
      'kubernetes_image_unpinned',
      `image ${input.image} is not pinned to the release's build ${input.release.digest}`,
      'images are always referenced as <repo>@sha256:…; this is a bug in brr if you see it',
    );
  }
  const types = Object.keys(input.processes).sort();
  if (types.length === 0)
    throw invalidInput(
      'kubernetes_no_processes',
      `${input.app} ${input.release.id}: the build declares no process types`,
      'add processes to brr.yaml (or a Procfile) and build again',
    );
  const byName = new Map<string, string>();
  for (const type of types) {
    const name = workloadName(input.app, type);
    const other = byName.get(name);
    if (other)
      throw invalidInput(
        'kubernetes_name_conflict',
        `process types ${other} and ${type} both become ${name} on Kubernetes`,
        'rename one of them in brr.yaml',
      );
    byName.set(name, type);
  }
  const services: KubeObject[] = [];
  const pdbs: KubeObject[] = [];
  const workloads: KubeObject[] = [];
  for (const type of types) {
    const spec = input.processes[type] as ProcessSpec;
    const service = renderService(input, type, spec);
    if (service) services.push(service);
    if (spec.stateful) services.push(renderHeadlessService(input, type, spec));
    pdbs.push(renderPdb(input, type));
    workloads.push(renderWorkload(input, type, spec));
  }
  const limits = renderLimitRange(input);
  return {
    objects: [
      ...(limits ? [limits] : []),
      renderConfigMap(input),
      renderSecret(input),
      ...(input.releasePhase ? [renderReleaseJob(input, input.releasePhase)] : []),
      ...services,
      ...pdbs,
      ...workloads,
    ],
    warnings: warningsFor(input),
  };
}

function meta(input: RenderInput, name: string, extraLabels: Record<string, string> = {}): KubeObject['metadata'] {
  return { labels: { ...appLabels(input.app), ...extraLabels }, name, namespace: input.namespace };
}

const releaseMeta = (input: RenderInput, name: string, extra: Record<string, string> = {}): KubeObject['metadata'] => ({
  ...meta(input, name, { [LABELS.version]: input.release.id }),
  annotations: { [ANNOTATIONS.release]: input.release.id, [ANNOTATIONS.releaseHash]: input.release.hash, ...extra },
});

/**
 * Defaults for containers without `resources` (documented in the brr.yaml reference): limits
 * make the CNTi checks cpu_limits and memory_limits pass on the admitted pods, requests keep the
 * scheduler honest. Only rendered while some process type lacks cpu or memory; applied first, as
 * a LimitRange acts when a pod is admitted. It covers the whole namespace: give each app its own.
 */
export const LIMIT_DEFAULTS = {
  default: { cpu: '500m', memory: '512Mi' },
  defaultRequest: { cpu: '100m', memory: '128Mi' },
} as const;

export function renderLimitRange(input: RenderInput): KubeObject | null {
  const specs = Object.values(input.processes);
  if (specs.every((s) => s.resources?.cpu && s.resources.memory)) return null;
  return {
    apiVersion: 'v1',
    kind: 'LimitRange',
    metadata: meta(input, limitRangeName(input.app)),
    spec: {
      limits: [
        {
          default: { ...LIMIT_DEFAULTS.default },
          defaultRequest: { ...LIMIT_DEFAULTS.defaultRequest },
          type: 'Container',
        },
      ],
    },
  };
}

/** Plain config, immutable: a release's config can never change under its pods. */
export function renderConfigMap(input: RenderInput): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: releaseMeta(input, configMapName(input.app, input.release.id)),
    data: sortedRecord(input.config),
    immutable: true,
  };
}

/**
 * Secret config, immutable. With withheld values (render without --include-secrets) it is a
 * placeholder: the keys with empty values, annotated, and left mutable so the user (or a
 * sealed-secrets/external-secrets controller) can fill it in.
 */
export function renderSecret(input: RenderInput): KubeObject {
  const withheld = Object.values(input.secrets).some((v) => v === null);
  const data: Record<string, string> = {};
  for (const key of Object.keys(input.secrets).sort())
    data[key] = Buffer.from(input.secrets[key] ?? '', 'utf8').toString('base64');
  const metadata = releaseMeta(
    input,
    secretName(input.app, input.release.id),
    withheld ? { [ANNOTATIONS.secretValues]: 'omitted' } : {},
  );
  return { apiVersion: 'v1', kind: 'Secret', metadata, data, immutable: withheld ? undefined : true, type: 'Opaque' };
}

/** A ClusterIP Service for the declared ports (TCP, UDP and SCTP); none without ports. */
function renderService(input: RenderInput, type: string, spec: ProcessSpec): KubeObject | null {
  if (spec.ports.length === 0) return null;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(input, workloadName(input.app, type), {
      [LABELS.component]: selectorLabels(input.app, type)[LABELS.component] as string,
    }),
    spec: {
      ports: spec.ports.map((p) => ({
        name: p.name,
        port: p.port,
        protocol: p.protocol.toUpperCase(),
        targetPort: p.name,
      })),
      selector: selectorLabels(input.app, type),
      type: 'ClusterIP',
    },
  };
}

/** The StatefulSet's governing Service: headless, so each pod gets a stable DNS name. */
function renderHeadlessService(input: RenderInput, type: string, spec: ProcessSpec): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(input, headlessServiceName(input.app, type), {
      [LABELS.component]: selectorLabels(input.app, type)[LABELS.component] as string,
    }),
    spec: {
      clusterIP: 'None',
      ports: spec.ports.length
        ? spec.ports.map((p) => ({
            name: p.name,
            port: p.port,
            protocol: p.protocol.toUpperCase(),
            targetPort: p.name,
          }))
        : undefined,
      publishNotReadyAddresses: true,
      selector: selectorLabels(input.app, type),
    },
  };
}

/** maxUnavailable 1: node drains take one pod at a time and never block on a single replica. */
function renderPdb(input: RenderInput, type: string): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(input, workloadName(input.app, type), {
      [LABELS.component]: selectorLabels(input.app, type)[LABELS.component] as string,
    }),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(input.app, type) } },
  };
}

/** What the user should know, each naming the CNTi test-suite check it affects. Never a value of config. */
function warningsFor(input: RenderInput): string[] {
  const out: string[] = [];
  if (input.namespace === 'default')
    out.push(
      'namespace "default": the CNTi check default_namespace fails; use a namespace of its own (brr apps set --namespace)',
    );
  if (!input.init)
    out.push(
      "the image has no tini or dumb-init, so each process is PID 1 itself: the CNTi checks specialized_init_system, sig_term_handled and zombie_handled fail; set build.image.init (e.g. /usr/bin/tini-static from Debian's tini) and build again",
    );
  for (const type of Object.keys(input.processes).sort()) {
    const spec = input.processes[type] as ProcessSpec;
    if (!probeAction(spec)) {
      out.push(
        `processes.${type}: no health check and no TCP port, so no liveness or readiness probe: the CNTi checks liveness and readiness fail; add health: { exec: "..." }`,
      );
    }
    if (!spec.resources?.cpu || !spec.resources.memory)
      out.push(
        `processes.${type}: no resources (cpu and memory), so the namespace LimitRange ${limitRangeName(input.app)} gives defaults: the CNTi checks cpu_limits and memory_limits read the pod template and may fail; add resources: { cpu: 500m, memory: 512Mi }`,
      );
    if (spec.restart !== 'always')
      out.push(
        `processes.${type}: restart: ${spec.restart} cannot be expressed by a ${spec.stateful ? 'StatefulSet' : 'Deployment'} (pods always restart)`,
      );
  }
  for (const key of Object.keys(input.config).sort()) {
    if (hardcodedIps(input.config[key] as string).length > 0)
      out.push(
        `config ${key} holds an IPv4 address: the CNTi check hardcoded_ip_addresses_in_k8s_runtime_configuration fails; use a DNS name (a Service) instead`,
      );
  }
  return out;
}

function sortedRecord(r: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k] as string;
  return out;
}
