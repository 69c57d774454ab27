import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { BrrError } from '../../../src/core/errors.js';
import { runChecks } from '../../../src/run/kubernetes/check.js';
import { LIMIT_DEFAULTS, renderRelease } from '../../../src/run/kubernetes/render.js';
import { objectFileName, yamlStream } from '../../../src/run/kubernetes/yaml.js';
import { DIGEST, PROCESSES, renderInput } from './fixtures.js';
import { openApiProblems } from './openapi.js';

const GOLDEN = path.join(import.meta.dirname, 'golden');

/** Compares with a golden file; BRR_UPDATE_GOLDEN=1 rewrites it (review the diff before committing). */
function expectGolden(name: string, text: string): void {
  const file = path.join(GOLDEN, name);
  if (process.env.BRR_UPDATE_GOLDEN === '1' || !existsSync(file)) writeFileSync(file, text);
  expect(text).toBe(readFileSync(file, 'utf8'));
}

describe('render', () => {
  const { objects, warnings } = renderRelease(renderInput());

  it('matches the golden files (full release, and the placeholder Secret)', () => {
    expectGolden('upf-v3.yaml', yamlStream(objects));
    const placeholder = renderRelease(renderInput({ secrets: { API_TOKEN: null, DB_PASSWORD: null } })).objects[1]!;
    expectGolden('upf-v3-secret-placeholder.yaml', yamlStream([placeholder]));
  });

  it('is deterministic: same input, same bytes; the stream parses back to the objects', () => {
    expect(yamlStream(renderRelease(renderInput()).objects)).toBe(yamlStream(objects));
    const docs = parseAllDocuments(yamlStream(objects)).map((d) => (d as { toJS(): unknown }).toJS());
    expect(docs).toEqual(JSON.parse(JSON.stringify(objects)));
  });

  it('orders objects for apply: ConfigMap, Secret, Services, PDBs, workloads', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ConfigMap/upf-v3-config',
      'Secret/upf-v3-secret',
      'Service/upf-nf',
      'Service/upf-store',
      'Service/upf-store-pods',
      'PodDisruptionBudget/upf-nf',
      'PodDisruptionBudget/upf-queue-worker',
      'PodDisruptionBudget/upf-store',
      'Deployment/upf-nf',
      'Deployment/upf-queue-worker',
      'StatefulSet/upf-store',
    ]);
    expect(objects.map(objectFileName)[0]).toBe('01-configmap-upf-v3-config.yaml');
  });

  it('validates every object against the Kubernetes OpenAPI schema (and no unknown fields)', () => {
    const all = [...objects, renderRelease(renderInput({ secrets: { K: null } })).objects[1]!];
    expect(all.flatMap(openApiProblems)).toEqual([]);
  });

  it('the validator is able to fail: a typo, a wrong type and a bad enum are caught', () => {
    const bad = JSON.parse(JSON.stringify(objects.find((o) => o.kind === 'Deployment')));
    bad.spec.template.spec.containers[0].readinesProbe = {};
    bad.spec.replicas = 'two';
    bad.spec.template.spec.containers[0].ports[0].protocol = 'QUIC';
    const problems = openApiProblems(bad).join('\n');
    expect(problems).toContain('unknown field spec.template.spec.containers[0].readinesProbe');
    expect(problems).toContain('replicas must be integer');
    expect(problems).toContain('protocol must be equal to one of the allowed values');
  });

  it('passes the CNTi static checks, with no warnings for this release', () => {
    expect(runChecks(objects, { imageSizes: {} }).filter((r) => r.result === 'fail')).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('pins the image by digest, wires both config objects and probes from the health config', () => {
    const nf = objects.find((o) => o.metadata.name === 'upf-nf' && o.kind === 'Deployment') as unknown as {
      spec: {
        template: { spec: { containers: Array<Record<string, unknown>>; terminationGracePeriodSeconds: number } };
      };
    };
    const c = nf.spec.template.spec.containers[0]!;
    expect(c.image).toBe(`registry.example.com/nf/upf@${DIGEST}`);
    expect(c.envFrom).toBeUndefined();
    expect(c.env).toEqual([
      { name: 'BRR_APP', value: 'upf' },
      { name: 'BRR_PROCESS_TYPE', value: 'nf' },
      { name: 'BRR_RELEASE', value: 'v3' },
      { name: 'PORT', value: '8080' },
      { name: 'ALLOWED_NET', valueFrom: { configMapKeyRef: { key: 'ALLOWED_NET', name: 'upf-v3-config' } } },
      { name: 'API_TOKEN', valueFrom: { secretKeyRef: { key: 'API_TOKEN', name: 'upf-v3-secret' } } },
      { name: 'LOG_LEVEL', valueFrom: { configMapKeyRef: { key: 'LOG_LEVEL', name: 'upf-v3-config' } } },
      { name: 'SMF_URL', valueFrom: { configMapKeyRef: { key: 'SMF_URL', name: 'upf-v3-config' } } },
    ]);
    expect(c.readinessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 'http' } });
    expect(c.startupProbe).toMatchObject({ failureThreshold: 15, periodSeconds: 1 });
    // grace 5s: a 3s preStop drain (kube-proxy catches up, UDP flows move), then the full 5s after SIGTERM.
    expect(c.lifecycle).toEqual({ preStop: { sleep: { seconds: 3 } } });
    expect(nf.spec.template.spec.terminationGracePeriodSeconds).toBe(8);
    const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'upf-nf') as unknown as {
      spec: { ports: Array<{ protocol: string }> };
    };
    expect(svc.spec.ports.map((p) => p.protocol)).toEqual(['TCP', 'UDP', 'SCTP']);
  });

  it('writes secret values base64 in an immutable Secret; the ConfigMap never holds them', () => {
    const [cm, secret] = objects;
    expect(JSON.stringify(cm)).not.toContain('s3cr3t');
    expect(secret).toMatchObject({
      immutable: true,
      data: { API_TOKEN: Buffer.from('s3cr3t-token').toString('base64') },
    });
    const placeholder = renderRelease(renderInput({ secrets: { API_TOKEN: null } })).objects[1]!;
    expect(placeholder.data).toEqual({ API_TOKEN: '' });
    expect(placeholder.immutable).toBeUndefined();
    expect(yamlStream([placeholder])).toContain('# brr: secret values omitted');
  });

  it('warns, naming the CNTi check, for a process without any probe, restart never, IPs in config and the default namespace', () => {
    const udpOnly = {
      ...PROCESSES.nf!,
      ports: [{ name: 'gtpu', port: 2152, protocol: 'udp' as const, address: '127.0.0.1' }],
      health: { ...PROCESSES.nf!.health, check: null },
      restart: 'never' as const,
    };
    const r = renderRelease(
      renderInput({
        namespace: 'default',
        processes: { relay: udpOnly },
        formation: { relay: 1 },
        config: { N3_ADDR: '192.0.2.10' },
      }),
    );
    expect(r.warnings.join('\n')).toMatch(
      /default_namespace[\s\S]*relay: no health check and no TCP port[\s\S]*liveness and readiness[\s\S]*restart: never[\s\S]*N3_ADDR[\s\S]*hardcoded_ip_addresses/,
    );
    const findings = runChecks(r.objects, { imageSizes: {} })
      .filter((f) => f.result === 'fail')
      .map((f) => f.check);
    expect(findings).toEqual(
      expect.arrayContaining(['liveness', 'readiness', 'hardcoded_ip_addresses_in_k8s_runtime_configuration']),
    );
    const relay = r.objects.find((o) => o.kind === 'Deployment') as unknown as { spec: { minReadySeconds: number } };
    expect(relay.spec.minReadySeconds).toBe(1);
  });

  it('reads every config key from the release objects, per key; brr variables and PORT still win over config', () => {
    const r = renderRelease(renderInput({ config: { BRR_APP: 'spoof', PORT: '9999' }, secrets: { Z_KEY: null } }));
    const nf = r.objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'upf-nf') as unknown as {
      spec: { template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } } };
    };
    const env = nf.spec.template.spec.containers[0]!.env;
    expect(env.filter((e) => e.name === 'BRR_APP')).toEqual([{ name: 'BRR_APP', value: 'upf' }]);
    expect(env.filter((e) => e.name === 'PORT')).toEqual([
      { name: 'PORT', valueFrom: { configMapKeyRef: { key: 'PORT', name: 'upf-v3-config' } } },
    ]);
    expect(env.map((e) => e.name)).toContain('Z_KEY');
  });

  it("sets each process's resources as request and limit; no LimitRange when every type has both", () => {
    const nf = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'upf-nf') as unknown as {
      spec: { template: { spec: { containers: Array<{ resources: unknown }> } } };
    };
    expect(nf.spec.template.spec.containers[0]!.resources).toEqual({
      limits: { cpu: '2', memory: '1Gi' },
      requests: { cpu: '2', memory: '1Gi' },
    });
    expect(objects.some((o) => o.kind === 'LimitRange')).toBe(false);
  });

  it('renders a namespace LimitRange first, with the documented defaults, when a type lacks resources', () => {
    const { resources: _, ...bare } = PROCESSES.queue_worker!;
    const r = renderRelease(renderInput({ processes: { ...PROCESSES, queue_worker: bare } }));
    expect(r.objects[0]).toMatchObject({
      kind: 'LimitRange',
      metadata: { name: 'upf-defaults', namespace: 'upf-staging' },
      spec: { limits: [{ type: 'Container', default: LIMIT_DEFAULTS.default }] },
    });
    expect(r.objects.flatMap(openApiProblems)).toEqual([]);
    const worker = r.objects.find((o) => o.metadata.name === 'upf-queue-worker' && o.kind === 'Deployment')!;
    expect(JSON.stringify(worker)).not.toContain('"resources"');
    expect(r.warnings.join('\n')).toMatch(/queue_worker: no resources[\s\S]*cpu_limits and memory_limits/);
    expect(LIMIT_DEFAULTS).toEqual({
      default: { cpu: '500m', memory: '512Mi' },
      defaultRequest: { cpu: '100m', memory: '128Mi' },
    });
  });

  it('renders the release phase as a Job after the config objects, same image, init and config; valid; passes brr check', () => {
    const r = renderRelease(renderInput({ releasePhase: { command: 'node migrate.mjs --up' } }));
    expect(r.objects.map((o) => `${o.kind}/${o.metadata.name}`).slice(0, 4)).toEqual([
      'ConfigMap/upf-v3-config',
      'Secret/upf-v3-secret',
      'Job/upf-v3-release',
      'Service/upf-nf',
    ]);
    const job = r.objects[2]!;
    expectGolden('upf-v3-release-job.yaml', yamlStream([job]));
    expect(openApiProblems(job)).toEqual([]);
    const c = (job.spec as { template: { spec: { containers: Array<Record<string, unknown>> } } }).template.spec
      .containers[0]!;
    expect(c.command).toEqual(['/usr/bin/tini', '-g', '--', 'node', 'migrate.mjs', '--up']);
    expect(c.image).toBe(`registry.example.com/nf/upf@${DIGEST}`);
    expect(runChecks(r.objects, { imageSizes: { [c.image as string]: 1 } }).filter((x) => x.result !== 'pass')).toEqual(
      [],
    );
  });

  it('refuses an image that is not pinned to the release digest, and names Kubernetes cannot take', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as BrrError).code;
      }
      return null;
    };
    expect(err(() => renderRelease(renderInput({ image: 'registry.example.com/nf/upf:latest' })))).toBe(
      'kubernetes_image_unpinned',
    );
    expect(err(() => renderRelease(renderInput({ app: '5gc' })))).toBe('kubernetes_name_invalid');
    expect(err(() => renderRelease(renderInput({ processes: { web_a: PROCESSES.nf!, 'web-a': PROCESSES.nf! } })))).toBe(
      'kubernetes_name_conflict',
    );
  });
});
