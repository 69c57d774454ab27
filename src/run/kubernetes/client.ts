import {
  ApiException,
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { BrrError, type ErrorCode } from '../../core/errors.js';
import { MANAGER } from './names.js';
import type { KubeObject } from './types.js';

/**
 * The few API calls the Kubernetes target makes, behind an interface so the apply/watch logic
 * does not care whether it talks to a cluster or the tests' fake API server. Errors are
 * translated here, at the boundary, by HTTP status (never by message text).
 */
export interface KubeApi {
  /** Server-side apply with field manager `brr`, forced (brr owns what it renders). */
  apply(obj: KubeObject): Promise<KubeObject>;
  /** The object, or null when it does not exist. */
  read(apiVersion: string, kind: string, namespace: string, name: string): Promise<KubeObject | null>;
  list(apiVersion: string, kind: string, namespace: string, labelSelector: string): Promise<KubeObject[]>;
  /** Deletes the object; false when it was already gone. */
  remove(apiVersion: string, kind: string, namespace: string, name: string): Promise<boolean>;
}

/** Responses come back as generated model classes with Date members; brr works on plain JSON. */
const plain = <T>(v: unknown): T => JSON.parse(JSON.stringify(v)) as T;

export function createKubeApi(kc: KubeConfig): KubeApi {
  const api = KubernetesObjectApi.makeApiClient(kc);
  const header = (apiVersion: string, kind: string, namespace: string, name: string) => ({
    apiVersion,
    kind,
    metadata: { name, namespace },
  });
  return {
    async apply(obj) {
      try {
        // The client rewrites `obj` (fills defaults); give it a copy so rendered objects stay as rendered.
        return plain(
          await api.patch(
            structuredClone(obj) as KubernetesObject,
            undefined,
            undefined,
            MANAGER,
            true,
            PatchStrategy.ServerSideApply,
          ),
        );
      } catch (e) {
        throw translateKubeError(e, `apply ${obj.kind} ${obj.metadata.namespace ?? ''}/${obj.metadata.name}`, obj.kind);
      }
    },
    async read(apiVersion, kind, namespace, name) {
      try {
        return plain(await api.read(header(apiVersion, kind, namespace, name)));
      } catch (e) {
        if (e instanceof ApiException && e.code === 404) return null;
        throw translateKubeError(e, `read ${kind} ${namespace}/${name}`, kind);
      }
    },
    async list(apiVersion, kind, namespace, labelSelector) {
      try {
        const res = await api.list(
          apiVersion,
          kind,
          namespace,
          undefined,
          undefined,
          undefined,
          undefined,
          labelSelector,
        );
        return plain<{ items: KubeObject[] }>(res).items.map((o) => ({ ...o, apiVersion, kind }));
      } catch (e) {
        throw translateKubeError(e, `list ${kind} in ${namespace}`, kind);
      }
    },
    async remove(apiVersion, kind, namespace, name) {
      try {
        // Background: a deleted Job's pods go with it (the REST default for Jobs orphans them).
        await api.delete(
          header(apiVersion, kind, namespace, name),
          undefined,
          undefined,
          undefined,
          undefined,
          'Background',
        );
        return true;
      } catch (e) {
        if (e instanceof ApiException && e.code === 404) return false;
        throw translateKubeError(e, `delete ${kind} ${namespace}/${name}`, kind);
      }
    },
  };
}

/**
 * A client error as a BrrError. The API server's own message is kept for every kind but
 * Secret: an error about a Secret may quote its data, and secrets never reach output.
 */
export function translateKubeError(e: unknown, what: string, kind: string): BrrError {
  if (e instanceof BrrError) return e;
  if (!(e instanceof ApiException)) {
    const why = e instanceof Error ? `: ${e.message}` : '';
    return new BrrError('kube_unreachable', `${what}: cannot reach the Kubernetes API server${why}`, {
      hint: 'check the cluster is up and the context is right: `kubectl --context CONTEXT get ns` (set with `brr apps set`)',
      cause: e,
    });
  }
  const status = statusOf(e.body);
  const said = kind === 'Secret' ? (status.reason ?? '') : (status.message ?? status.reason ?? '');
  const msg = `${what}: ${e.code}${said ? ` ${said}` : ''}`;
  const details = { status: e.code, reason: status.reason ?? null };
  const fail = (code: ErrorCode, hint: string, exitCode = 1) => new BrrError(code, msg, { hint, details, exitCode });
  switch (e.code) {
    case 401:
    case 403:
      return fail(
        'kube_unauthorized',
        'the kubeconfig user lacks access: check its credentials and RBAC in the namespace (`kubectl auth can-i patch deployments -n NS`)',
      );
    case 404:
      return fail(
        'kube_not_found',
        'does the namespace exist? `kubectl create namespace NS`, or pick another with `brr apps set --namespace`',
      );
    case 409:
      return fail('kube_conflict', 'another writer changed the object; run the command again');
    case 422:
      return fail(
        'kube_invalid',
        'the API server refused the object; if it names an immutable ConfigMap or Secret of this release that differs, delete that object and run again',
        2,
      );
    default:
      return fail('kube_api_error', 'see the API server message; retry once the cluster is healthy');
  }
}

function statusOf(body: unknown): { message?: string; reason?: string } {
  let b = body;
  if (typeof b === 'string') {
    try {
      b = JSON.parse(b);
    } catch {
      return {};
    }
  }
  if (!b || typeof b !== 'object') return {};
  const o = b as Record<string, unknown>;
  return {
    message: typeof o.message === 'string' ? o.message : undefined,
    reason: typeof o.reason === 'string' ? o.reason : undefined,
  };
}
