import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/build/build.js';
import { pushBuild } from '../../src/registry/push-build.js';
import { readManifest } from '../../src/store/image-read.js';
import { materializeRelease } from '../../src/store/materialize.js';
import { OciLayout } from '../../src/store/oci-layout.js';
import { cleanupTempDirs, commitAll, git, tempDir, tempHome } from './git-fixture.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { missingTool } from '../helpers/tools.js';

/**
 * Dependencies in their own layer: a code-only commit changes only the app layer, so the
 * dependency blob keeps its digest and a push skips it. Also: the split image still
 * materializes for the local target, with files from both layers.
 */

const skip = missingTool('docker-registry');

/** A repository with a sizeable, incompressible node_modules and a small app. */
function splitRepo(yamlBuild = ''): string {
  const repo = tempDir('repo');
  git(repo, ['init', '-q']);
  writeFileSync(
    path.join(repo, 'brr.yaml'),
    `app: api\n${yamlBuild}processes:\n  web: { command: "node server.js" }\n`,
  );
  writeFileSync(path.join(repo, 'server.js'), 'console.log("v1");\n');
  mkdirSync(path.join(repo, 'node_modules', 'dep'), { recursive: true });
  // Pseudo-random bytes (a hash chain): the same every run, and gzip cannot shrink them.
  const chunks: Buffer[] = [];
  let h = Buffer.from('seed');
  for (let i = 0; i < 8192; i++) chunks.push((h = createHash('sha256').update(h).digest()));
  writeFileSync(path.join(repo, 'node_modules', 'dep', 'blob.bin'), Buffer.concat(chunks));
  writeFileSync(path.join(repo, 'node_modules', 'dep', 'index.js'), 'module.exports = 1;\n');
  commitAll(repo, 'v1');
  return repo;
}

describe.skipIf(!!skip)('dependency layers', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
    cleanupTempDirs();
  });

  it('a code-only change reuses the node_modules blob, and the second push skips it', async () => {
    const home = tempHome();
    const repo = splitRepo();
    const layout = new OciLayout(home.oci);
    const one = await buildImage({ paths: home, repo });
    writeFileSync(path.join(repo, 'server.js'), 'console.log("v2");\n');
    commitAll(repo, 'v2', '2024-05-07T07:08:09Z');
    const two = await buildImage({ paths: home, repo });
    const [m1, m2] = await Promise.all([readManifest(layout, one.digest), readManifest(layout, two.digest)]);
    expect(m1.layers.map((l) => l.annotations?.['dev.brr.layer'])).toEqual(['node_modules', 'app']);
    expect(m2.layers[0]!.digest).toBe(m1.layers[0]!.digest);
    expect(m2.layers[1]!.digest).not.toBe(m1.layers[1]!.digest);
    expect(m1.layers[0]!.size).toBeGreaterThan(256 * 1024);

    const first = await pushBuild({ paths: home, build: one.digest, to: `${reg.host}/api:1` });
    const second = await pushBuild({ paths: home, build: two.digest, to: `${reg.host}/api:2` });
    expect(first).toMatchObject({ blobsPushed: 3, blobsSkipped: 0 });
    expect(second).toMatchObject({ blobsPushed: 2, blobsSkipped: 1 }); // app layer + config
    expect(second.bytesSent).toBeLessThan(first.bytesSent / 20);
  });

  it('the split image materializes with the files of both layers', async () => {
    const home = tempHome();
    const r = await buildImage({ paths: home, repo: splitRepo() });
    const dir = await materializeRelease(home, 'api', 'v1', r.digest);
    expect(readFileSync(path.join(dir, 'server.js'), 'utf8')).toContain('v1');
    expect(readFileSync(path.join(dir, 'node_modules', 'dep', 'index.js'), 'utf8')).toContain('module.exports');
  });

  it('build.layers: [] keeps one layer (the original format)', async () => {
    const home = tempHome();
    const r = await buildImage({ paths: home, repo: splitRepo('build:\n  layers: []\n') });
    const m = await readManifest(new OciLayout(home.oci), r.digest);
    expect(m.layers).toHaveLength(1);
    expect(m.layers[0]!.annotations).toBeUndefined();
  });
});
