import { Document } from 'yaml';
import { ANNOTATIONS } from './names.js';
import type { KubeObject } from './types.js';

/**
 * Rendered objects as YAML. Keys are sorted at every level (as `kubectl get -o yaml` does) and
 * undefined members dropped, so the same release always gives the same bytes.
 */

/** A deep copy with sorted keys and no undefined members. */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => sortKeys(v)) as T;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(obj).sort()) if (obj[k] !== undefined) out[k] = sortKeys(obj[k]);
    return out as T;
  }
  return value;
}

const PLACEHOLDER_NOTE = [
  ' brr: secret values omitted (render with --include-secrets to write them).',
  ' Fill in the data (base64) before applying, e.g. from sealed-secrets or external-secrets;',
  ' the pods of this release read each key through secretKeyRef.',
].join('\n');

/** One object as a YAML document (without the `---` separator). */
export function objectYaml(o: KubeObject): string {
  const doc = new Document(sortKeys(o));
  if (o.kind === 'Secret' && o.metadata.annotations?.[ANNOTATIONS.secretValues] === 'omitted')
    doc.commentBefore = PLACEHOLDER_NOTE;
  return doc.toString({ lineWidth: 0 });
}

/** All objects as one multi-document stream, in apply order. */
export function yamlStream(objects: readonly KubeObject[]): string {
  return objects.map((o) => `---\n${objectYaml(o)}`).join('');
}

/**
 * File name of the i-th object for `brr render --out DIR`: the index keeps apply order when a
 * tool applies the directory in name order (`kubectl apply -f DIR` does).
 */
export function objectFileName(o: KubeObject, index: number): string {
  return `${String(index + 1).padStart(2, '0')}-${o.kind.toLowerCase()}-${o.metadata.name}.yaml`;
}
