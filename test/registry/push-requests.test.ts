import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/build/build.js';
import { pullImage } from '../../src/registry/pull.js';
import { RegistryClient } from '../../src/registry/client.js';
import { httpTransport, type Transport } from '../../src/registry/http.js';
import { pushBuild } from '../../src/registry/push-build.js';
import { SMALL_BLOB } from '../../src/registry/push.js';
import { hostPlatform } from '../../src/registry/media-types.js';
import { readManifest } from '../../src/store/image-read.js';
import { OciLayout } from '../../src/store/oci-layout.js';
import { cleanupTempDirs, commitAll, git, tempDir, tempHome } from '../build/git-fixture.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { missingTool } from '../helpers/tools.js';

/**
 * What a push says to the registry, request by request (a counting fetch around the real one,
 * against a real docker-registry): a manifest the registry has costs no blob question, small
 * blobs are sent without a HEAD, large ones are asked about, and what lands in the registry is
 * the local image, byte for byte.
 */

const skip = missingTool('docker-registry');

function appRepo(): string {
  const repo = tempDir('repo');
  git(repo, ['init', '-q']);
  writeFileSync(path.join(repo, 'brr.yaml'), 'app: api\nprocesses:\n  web: { command: "node server.js" }\n');
  writeFileSync(path.join(repo, 'server.js'), 'console.log("v1");\n');
  mkdirSync(path.join(repo, 'node_modules', 'dep'), { recursive: true });
  const chunks: Buffer[] = [];
  let h = Buffer.from('seed');
  for (let i = 0; i < 8192; i++) chunks.push((h = createHash('sha256').update(h).digest()));
  writeFileSync(path.join(repo, 'node_modules', 'dep', 'blob.bin'), Buffer.concat(chunks));
  commitAll(repo, 'v1');
  return repo;
}

/** The real transport, each request logged as `METHOD kind` (a mount POST as `POST mount`). */
function counting(): { transport: Transport; log: string[] } {
  const log: string[] = [];
  const real = httpTransport();
  const transport: Transport = (req) => {
    const u = req.url;
    const kind = u.pathname.includes('/manifests/')
      ? 'manifest'
      : u.searchParams.has('mount')
        ? 'mount'
        : u.pathname.includes('/uploads/')
          ? 'upload'
          : 'blob';
    log.push(`${req.method} ${kind}`);
    return real(req);
  };
  return { transport, log };
}

describe.skipIf(!!skip)('push requests', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
    cleanupTempDirs();
  });

  it('asks only about large blobs, skips all of them for a known manifest, and the registry holds the image', async () => {
    const home = tempHome();
    const repo = appRepo();
    const layout = new OciLayout(home.oci);
    const one = await buildImage({ paths: home, repo });
    const m1 = await readManifest(layout, one.digest);
    expect(m1.layers[0]!.size).toBeGreaterThan(SMALL_BLOB);
    expect(m1.layers[1]!.size).toBeLessThanOrEqual(SMALL_BLOB);

    const first = counting();
    const r1 = await pushBuild({ paths: home, build: one.digest, to: `${reg.host}/api:1`, transport: first.transport });
    expect(r1).toMatchObject({ blobsPushed: 3, blobsSkipped: 0 });
    expect(first.log.filter((l) => l === 'HEAD blob')).toHaveLength(1); // only the large layer
    expect(first.log.filter((l) => l === 'POST upload')).toHaveLength(3);
    expect(first.log.filter((l) => l === 'PUT upload')).toHaveLength(3); // one monolithic PUT each
    expect(first.log[0]).toBe('HEAD manifest');
    expect(first.log[first.log.length - 1]).toBe('PUT manifest');

    // The same manifest again (a new tag): one HEAD, one PUT, no blob traffic.
    const again = counting();
    const r2 = await pushBuild({ paths: home, build: one.digest, to: `${reg.host}/api:again`, transport: again.transport });
    expect(again.log).toEqual(['HEAD manifest', 'PUT manifest']);
    expect(r2).toMatchObject({ blobsPushed: 0, blobsSkipped: 3 });

    // A code-only commit: the large layer is asked about and skipped, the small ones are sent.
    writeFileSync(path.join(repo, 'server.js'), 'console.log("v2");\n');
    commitAll(repo, 'v2', '2024-05-07T07:08:09Z');
    const two = await buildImage({ paths: home, repo });
    const code = counting();
    const r3 = await pushBuild({ paths: home, build: two.digest, to: `${reg.host}/api:2`, transport: code.transport });
    expect(r3).toMatchObject({ blobsPushed: 2, blobsSkipped: 1 });
    expect(code.log.filter((l) => l === 'HEAD blob')).toHaveLength(1);

    // What the registry holds is the local image: pulled into a fresh home, same digest and blobs.
    const other = new OciLayout(tempHome().oci);
    await other.init();
    const client = await RegistryClient.open({
      ref: { registry: reg.host, repository: 'api', scheme: 'http' },
      actions: ['pull'],
      credentials: null,
    });
    const pulled = await pullImage(client, other, '2', hostPlatform());
    expect(pulled.digest).toBe(two.digest);
    const m2 = await readManifest(layout, two.digest);
    for (const d of [m2.config, ...m2.layers])
      expect(readFileSync(other.blobPath(d.digest)).equals(readFileSync(layout.blobPath(d.digest)))).toBe(true);
  });

  it('refuses to push a damaged blob it would send', async () => {
    const home = tempHome();
    const repo = appRepo();
    const layout = new OciLayout(home.oci);
    const one = await buildImage({ paths: home, repo });
    const app = (await readManifest(layout, one.digest)).layers[1]!;
    writeFileSync(layout.blobPath(app.digest), 'damaged');
    await expect(pushBuild({ paths: home, build: one.digest, to: `${reg.host}/dmg:1` })).rejects.toMatchObject({
      code: 'store_corrupt',
    });
  });
});
