import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { cnfTestsuiteConfig, cnfTestsuiteYaml, testTags } from '../../../src/run/kubernetes/cnf-testsuite.js';
import { renderRelease } from '../../../src/run/kubernetes/render.js';
import { renderInput } from './fixtures.js';

/** cnf-testsuite.yml: CNTi's config v2, with bare hex digests as the rolling tests' tags. */

const b = (n: string, createdAt: string) => ({ digest: `sha256:${n.repeat(64)}`, createdAt });
const OLD = b('a', '2026-01-01T00:00:00Z');
const CUR = b('b', '2026-02-01T00:00:00Z');
const NEW = b('c', '2026-03-01T00:00:00Z');

describe('cnf-testsuite.yml', () => {
  it('update/version change/rollback go to a newer build, downgrade to an older one, as bare hex', () => {
    expect(testTags(CUR, [NEW, OLD, CUR])).toEqual({
      rolling_update_test_tag: 'c'.repeat(64),
      rolling_downgrade_test_tag: 'a'.repeat(64),
      rolling_version_change_test_tag: 'c'.repeat(64),
      rollback_from_tag: 'c'.repeat(64),
    });
    // Only older builds: the nearest stands in for newer; none: no tags (CNTi skips those tests).
    expect(testTags(CUR, [OLD]).rolling_update_test_tag).toBe('a'.repeat(64));
    expect(testTags(CUR, [CUR])).toEqual({});
  });

  it("CNTi's rpartition(':') turns the rendered reference plus a tag into the other build's pinned reference", () => {
    const image = `registry.example.com/nf/upf@${CUR.digest}`;
    const tag = testTags(CUR, [NEW]).rolling_update_test_tag!;
    expect(`${image.slice(0, image.lastIndexOf(':'))}:${tag}`).toBe(`registry.example.com/nf/upf@${NEW.digest}`);
  });

  it('names every workload container, the manifest directory and the namespace; tags survive YAML as strings', () => {
    const { objects } = renderRelease(renderInput({ releasePhase: { command: 'migrate' } }));
    const cfg = cnfTestsuiteConfig({
      app: 'upf',
      namespace: 'upf-staging',
      manifestDirectory: 'manifests',
      objects,
      current: CUR,
      others: [b('1', '2026-03-01T00:00:00Z'), OLD],
    });
    const back = parse(cnfTestsuiteYaml(cfg)) as {
      config_version: string;
      common: { container_names: Array<Record<string, string>> };
      deployments: { manifests: unknown[] };
    };
    expect(back.config_version).toBe('v2');
    expect(back.common.container_names.map((c) => c.name)).toEqual(['nf', 'queue-worker', 'store']);
    // An all-digit digest must stay a string, not become a number.
    expect(back.common.container_names[0]!.rolling_update_test_tag).toBe('1'.repeat(64));
    expect(back.deployments.manifests).toEqual([
      { name: 'upf', manifest_directory: 'manifests', namespace: 'upf-staging' },
    ]);
  });
});
