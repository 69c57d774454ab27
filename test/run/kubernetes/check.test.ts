import { describe, expect, it } from 'vitest';
import {
  CATEGORIES,
  IMAGE_SIZE_LIMIT,
  essentialFailures,
  hardcodedIps,
  runChecks,
  type CheckName,
} from '../../../src/run/kubernetes/check.js';
import { renderRelease } from '../../../src/run/kubernetes/render.js';
import type { KubeObject } from '../../../src/run/kubernetes/types.js';
import { DIGEST, renderInput } from './fixtures.js';

/** `brr check`'s rules: brr's own render passes all of them; each one fails on its own breakage. */

const IMAGE = `registry.example.com/nf/upf@${DIGEST}`;
const facts = {
  imageSizes: {
    [IMAGE]: 80 * 1024 ** 2,
    'registry.example.com/nf/upf:latest': 80 * 1024 ** 2,
    'registry.example.com/nf/upf': 80 * 1024 ** 2,
  } as Record<string, number>,
};
/** An untagged or :latest image is neither versioned nor free of latest: CNTi fails both checks, so do we. */
const PAIRED: Partial<Record<CheckName, CheckName>> = { latest_tag: 'versioned_tag', versioned_tag: 'latest_tag' };
const good = () => JSON.parse(JSON.stringify(renderRelease(renderInput()).objects)) as KubeObject[];
type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const nf = (objects: KubeObject[]) =>
  objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'upf-nf') as unknown as Any;
const nfContainer = (objects: KubeObject[]) => nf(objects).spec.template.spec.containers[0] as Any;

describe('brr check (CNTi static checks)', () => {
  it("passes every check on brr's render (image pinned, init, resources, key refs, probes, non-root)", () => {
    const rows = runChecks(good(), facts);
    expect(rows.filter((r) => r.result !== 'pass')).toEqual([]);
    expect(new Set(rows.map((r) => r.check))).toEqual(new Set(Object.keys(CATEGORIES)));
    expect(rows.every((r) => r.fix === null && r.category === CATEGORIES[r.check])).toBe(true);
  });

  const breakages: Array<[CheckName, (o: KubeObject[]) => void, 'fail' | 'warn']> = [
    ['latest_tag', (o) => void (nfContainer(o).image = 'registry.example.com/nf/upf:latest'), 'fail'],
    ['versioned_tag', (o) => void (nfContainer(o).image = 'registry.example.com/nf/upf'), 'fail'],
    [
      'hardcoded_ip_addresses_in_k8s_runtime_configuration',
      (o) => void ((o[0] as Any).data.SMF_URL = 'http://192.0.2.10:8805'),
      'fail',
    ],
    ['liveness', (o) => void delete nfContainer(o).livenessProbe, 'fail'],
    ['readiness', (o) => void delete nfContainer(o).readinessProbe, 'fail'],
    ['cpu_limits', (o) => void delete nfContainer(o).resources.limits.cpu, 'fail'],
    ['memory_limits', (o) => void delete nfContainer(o).resources.limits.memory, 'fail'],
    ['specialized_init_system', (o) => void (nfContainer(o).command = ['node', 'nf.mjs']), 'fail'],
    ['immutable_configmap', (o) => void delete (o[0] as Any).immutable, 'fail'],
    [
      'secrets_used',
      (o) => void (nfContainer(o).env = nfContainer(o).env.filter((e: Any) => !e.valueFrom?.secretKeyRef)),
      'fail',
    ],
    ['hostport_not_used', (o) => void (nfContainer(o).ports[0].hostPort = 8080), 'fail'],
    ['hostnetwork', (o) => void (nf(o).spec.template.spec.hostNetwork = true), 'fail'],
    ['privileged', (o) => void (nfContainer(o).securityContext.privileged = true), 'fail'],
    [
      'non_root_containers',
      (o) => {
        delete nf(o).spec.template.spec.securityContext.runAsNonRoot;
        nf(o).spec.template.spec.securityContext.runAsUser = 0;
        delete nfContainer(o).securityContext.runAsNonRoot;
      },
      'fail',
    ],
    ['require_labels', (o) => void delete nf(o).spec.template.metadata.labels['app.kubernetes.io/name'], 'fail'],
    ['reasonable_image_size', () => void (facts.imageSizes[IMAGE] = IMAGE_SIZE_LIMIT), 'fail'],
    [
      'single_process_type',
      (o) => void (nfContainer(o).command = ['/usr/bin/tini', '-g', '--', '/bin/sh', '-c', 'a & b']),
      'fail',
    ],
  ];

  it.each(breakages)('%s fails on its own breakage, with the fix', (check, breakIt, want) => {
    const objects = good();
    const saved = facts.imageSizes[IMAGE]!;
    breakIt(objects);
    try {
      const rows = runChecks(objects, facts).filter((r) => r.result !== 'pass');
      const paired = PAIRED[check];
      expect(rows.map((r) => `${r.check} ${r.result}`).sort()).toEqual(
        [`${check} ${want}`, ...(paired ? [`${paired} ${want}`] : [])].sort(),
      );
      expect(rows.every((r) => r.fix)).toBe(true);
      if (!paired) expect(essentialFailures(rows).length).toBe(CATEGORIES[check] === 'essential' ? 1 : 0);
    } finally {
      facts.imageSizes[IMAGE] = saved;
    }
  });

  it('covers every check with a breakage', () => {
    expect(new Set(breakages.map((b) => b[0]))).toEqual(new Set(Object.keys(CATEGORIES)));
  });

  it('cpu_limits and memory_limits warn (not fail) when only the LimitRange gives defaults; no secrets skips secrets_used', () => {
    const { resources: _, ...bare } = renderInput().processes.nf!;
    const objects = renderRelease(renderInput({ processes: { nf: bare }, formation: { nf: 1 }, secrets: {} })).objects;
    const rows = runChecks(objects, facts).filter((r) => r.result !== 'pass');
    expect(rows.map((r) => `${r.check} ${r.result}`)).toEqual([
      'cpu_limits warn',
      'memory_limits warn',
      'secrets_used skip',
    ]);
    expect(essentialFailures(rows)).toEqual([]);
  });

  it('a release Job (runs to completion) is held to limits and tags, not to probes, init or single process', () => {
    const objects = renderRelease(
      renderInput({ releasePhase: { command: 'node migrate.mjs && node seed.mjs' } }),
    ).objects;
    expect(runChecks(objects, facts).filter((r) => r.result !== 'pass')).toEqual([]);
    const rows = runChecks(objects, facts).filter((r) => r.object.startsWith('Job/'));
    expect([...new Set(rows.map((r) => r.check))].sort()).toEqual(
      [
        'cpu_limits',
        'hardcoded_ip_addresses_in_k8s_runtime_configuration',
        'hostnetwork',
        'hostport_not_used',
        'latest_tag',
        'memory_limits',
        'non_root_containers',
        'privileged',
        'require_labels',
        'secrets_used',
        'versioned_tag',
      ].sort(),
    );
  });

  it("follows CNTi's IP rule: CIDRs, 127.0.0.1 and 0.0.0.0 are allowed", () => {
    expect(hardcodedIps('10.0.0.0/8 127.0.0.1 0.0.0.0:8080 192.0.2.1 v1.2.3.4.5')).toEqual(['192.0.2.1']);
  });
});
