import { KubeConfig } from '@kubernetes/client-node';
import { invalidInput } from '../../core/errors.js';
import type { KubernetesTarget } from './types.js';

/**
 * The kubeconfig for an app's target: its file (or the default: $KUBECONFIG, then
 * ~/.kube/config) with the app's context selected. A context that is not there is refused by
 * name, before anything is applied: a wrong context is a wrong cluster.
 */
export function loadKubeConfig(target: KubernetesTarget): KubeConfig {
  const kc = new KubeConfig();
  const where = target.kubeconfig ?? 'the default kubeconfig ($KUBECONFIG or ~/.kube/config)';
  try {
    if (target.kubeconfig) kc.loadFromFile(target.kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    throw invalidInput(
      'kubeconfig_invalid',
      `cannot load ${where}: ${e instanceof Error ? e.message : String(e)}`,
      'point `brr apps set --kubeconfig FILE` at a readable kubeconfig',
    );
  }
  const names = kc.getContexts().map((c) => c.name);
  if (!names.includes(target.context)) {
    throw invalidInput(
      'kube_context_not_found',
      `context "${target.context}" is not in ${where} (it has: ${names.join(', ') || 'none'})`,
      'fix it with `brr apps set APP --target kubernetes --context NAME ...` (see `kubectl config get-contexts`)',
    );
  }
  kc.setCurrentContext(target.context);
  return kc;
}
