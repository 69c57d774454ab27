import type { ProcessSpec } from '../../../src/core/types.js';
import type { KubeObject, RenderInput } from '../../../src/run/kubernetes/types.js';

/** Deterministic inputs for render tests: a UPF-like NF with HTTP, UDP and SCTP, a worker and a stateful store. */
export const DIGEST = `sha256:${'d'.repeat(64)}`;
export const COMMIT = '1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b';

const health = (check: ProcessSpec['health']['check'], timeoutMs = 30_000): ProcessSpec['health'] => ({
  check,
  timeoutMs,
  intervalMs: 200,
  upForMs: 1_000,
});

export const PROCESSES: Record<string, ProcessSpec> = {
  nf: {
    command: 'node nf.mjs',
    scale: 2,
    ports: [
      { name: 'http', port: 8080, protocol: 'tcp', address: '127.0.0.1' },
      { name: 'gtpu', port: 2152, protocol: 'udp', address: '127.0.0.1' },
      { name: 'ngap', port: 38412, protocol: 'sctp', address: '127.0.0.1' },
    ],
    health: health({ kind: 'http', path: '/healthz', port: 'http' }, 15_000),
    graceMs: 5_000,
    restart: 'always',
    resources: { cpu: '2', memory: '1Gi' },
  },
  queue_worker: {
    command: 'node worker.mjs',
    scale: 1,
    ports: [],
    health: health({ kind: 'exec', command: 'test -f /tmp/alive' }),
    graceMs: 30_000,
    restart: 'always',
    resources: { cpu: '250m', memory: '256Mi' },
  },
  store: {
    command: 'node store.mjs',
    scale: 3,
    ports: [{ name: 'peer', port: 7000, protocol: 'tcp', address: '127.0.0.1' }],
    health: health({ kind: 'tcp', port: 'peer' }),
    graceMs: 10_000,
    restart: 'always',
    stateful: true,
    resources: { cpu: '500m', memory: '512Mi' },
  },
};

export function renderInput(over: Partial<RenderInput> = {}): RenderInput {
  return {
    app: 'upf',
    namespace: 'upf-staging',
    release: { id: 'v3', hash: 'f'.repeat(64), commit: COMMIT, digest: DIGEST, cause: 'deploy 1a2b3c4' },
    image: `registry.example.com/nf/upf@${DIGEST}`,
    processes: PROCESSES,
    init: '/usr/bin/tini',
    formation: { nf: 2, queue_worker: 1, store: 3 },
    config: { LOG_LEVEL: 'info', SMF_URL: 'http://smf.upf-staging.svc:8805', ALLOWED_NET: '10.0.0.0/8' },
    secrets: { API_TOKEN: 's3cr3t-token' },
    ...over,
  };
}

/** PID 1's argv as the kubelet starts it: `command` of the container (brr always sets it). */
export function pid1Of(o: KubeObject): string[][] {
  const spec = (o.spec as { template: { spec: { containers: Array<{ command: string[] }> } } }).template.spec;
  return spec.containers.map((c) => c.command);
}
