import * as k8s from '@kubernetes/client-node';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { LimitRange } from 'kubernetes-models/v1/LimitRange';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import type { KubeObject } from '../../../src/run/kubernetes/types.js';

/**
 * Validation of rendered objects against the Kubernetes OpenAPI schema, offline, in two parts:
 * 1. kubernetes-models: JSON Schema validators generated from the Kubernetes OpenAPI document
 *    (types, required fields, enums such as the port protocol, formats).
 * 2. Unknown fields: the OpenAPI schemas do not forbid extra properties, but the API server
 *    (strict field validation) and server-side apply do. The attribute maps that
 *    @kubernetes/client-node generates from the same OpenAPI document list every known field;
 *    a field they lack would also be dropped silently by the client's serializer.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ModelClass = new (data: any) => { validate(): void };
const MODELS: Record<string, { model: ModelClass; type: string }> = {
  'v1/ConfigMap': { model: ConfigMap as unknown as ModelClass, type: 'V1ConfigMap' },
  'v1/LimitRange': { model: LimitRange as unknown as ModelClass, type: 'V1LimitRange' },
  'batch/v1/Job': { model: Job as unknown as ModelClass, type: 'V1Job' },
  'v1/Secret': { model: Secret as unknown as ModelClass, type: 'V1Secret' },
  'v1/Service': { model: Service as unknown as ModelClass, type: 'V1Service' },
  'apps/v1/Deployment': { model: Deployment as unknown as ModelClass, type: 'V1Deployment' },
  'apps/v1/StatefulSet': { model: StatefulSet as unknown as ModelClass, type: 'V1StatefulSet' },
  'policy/v1/PodDisruptionBudget': {
    model: PodDisruptionBudget as unknown as ModelClass,
    type: 'V1PodDisruptionBudget',
  },
};

type AttributeMap = Array<{ name: string; baseName: string; type: string }>;

function unknownFields(value: unknown, type: string, path: string, out: string[]): void {
  if (value === null || value === undefined) return;
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, arr[1]!, `${path}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    for (const [k, v] of Object.entries(value as object)) unknownFields(v, map[1]!, `${path}.${k}`, out);
    return;
  }
  const cls = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeMap }>)[type];
  if (!cls?.getAttributeTypeMap || typeof value !== 'object') return;
  const attrs = cls.getAttributeTypeMap();
  for (const [k, v] of Object.entries(value as object)) {
    const a = attrs.find((x) => x.baseName === k);
    if (!a) out.push(`${path}.${k}`);
    else unknownFields(v, a.type, `${path}.${k}`, out);
  }
}

/** Problems of one object; empty when it is valid. */
export function openApiProblems(o: KubeObject): string[] {
  const entry = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!entry) return [`no schema wired for ${o.apiVersion} ${o.kind}`];
  const problems: string[] = [];
  try {
    new entry.model(JSON.parse(JSON.stringify(o))).validate();
  } catch (e) {
    problems.push(`${o.kind}/${o.metadata.name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const unknown: string[] = [];
  unknownFields(JSON.parse(JSON.stringify(o)), entry.type, '', unknown);
  for (const u of unknown) problems.push(`${o.kind}/${o.metadata.name}: unknown field ${u.slice(1)}`);
  return problems;
}
