import { LABELS } from './names.js';
import { initKind } from '../../core/init-kind.js';
import type { KubeObject } from './types.js';

/**
 * `brr check`: the CNTi test suite's workload checks that can be decided from a release's rendered
 * objects alone, as a pure function of them (plus the image sizes the store knows). Each result
 * names the CNTi check and its category, the object, pass/fail/warn/skip and the fix in brr's
 * terms. The CNTi rules are followed where they are static (lfn-cnti/testsuite,
 * src/tasks/workload/*.cr); the runtime ones (sig_term_handled, zombie_handled) are proven for
 * brr's init by test, not here.
 */

export type CheckName =
  | 'latest_tag'
  | 'versioned_tag'
  | 'hardcoded_ip_addresses_in_k8s_runtime_configuration'
  | 'liveness'
  | 'readiness'
  | 'cpu_limits'
  | 'memory_limits'
  | 'specialized_init_system'
  | 'immutable_configmap'
  | 'secrets_used'
  | 'hostport_not_used'
  | 'hostnetwork'
  | 'privileged'
  | 'non_root_containers'
  | 'require_labels'
  | 'reasonable_image_size'
  | 'single_process_type';

export type Category = 'essential' | 'normal' | 'bonus';

/**
 * CNTi's category of each check, from its embedded_files/points.yml tags (essential ones fail a
 * certification). `versioned_tag` carries no category tag there; it is counted as normal here.
 * CNTi calls two of them `privileged_containers` and `host_network`.
 */
export const CATEGORIES: Record<CheckName, Category> = {
  latest_tag: 'essential',
  versioned_tag: 'normal',
  hardcoded_ip_addresses_in_k8s_runtime_configuration: 'essential',
  liveness: 'essential',
  readiness: 'essential',
  cpu_limits: 'essential',
  memory_limits: 'essential',
  specialized_init_system: 'essential',
  immutable_configmap: 'bonus',
  secrets_used: 'bonus',
  hostport_not_used: 'essential',
  hostnetwork: 'normal',
  privileged: 'essential',
  non_root_containers: 'essential',
  require_labels: 'normal',
  reasonable_image_size: 'normal',
  single_process_type: 'essential',
};

/** Where each check is fixed, in brr's terms. */
const FIXES: Record<CheckName, string> = {
  latest_tag: 'brr renders images pinned by digest; push the build (`brr push --to REGISTRY/REPO`)',
  versioned_tag: 'brr renders images pinned by digest; push the build (`brr push --to REGISTRY/REPO`)',
  hardcoded_ip_addresses_in_k8s_runtime_configuration:
    'use a DNS name (a Service) instead of the address in config (`brr config set KEY=name.ns.svc`); CIDRs, 127.0.0.1 and 0.0.0.0 are fine',
  liveness: 'give the process a health check in brr.yaml (health: { http|tcp|exec }) or a TCP port',
  readiness: 'give the process a health check in brr.yaml (health: { http|tcp|exec }) or a TCP port',
  cpu_limits: 'set processes.T.resources.cpu in brr.yaml (the LimitRange default is not in the pod template)',
  memory_limits: 'set processes.T.resources.memory in brr.yaml (the LimitRange default is not in the pod template)',
  specialized_init_system:
    'build with an init: a base image with tini or dumb-init, or build.image.init: /usr/bin/tini-static (Debian tini)',
  immutable_configmap: 'set config through brr (`brr config set`): brr renders one immutable ConfigMap per release',
  secrets_used: 'keep secrets in brr (`brr config set --secret`): containers read them by secretKeyRef',
  hostport_not_used: 'remove hostPort: expose ports through the Service brr renders',
  hostnetwork: 'remove hostNetwork: true from the pod',
  privileged: 'remove privileged: true; add the single capability needed instead',
  non_root_containers: 'run as a non-root user (brr renders runAsNonRoot with uid 65532)',
  require_labels: 'label the pods with app.kubernetes.io/name (brr does for what it renders)',
  reasonable_image_size: 'shrink the image below 5 GB compressed (a slimmer base, build.layers, no build tools)',
  single_process_type:
    'run one program per process type: a command without shell syntax runs in exec form under the init',
};

export type CheckResultValue = 'pass' | 'fail' | 'warn' | 'skip';

export interface CheckResult {
  check: CheckName;
  category: Category;
  /** `Kind/name`, `Kind/name container c`, or `-` when no object applies. */
  object: string;
  result: CheckResultValue;
  /** Why, for fail/warn/skip. */
  detail: string | null;
  fix: string | null;
}

export interface CheckFacts {
  /** Compressed size in bytes (manifest + config + layers) of each image reference, when the store knows it. */
  imageSizes: Record<string, number>;
}

/** CNTi's reasonable_image_size limit: compressed below 5 GB. */
export const IMAGE_SIZE_LIMIT = 5 * 1024 ** 3;

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Pod', 'Job']);

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const asList = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

function podOf(o: KubeObject): Obj {
  if (o.kind === 'Pod') return asObj(o.spec);
  return asObj(asObj(asObj(o.spec).template).spec);
}

function podLabelsOf(o: KubeObject): Record<string, string> {
  if (o.kind === 'Pod') return o.metadata.labels ?? {};
  return (asObj(asObj(asObj(o.spec).template).metadata).labels as Record<string, string> | undefined) ?? {};
}

const IPV4 = /(?<![\d.])((?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3})(?![\d.])(\/\d{1,2})?/g;

/** CNTi's rule: IPv4 addresses in runtime configuration, except CIDRs, 127.0.0.1 and 0.0.0.0. */
export function hardcodedIps(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IPV4)) {
    if (m[2] || m[1] === '127.0.0.1' || m[1] === '0.0.0.0') continue;
    out.push(m[1]!);
  }
  return out;
}

function scanStrings(v: unknown, visit: (path: string, s: string) => void, path = ''): void {
  if (typeof v === 'string') visit(path, v);
  else if (Array.isArray(v)) v.forEach((x, i) => scanStrings(x, visit, `${path}[${i}]`));
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) scanStrings(x, visit, path ? `${path}.${k}` : k);
}

/** The tag of an image reference without a digest (`repo:tag`), or null. */
function tagOf(image: string): string | null {
  return /:([^/:@]+)$/.exec(image)?.[1] ?? null;
}

const SHELLS = new Set(['sh', 'bash', 'ash', 'dash', 'zsh', 'ksh']);
const base = (p: string) => p.slice(p.lastIndexOf('/') + 1);

/** Every check over a release's objects; results in check order, then object order. */
export function runChecks(objects: readonly KubeObject[], facts: CheckFacts): CheckResult[] {
  const rows: CheckResult[] = [];
  const add = (check: CheckName, object: string, failed: string | null, result?: CheckResultValue) =>
    rows.push({
      check,
      category: CATEGORIES[check],
      object,
      result: result ?? (failed ? 'fail' : 'pass'),
      detail: failed,
      fix: (result ?? (failed ? 'fail' : 'pass')) === 'pass' ? null : FIXES[check],
    });
  const id = (o: KubeObject) => `${o.kind}/${o.metadata.name}`;
  const workloads = objects.filter((o) => WORKLOADS.has(o.kind));
  const containers = workloads.flatMap((o) => {
    const pod = podOf(o);
    return asList(pod.containers).map((c) => ({ o, pod, c, at: `${id(o)} container ${String(c.name)}` }));
  });
  const allContainers = workloads.flatMap((o) =>
    [...asList(podOf(o).initContainers), ...asList(podOf(o).containers)].map((c) => ({
      o,
      c,
      at: `${id(o)} container ${String(c.name)}`,
    })),
  );
  const limitDefaults = objects
    .filter((o) => o.kind === 'LimitRange')
    .flatMap((o) => asList(asObj(o.spec).limits))
    .filter((l) => l.type === 'Container')
    .map((l) => asObj(l.default));
  const none = (check: CheckName, why: string) => add(check, '-', why, 'skip');
  // A Job's container runs to completion: CNTi's probe, init and process checks look at
  // long-running workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod) only.
  const serving = containers.filter(({ o }) => o.kind !== 'Job');

  for (const { c, at } of allContainers) {
    const image = String(c.image ?? '');
    const pinned = image.includes('@sha256:');
    const tag = pinned ? null : tagOf(image);
    add('latest_tag', at, !pinned && (!tag || tag === 'latest') ? `image ${image} is untagged or :latest` : null);
  }
  if (allContainers.length === 0) none('latest_tag', 'no containers');
  for (const { c, at } of allContainers) {
    const image = String(c.image ?? '');
    const tag = tagOf(image.split('@')[0]!);
    const versioned = image.includes('@sha256:') || (tag !== null && tag !== 'latest');
    add('versioned_tag', at, versioned ? null : `image ${image} has no version tag or digest`);
  }
  if (allContainers.length === 0) none('versioned_tag', 'no containers');

  for (const o of objects) {
    // Secrets are not runtime configuration in CNTi's sense, and their values are never scanned.
    if (o.kind === 'Secret') continue;
    const found: string[] = [];
    scanStrings(o, (path, s) => {
      for (const ip of hardcodedIps(s)) found.push(`${ip} at ${path}`);
    });
    add(
      'hardcoded_ip_addresses_in_k8s_runtime_configuration',
      id(o),
      found.length ? `IPv4 address ${found.join(', ')}` : null,
    );
  }

  for (const probe of ['liveness', 'readiness'] as const) {
    for (const { c, at } of serving) add(probe, at, c[`${probe}Probe`] ? null : `no ${probe}Probe`);
    if (serving.length === 0) none(probe, 'no long-running containers');
  }

  for (const [check, key] of [
    ['cpu_limits', 'cpu'],
    ['memory_limits', 'memory'],
  ] as const) {
    for (const { c, at } of containers) {
      if (asObj(asObj(c.resources).limits)[key] !== undefined) add(check, at, null);
      else if (limitDefaults.some((d) => d[key] !== undefined))
        add(check, at, `no ${key} limit in the pod template; only the namespace LimitRange default`, 'warn');
      else add(check, at, `no ${key} limit`);
    }
    if (containers.length === 0) none(check, 'no containers');
  }

  for (const { c, at } of serving) {
    const argv = asList(c.command) as unknown as string[];
    const pid1 = typeof argv[0] === 'string' ? argv[0] : null;
    const ok = pid1 !== null && (initKind(pid1) !== null || base(pid1).includes('s6-svscan'));
    add(
      'specialized_init_system',
      at,
      ok ? null : `PID 1 is ${pid1 ?? "the image's entrypoint"}, not tini, dumb-init or s6-svscan`,
    );
  }
  if (serving.length === 0) none('specialized_init_system', 'no long-running containers');

  const configMaps = objects.filter((o) => o.kind === 'ConfigMap');
  for (const o of configMaps) add('immutable_configmap', id(o), o.immutable === true ? null : 'not immutable');
  if (configMaps.length === 0) none('immutable_configmap', 'no ConfigMaps');

  const secretRefs = (pod: Obj, c: Obj) =>
    asList(c.env).some((e) => asObj(asObj(e.valueFrom).secretKeyRef).name) ||
    asList(pod.volumes).some((v) => asObj(v.secret).secretName);
  const secrets = objects.filter((o) => o.kind === 'Secret');
  if (secrets.length === 0 || secrets.every((s) => Object.keys(asObj(s.data)).length === 0))
    none('secrets_used', 'no secrets (CNTi skips the check)');
  else
    for (const { pod, c, at } of containers)
      add('secrets_used', at, secretRefs(pod, c) ? null : 'reads no Secret by secretKeyRef or volume');

  for (const { c, at } of allContainers) {
    const host = asList(c.ports).filter((p) => p.hostPort !== undefined);
    add('hostport_not_used', at, host.length ? `hostPort ${host.map((p) => String(p.hostPort)).join(', ')}` : null);
  }
  if (allContainers.length === 0) none('hostport_not_used', 'no containers');
  for (const o of workloads) add('hostnetwork', id(o), podOf(o).hostNetwork === true ? 'hostNetwork: true' : null);
  if (workloads.length === 0) none('hostnetwork', 'no workloads');

  for (const { c, at } of allContainers)
    add('privileged', at, asObj(c.securityContext).privileged === true ? 'privileged: true' : null);
  if (allContainers.length === 0) none('privileged', 'no containers');
  for (const { o, c, at } of allContainers) {
    const pod = asObj(podOf(o).securityContext);
    const sc = asObj(c.securityContext);
    const nonRoot = (sc.runAsNonRoot ?? pod.runAsNonRoot) === true;
    const uid = sc.runAsUser ?? pod.runAsUser;
    add(
      'non_root_containers',
      at,
      nonRoot || (typeof uid === 'number' && uid !== 0) ? null : 'neither runAsNonRoot nor a non-zero runAsUser',
    );
  }
  if (allContainers.length === 0) none('non_root_containers', 'no containers');

  for (const o of workloads)
    add('require_labels', id(o), podLabelsOf(o)[LABELS.name] ? null : `pods have no ${LABELS.name} label`);
  if (workloads.length === 0) none('require_labels', 'no workloads');

  const images = [...new Set(allContainers.map(({ c }) => String(c.image ?? '')))].sort();
  for (const image of images) {
    const size = facts.imageSizes[image];
    if (size === undefined) add('reasonable_image_size', image, 'size unknown (not in the local store)', 'skip');
    else
      add(
        'reasonable_image_size',
        image,
        size < IMAGE_SIZE_LIMIT ? null : `${(size / 1024 ** 3).toFixed(1)} GB compressed (limit 5 GB)`,
      );
  }
  if (images.length === 0) none('reasonable_image_size', 'no containers');

  for (const { c, at } of serving) {
    const argv = asList(c.command) as unknown as string[];
    const rest = argv[0] && initKind(argv[0]) ? argv.slice(argv.indexOf('--') + 1) : argv;
    const shell = rest[0] !== undefined && SHELLS.has(base(rest[0])) && rest[1] === '-c';
    add('single_process_type', at, shell ? `runs \`${rest.join(' ')}\`: a shell and its children` : null);
  }
  if (serving.length === 0) none('single_process_type', 'no long-running containers');
  return rows;
}

/** Essential checks that failed (warn and skip do not count). */
export function essentialFailures(rows: readonly CheckResult[]): CheckResult[] {
  return rows.filter((r) => r.category === 'essential' && r.result === 'fail');
}
