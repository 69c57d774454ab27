import { invalidInput } from '../../core/errors.js';

/** Labels and annotations brr puts on what it renders; clean-up and drift select by them. */
export const LABELS = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
  version: 'app.kubernetes.io/version',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

export const ANNOTATIONS = {
  release: 'brr.dev/release',
  releaseHash: 'brr.dev/release-hash',
  commit: 'brr.dev/commit',
  /** Set on a placeholder Secret rendered without its values. */
  secretValues: 'brr.dev/secret-values',
  /** Shown by `kubectl rollout history`. */
  changeCause: 'kubernetes.io/change-cause',
} as const;

export const MANAGER = 'brr';

/** Labels every object of an app carries (the pod selector uses name + instance + component). */
export function appLabels(app: string): Record<string, string> {
  return { [LABELS.name]: app, [LABELS.instance]: app, [LABELS.managedBy]: MANAGER };
}

/** Label selector for everything brr manages of one app. */
export function appSelector(app: string): string {
  return `${LABELS.instance}=${app},${LABELS.managedBy}=${MANAGER}`;
}

/** Label selector for objects that carry the app's pod labels (ReplicaSets, ControllerRevisions, Pods). */
export function podSelector(app: string): string {
  return `${LABELS.instance}=${app}`;
}

/** The immutable ConfigMap of a release: `<app>-<id>-config`. */
export function configMapName(app: string, release: string): string {
  return `${app}-${release}-config`;
}

/** The immutable Secret of a release: `<app>-<id>-secret`. */
export function secretName(app: string, release: string): string {
  return `${app}-${release}-secret`;
}

/**
 * The release phase's Job of a release: `<app>-<id>-release`. Its pods get a `job-name` label,
 * which holds at most 63 characters, so longer names are refused here.
 */
export function releaseJobName(app: string, release: string): string {
  const name = `${app}-${release}-release`;
  if (name.length > 63)
    throw invalidInput(
      'kubernetes_name_invalid',
      `app ${app}: the release Job name "${name}" is longer than 63 characters`,
      'use a shorter app name',
    );
  return name;
}

/** The app's namespace LimitRange, rendered while some process type lacks `resources`: `<app>-defaults`. */
export function limitRangeName(app: string): string {
  return `${app}-defaults`;
}

const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Deployment/StatefulSet and Service name of a process type: `<app>-<type>`, lowercased with `_`
 * turned into `-`. Services need an RFC 1035 label (a letter first, at most 63), so names that
 * cannot be one are refused here rather than by the API server halfway through an apply.
 */
export function workloadName(app: string, type: string): string {
  const name = `${app}-${type.toLowerCase().replace(/_/g, '-')}`;
  if (name.length > 63 || !DNS1035.test(name)) {
    throw invalidInput(
      'kubernetes_name_invalid',
      `app ${app}, process type ${type}: "${name}" is not a valid Kubernetes object name (a letter first, lowercase letters, digits and dashes, at most 63)`,
      'rename the app or the process type (e.g. an app name starting with a letter, a shorter type name)',
    );
  }
  return name;
}

/** The headless Service that gives a StatefulSet's pods stable DNS names. */
export function headlessServiceName(app: string, type: string): string {
  const base = workloadName(app, type);
  return base.length + '-pods'.length <= 63
    ? `${base}-pods`
    : `${base.slice(0, 63 - '-pods'.length).replace(/-+$/, '')}-pods`;
}

/** The digest of a pinned image reference (`repo@sha256:…`), or null for a tag or none. */
export function imageDigest(image: string): string | null {
  const at = image.lastIndexOf('@');
  if (at < 0) return null;
  const d = image.slice(at + 1);
  return /^sha256:[0-9a-f]{64}$/.test(d) ? d : null;
}
