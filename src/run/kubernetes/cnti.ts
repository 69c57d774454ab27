import { hardcodedIps } from './check.js';
import { LABELS } from './names.js';
import type { KubeObject } from './types.js';

/**
 * The CNTi test-suite's static checks that apply to rendered objects, as a pure function. Tests
 * run it over every render; `brr render --check` could too. Each finding names the CNTi check.
 */
export interface CntiFinding {
  check:
    | 'latest_tag'
    | 'immutable_configmap'
    | 'liveness'
    | 'readiness'
    | 'hostport_not_used'
    | 'hardcoded_ip_addresses_in_k8s_runtime_configuration'
    | 'require_labels'
    | 'nodeport_not_used';
  object: string;
  problem: string;
}

/**
 * True when the text holds an IPv4 address CNTi's rule flags: not a CIDR (`10.0.0.0/8` is fine),
 * not 127.0.0.1 and not 0.0.0.0 (see check.ts, which `brr check` uses).
 */
export function hardCodedIpv4(text: string): boolean {
  return hardcodedIps(text).length > 0;
}

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Pod', 'Job']);

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});
const asList = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

function podSpecOf(o: KubeObject): Obj {
  return o.kind === 'Pod' ? asObj(o.spec) : asObj(asObj(asObj(o.spec).template).spec);
}

/** Every finding over a set of objects; empty when all checks pass. */
export function checkCnti(objects: readonly KubeObject[]): CntiFinding[] {
  const out: CntiFinding[] = [];
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata.name}`;
    const add = (check: CntiFinding['check'], problem: string) => out.push({ check, object: id, problem });
    if (!o.metadata.labels?.[LABELS.name]) add('require_labels', `no ${LABELS.name} label`);
    if (o.kind === 'ConfigMap' && o.immutable !== true) add('immutable_configmap', 'ConfigMap is not immutable');
    if (o.kind === 'Service') {
      const spec = asObj(o.spec);
      if (spec.type === 'NodePort' || asList(spec.ports).some((p) => p.nodePort !== undefined))
        add('nodeport_not_used', 'Service uses a node port');
    }
    // Secrets are base64 and not "runtime configuration" in the CNTi sense; never scan their values.
    if (o.kind !== 'Secret')
      scanStrings(
        o,
        (path, s) =>
          hardCodedIpv4(s) && add('hardcoded_ip_addresses_in_k8s_runtime_configuration', `IPv4 address at ${path}`),
      );
    if (!WORKLOADS.has(o.kind)) continue;
    const pod = podSpecOf(o);
    if (pod.hostNetwork === true) add('hostport_not_used', 'pod uses the host network');
    for (const c of [...asList(pod.initContainers), ...asList(pod.containers)]) {
      const cname = String(c.name);
      const image = String(c.image ?? '');
      if (!image.includes('@sha256:')) {
        const tag = /:([^/:@]+)$/.exec(image)?.[1];
        if (!tag) add('latest_tag', `container ${cname}: image ${image} has no tag or digest`);
        else if (tag === 'latest') add('latest_tag', `container ${cname}: image ${image} uses :latest`);
      }
      for (const p of asList(c.ports))
        if (p.hostPort !== undefined) add('hostport_not_used', `container ${cname}: hostPort ${String(p.hostPort)}`);
    }
    for (const c of asList(pod.containers)) {
      if (!c.livenessProbe) add('liveness', `container ${String(c.name)}: no livenessProbe`);
      if (!c.readinessProbe) add('readiness', `container ${String(c.name)}: no readinessProbe`);
    }
  }
  return out;
}

function scanStrings(v: unknown, visit: (path: string, s: string) => void, path = ''): void {
  if (typeof v === 'string') visit(path, v);
  else if (Array.isArray(v)) v.forEach((x, i) => scanStrings(x, visit, `${path}[${i}]`));
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) scanStrings(x, visit, path ? `${path}.${k}` : k);
}
