import type { ReleasePhaseSpec } from '../../core/types.js';
import { ANNOTATIONS, LABELS, appLabels, releaseJobName } from './names.js';
import { pid1Argv } from './pid1.js';
import { LIMIT_DEFAULTS } from './render.js';
import { containerSecurity, envFor, podSecurity } from './render-workload.js';
import type { KubeObject, RenderInput } from './types.js';

/**
 * The release phase as a Job per release: the release's own image, init, ConfigMap and Secret
 * (per key, like the workloads), run once before the rollout. No retries (backoffLimit 0): a
 * migration that failed halfway should be looked at, not run again behind the user's back. The
 * Job is named after the release, so applying it again (the same release run twice) changes
 * nothing and does not run the command again.
 */

/** Component label of the release Job's pods (not a process type: no Service selects it). */
export const RELEASE_COMPONENT = 'release';

export function renderReleaseJob(input: RenderInput, phase: ReleasePhaseSpec): KubeObject {
  const { app, release } = input;
  const labels = {
    ...appLabels(app),
    [LABELS.component]: RELEASE_COMPONENT,
    [LABELS.version]: release.id,
  };
  const annotations = {
    [ANNOTATIONS.commit]: release.commit,
    [ANNOTATIONS.release]: release.id,
    [ANNOTATIONS.releaseHash]: release.hash,
  };
  // No process type: BRR_PROCESS_TYPE is "release", there are no ports and so no PORT.
  const env = envFor(input, RELEASE_COMPONENT, {
    command: phase.command,
    scale: 1,
    ports: [],
    health: { check: null, timeoutMs: 0, intervalMs: 0, upForMs: 0 },
    graceMs: 0,
    restart: 'never',
  });
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { annotations, labels, name: releaseJobName(app, release.id), namespace: input.namespace },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { annotations, labels },
        spec: {
          automountServiceAccountToken: false,
          containers: [
            {
              command: pid1Argv(input.init, phase.command),
              env,
              image: input.image,
              imagePullPolicy: 'IfNotPresent',
              name: RELEASE_COMPONENT,
              // The LimitRange's defaults, written out: the Job has no `resources` of its own in brr.yaml.
              resources: {
                limits: { ...LIMIT_DEFAULTS.default },
                requests: { ...LIMIT_DEFAULTS.defaultRequest },
              },
              securityContext: containerSecurity(),
              volumeMounts: [{ mountPath: '/tmp', name: 'tmp' }],
            },
          ],
          enableServiceLinks: false,
          restartPolicy: 'Never',
          securityContext: podSecurity(),
          volumes: [{ emptyDir: {}, name: 'tmp' }],
        },
      },
    },
  };
}
