import { stringify } from 'yaml';
import type { KubeObject } from './types.js';

/**
 * `brr render --cnf-testsuite`: the CNTi test suite's config (config_version v2) for a release,
 * as data. CNTi's rolling tests rebuild an image reference with `image.rpartition(":")` and the
 * configured tag; brr's references are `repo@sha256:<hex>`, so a "tag" must be the bare hex
 * digest of another build pushed to the same repository (a normal tag would give
 * `repo@sha256:v2`, an invalid reference).
 */

export interface OtherBuild {
  /** `sha256:<hex>` */
  digest: string;
  /** When it was built (ISO): what newer and older mean. */
  createdAt: string;
}

export interface CnfTestsuiteInput {
  app: string;
  namespace: string;
  /** Directory of the manifests, relative to the config file. */
  manifestDirectory: string;
  objects: readonly KubeObject[];
  /** The release's build. */
  current: OtherBuild;
  /** The app's other builds pushed to the same repository. */
  others: readonly OtherBuild[];
}

export interface CnfTestTags {
  rolling_update_test_tag?: string;
  rolling_downgrade_test_tag?: string;
  rolling_version_change_test_tag?: string;
  rollback_from_tag?: string;
}

const hex = (d: string) => d.slice(d.indexOf(':') + 1);

/**
 * Tags from the other builds: an update goes to a newer build, a downgrade to an older one, a
 * version change and a rollback-from to any other (newer preferred). Without a newer (or older)
 * build, the nearest other one stands in; with no other build the keys are left out (CNTi skips).
 */
export function testTags(current: OtherBuild, others: readonly OtherBuild[]): CnfTestTags {
  const rest = others.filter((b) => b.digest !== current.digest);
  const byTime = [...rest].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.digest.localeCompare(b.digest));
  const newer = byTime.filter((b) => b.createdAt > current.createdAt);
  const older = byTime.filter((b) => b.createdAt <= current.createdAt);
  const up = newer[0] ?? older[older.length - 1];
  const down = older[older.length - 1] ?? newer[0];
  if (!up || !down) return {};
  return {
    rolling_update_test_tag: hex(up.digest),
    rolling_downgrade_test_tag: hex(down.digest),
    rolling_version_change_test_tag: hex(up.digest),
    rollback_from_tag: hex(up.digest),
  };
}

/** Names of the containers of the long-running workloads (not the release Job). */
function containerNames(objects: readonly KubeObject[]): string[] {
  const names = new Set<string>();
  for (const o of objects) {
    if (o.kind !== 'Deployment' && o.kind !== 'StatefulSet') continue;
    const spec = (o.spec as { template?: { spec?: { containers?: Array<{ name: string }> } } }).template?.spec;
    for (const c of spec?.containers ?? []) names.add(c.name);
  }
  return [...names].sort();
}

export function cnfTestsuiteConfig(input: CnfTestsuiteInput): Record<string, unknown> {
  const tags = testTags(input.current, input.others);
  return {
    config_version: 'v2',
    common: { container_names: containerNames(input.objects).map((name) => ({ name, ...tags })) },
    deployments: {
      manifests: [{ name: input.app, manifest_directory: input.manifestDirectory, namespace: input.namespace }],
    },
  };
}

/** The file's text: a header comment, then YAML with every tag quoted (hex digits could read as a number). */
export function cnfTestsuiteYaml(config: Record<string, unknown>): string {
  return (
    '# brr render --cnf-testsuite: the CNTi test suite config for this release. The test tags are bare\n' +
    '# hex digests of other builds of the app pushed to the same repository (CNTi appends them after\n' +
    '# the last ":", which in repo@sha256:<hex> is the digest).\n' +
    stringify(config, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN' })
  );
}
