import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RolloutPlayer, type Obj, type RolloutScript, type Store } from './fake-controllers.js';

/**
 * A FAKE Kubernetes API server: no real one can run here. A real HTTP server on 127.0.0.1 that
 * implements just what brr uses: discovery, server-side apply (PATCH with
 * application/apply-patch+yaml, recorded with its field manager), GET/LIST with label
 * selectors, DELETE, bearer-token authentication (401 without it), immutable ConfigMaps and
 * Secrets (422), and a scripted rollout player standing in for the controllers.
 */

const RESOURCES: Record<string, Array<{ name: string; kind: string; namespaced: boolean }>> = {
  v1: [
    { name: 'configmaps', kind: 'ConfigMap', namespaced: true },
    { name: 'secrets', kind: 'Secret', namespaced: true },
    { name: 'services', kind: 'Service', namespaced: true },
    { name: 'pods', kind: 'Pod', namespaced: true },
    { name: 'limitranges', kind: 'LimitRange', namespaced: true },
    { name: 'namespaces', kind: 'Namespace', namespaced: false },
  ],
  'apps/v1': [
    { name: 'deployments', kind: 'Deployment', namespaced: true },
    { name: 'statefulsets', kind: 'StatefulSet', namespaced: true },
    { name: 'replicasets', kind: 'ReplicaSet', namespaced: true },
    { name: 'controllerrevisions', kind: 'ControllerRevision', namespaced: true },
  ],
  'policy/v1': [{ name: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: true }],
  'batch/v1': [{ name: 'jobs', kind: 'Job', namespaced: true }],
};

/** How a Job goes, as the Job controller would report it on the next read. */
export type JobScript = 'complete' | 'failed' | 'running';

export interface RecordedPatch {
  path: string;
  contentType: string;
  fieldManager: string | null;
  force: boolean;
  body: Obj;
}

export interface FakeApiServer {
  url: string;
  token: string;
  /** Every server-side apply, in order. */
  patches: RecordedPatch[];
  /** Every request: method, path and whether it carried the token. */
  requests: Array<{ method: string; path: string; authorized: boolean }>;
  /** How the rollout of an applied workload goes (default: instant). */
  setScript(fn: (workload: Obj) => RolloutScript): void;
  /** How an applied Job goes (default: it completes); every Job ever applied is in `jobs`. */
  setJobScript(fn: (job: Obj) => JobScript): void;
  jobs: string[];
  get(kind: string, name: string, namespace?: string): Obj | undefined;
  list(kind: string, namespace?: string): Obj[];
  put(o: Obj): void;
  remove(kind: string, name: string, namespace?: string): void;
  /** A kubeconfig (YAML text) pointing at this server with its token, context `fake`. */
  kubeconfigYaml(): string;
  /** The options for KubeConfig.loadFromOptions. */
  kubeconfigOptions(): Obj;
  close(): Promise<void>;
}

const status = (code: number, reason: string, message: string) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  code,
  reason,
  message,
});

export function matchesSelector(labels: Record<string, string> | undefined, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const ne = term.split('!=');
    if (ne.length === 2) return labels?.[ne[0]!] !== ne[1];
    const [k, v] = term.split('=');
    return v === undefined ? labels?.[k!] !== undefined : labels?.[k!] === v;
  });
}

export async function startFakeApiServer(opts: { namespaces?: string[] } = {}): Promise<FakeApiServer> {
  const token = randomBytes(16).toString('hex');
  const namespaces = new Set(opts.namespaces ?? ['default']);
  const objects = new Map<string, Obj>();
  const key = (kind: string, ns: string, name: string) => `${kind}/${ns}/${name}`;
  const store: Store = {
    put: (o) => void objects.set(key(o.kind, o.metadata.namespace ?? '', o.metadata.name), o),
    get: (kind, ns, name) => objects.get(key(kind, ns, name)),
    list: (kind, ns) => [...objects.values()].filter((o) => o.kind === kind && (o.metadata.namespace ?? '') === ns),
    delete: (kind, ns, name) => objects.delete(key(kind, ns, name)),
  };
  const player = new RolloutPlayer(store);
  let jobScript: (job: Obj) => JobScript = () => 'complete';
  const jobs: string[] = [];
  const patches: RecordedPatch[] = [];
  const requests: FakeApiServer['requests'] = [];
  let rv = 1;

  const route = (p: string) => {
    const m = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))(?:\/namespaces\/([^/]+))?(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(p);
    if (!m) return null;
    const gv = (m[1] ?? m[2]) as string;
    const res = RESOURCES[gv];
    if (!res) return null;
    if (!m[4]) return { gv, discovery: true as const };
    const r = res.find((x) => x.name === m[4]);
    return r ? { gv, discovery: false as const, kind: r.kind, ns: m[3] ?? '', name: m[5] ?? null } : null;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const authorized = req.headers.authorization === `Bearer ${token}`;
      requests.push({ method: req.method ?? '', path: url.pathname, authorized });
      const send = (code: number, body: unknown) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (!authorized) return send(401, status(401, 'Unauthorized', 'Unauthorized'));
      const r = route(url.pathname);
      if (!r)
        return send(404, status(404, 'NotFound', `the server could not find the requested resource ${url.pathname}`));
      if (r.discovery) {
        const resources = (RESOURCES[r.gv] ?? []).map((x) => ({
          name: x.name,
          singularName: x.kind.toLowerCase(),
          namespaced: x.namespaced,
          kind: x.kind,
          verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
        }));
        return send(200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: r.gv, resources });
      }
      const { kind, ns, name } = r;
      if (req.method === 'GET' && name) {
        const o = store.get(kind, ns, name);
        if (!o) return send(404, status(404, 'NotFound', `${kind.toLowerCase()}s "${name}" not found`));
        if (kind === 'Deployment' || kind === 'StatefulSet') player.advance(o);
        if (kind === 'Job' && !o.status?.conditions) {
          const how = jobScript(o);
          const cond = (type: string, reason: string) => [{ type, status: 'True', reason, message: reason }];
          if (how === 'complete') o.status = { succeeded: 1, conditions: cond('Complete', 'Completed') };
          else if (how === 'failed') o.status = { failed: 1, conditions: cond('Failed', 'BackoffLimitExceeded') };
          else o.status = { active: 1 };
        }
        return send(200, o);
      }
      if (req.method === 'GET') {
        const items = store
          .list(kind, ns)
          .filter((o) => matchesSelector(o.metadata.labels, url.searchParams.get('labelSelector')));
        return send(200, { kind: `${kind}List`, apiVersion: r.gv, metadata: { resourceVersion: String(rv) }, items });
      }
      if (req.method === 'DELETE' && name) {
        if (!store.delete(kind, ns, name))
          return send(404, status(404, 'NotFound', `${kind.toLowerCase()}s "${name}" not found`));
        player.deleted(kind, ns, name);
        return send(200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 200 });
      }
      if (req.method === 'PATCH' && name)
        return apply(
          kind,
          ns,
          name,
          req.headers['content-type'] ?? '',
          url,
          Buffer.concat(chunks).toString('utf8'),
          send,
        );
      return send(405, status(405, 'MethodNotAllowed', `${req.method} not supported by the fake`));
    });
  });

  function apply(
    kind: string,
    ns: string,
    name: string,
    contentType: string,
    url: URL,
    text: string,
    send: (c: number, b: unknown) => void,
  ): void {
    if (contentType !== 'application/apply-patch+yaml')
      return send(
        415,
        status(415, 'UnsupportedMediaType', `the fake only takes server-side apply, got ${contentType}`),
      );
    const fieldManager = url.searchParams.get('fieldManager');
    if (!fieldManager) return send(400, status(400, 'BadRequest', 'fieldManager is required for apply patch'));
    let body: Obj;
    try {
      body = JSON.parse(text) as Obj; // JSON is YAML; the client sends JSON.
    } catch {
      return send(400, status(400, 'BadRequest', 'body is not JSON'));
    }
    patches.push({
      path: url.pathname,
      contentType,
      fieldManager,
      force: url.searchParams.get('force') === 'true',
      body,
    });
    if (!namespaces.has(ns)) return send(404, status(404, 'NotFound', `namespaces "${ns}" not found`));
    if (body.kind !== kind || body.metadata?.name !== name)
      return send(400, status(400, 'BadRequest', 'body does not match the URL'));
    const old = store.get(kind, ns, name);
    if (
      old &&
      old.immutable === true &&
      (kind === 'ConfigMap' || kind === 'Secret') &&
      JSON.stringify(old.data ?? {}) !== JSON.stringify(body.data ?? {})
    ) {
      return send(
        422,
        status(
          422,
          'Invalid',
          `${kind} "${name}" is invalid: data: Forbidden: field is immutable when \`immutable\` is set`,
        ),
      );
    }
    const specChanged = !old || JSON.stringify(old.spec) !== JSON.stringify(body.spec);
    // A Job's pod template cannot change once created (the real API server says 422 too).
    if (kind === 'Job' && old && specChanged)
      return send(422, status(422, 'Invalid', `Job.batch "${name}" is invalid: spec.template: field is immutable`));
    if (kind === 'Job' && !old) jobs.push(name);
    const generation = old ? (old.metadata.generation as number) + (specChanged ? 1 : 0) : 1;
    const stored: Obj = {
      ...body,
      metadata: {
        ...body.metadata,
        namespace: ns,
        uid: old?.metadata.uid ?? randomUUID(),
        resourceVersion: String(++rv),
        generation,
        creationTimestamp: old?.metadata.creationTimestamp ?? new Date().toISOString(),
        managedFields: [{ manager: fieldManager, operation: 'Apply' }],
      },
      status: old?.status ?? {},
    };
    store.put(stored);
    if ((kind === 'Deployment' || kind === 'StatefulSet') && specChanged) player.started(stored);
    send(old ? 200 : 201, stored);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const options = () => ({
    clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
    users: [{ name: 'fake-user', token }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'fake-user' }],
    currentContext: 'fake',
  });
  return {
    url,
    token,
    patches,
    requests,
    setScript: (fn) => void (player.script = fn),
    setJobScript: (fn) => void (jobScript = fn),
    jobs,
    get: (kind, name, ns = 'default') => store.get(kind, ns, name),
    list: (kind, ns = 'default') => store.list(kind, ns),
    put: (o) => store.put(o),
    remove: (kind, name, ns = 'default') => void store.delete(kind, ns, name),
    kubeconfigOptions: options,
    kubeconfigYaml: () =>
      [
        'apiVersion: v1',
        'kind: Config',
        // client-node refuses plain HTTP unless TLS verification is off (there is no TLS to verify).
        `clusters: [{ name: fake, cluster: { server: "${url}", insecure-skip-tls-verify: true } }]`,
        `users: [{ name: fake-user, user: { token: "${token}" } }]`,
        'contexts: [{ name: fake, context: { cluster: fake, user: fake-user } }]',
        'current-context: fake',
        '',
      ].join('\n'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
