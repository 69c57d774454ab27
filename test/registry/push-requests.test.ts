import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/build/build.js';
import { pullImage } from '../../src/registry/pull.js';
import { RegistryClient } from '../../src/registry/client.js';
import { httpTransport, type Transport } from '../../src/registry/http.js';
import { importImage } from '../../src/registry/import.js';
import { pushBuild } from '../../src/registry/push-build.js';
import { SMALL_BLOB } from '../../src/registry/push.js';
import { hostPlatform } from '../../src/registry/media-types.js';
import { readManifest } from '../../src/store/image-read.js';
import { OciLayout, type Descriptor } from '../../src/store/oci-layout.js';
import { cleanupTempDirs, commitAll, git, tempDir, tempHome } from '../build/git-fixture.js';
import { skopeoInspect, skopeoRaw, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { missingTool } from '../helpers/tools.js';

/**
 * What a push says to the registry, request by request (a counting wrapper around the real
 * transport, against a real docker-registry): a build never pushed to a repository goes straight
 * to its blobs, a manifest the registry has costs no blob question, small blobs are sent without
 * a HEAD, large ones are asked about, blobs the store knows are in another repository are mounted
 * from there (one POST, no bytes), a failed mount falls back to an upload, a damaged blob is
 * refused, and what lands in the registry is the local image, byte for byte.
 */

const skip = missingTool('docker-registry') ?? missingTool('skopeo');

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

    // Never pushed here: no manifest question, a HEAD for the large layer only, POST + PUT each.
    const first = counting();
    const r1 = await pushBuild({ paths: home, build: one.digest, to: `${reg.host}/api:1`, transport: first.transport });
    expect(r1).toMatchObject({ blobsPushed: 3, blobsSkipped: 0, blobsMounted: 0 });
    expect(first.log.filter((l) => l === 'HEAD manifest')).toHaveLength(0);
    expect(first.log.filter((l) => l === 'HEAD blob')).toHaveLength(1); // only the large layer
    expect(first.log.filter((l) => l === 'POST upload')).toHaveLength(3);
    expect(first.log.filter((l) => l === 'PUT upload')).toHaveLength(3); // one monolithic PUT each
    expect(first.log[first.log.length - 1]).toBe('PUT manifest');

    // The same manifest again (a new tag): one HEAD, one PUT, no blob traffic.
    const again = counting();
    const r2 = await pushBuild({
      paths: home,
      build: one.digest,
      to: `${reg.host}/api:again`,
      transport: again.transport,
    });
    expect(again.log).toEqual(['HEAD manifest', 'PUT manifest']);
    expect(r2).toMatchObject({ blobsPushed: 0, blobsSkipped: 3 });

    // A code-only commit: the large layer is asked about and skipped, the small ones are sent.
    writeFileSync(path.join(repo, 'server.js'), 'console.log("v2");\n');
    commitAll(repo, 'v2', '2024-05-07T07:08:09Z');
    const two = await buildImage({ paths: home, repo });
    const code = counting();
    const r3 = await pushBuild({ paths: home, build: two.digest, to: `${reg.host}/api:2`, transport: code.transport });
    expect(r3).toMatchObject({ blobsPushed: 2, blobsSkipped: 1, blobsMounted: 0 });
    expect(code.log.filter((l) => l === 'HEAD blob')).toHaveLength(1);
    expect(code.log.filter((l) => l === 'HEAD manifest')).toHaveLength(0);

    // What the registry holds is the local image: pulled into a fresh home, same digest and blobs.
    const other = new OciLayout(tempHome().oci);
    await other.init();
    const client = await RegistryClient.open({
      ref: { registry: reg.host, repository: 'api', scheme: 'http' },
      actions: ['pull'],
      credentials: null,
    });
    const pulled = await pullImage(client, other, '2', hostPlatform());
    client.close();
    expect(pulled.digest).toBe(two.digest);
    const m2 = await readManifest(layout, two.digest);
    for (const d of [m2.config, ...m2.layers])
      expect(readFileSync(other.blobPath(d.digest)).equals(readFileSync(layout.blobPath(d.digest)))).toBe(true);

    // Another repository of the same registry: every blob is mounted from api (no blob bytes).
    const moved = counting();
    const r4 = await pushBuild({
      paths: home,
      build: two.digest,
      to: `${reg.host}/team/api:2`,
      transport: moved.transport,
    });
    expect(moved.log).toEqual(['POST mount', 'POST mount', 'POST mount', 'PUT manifest']);
    expect(r4).toMatchObject({ blobsPushed: 0, blobsSkipped: 3, blobsMounted: 3 });
    expect(r4.bytesSent).toBe(readFileSync(layout.blobPath(two.digest)).length);
    expect(skopeoRaw(`${reg.host}/team/api:2`)).toBe(readFileSync(layout.blobPath(two.digest), 'utf8'));
  });

  it('a pulled image is pushed to another repository of its registry by mounting its blobs', async () => {
    const home = tempHome();
    const one = await buildImage({ paths: home, repo: appRepo() });
    await pushBuild({ paths: home, build: one.digest, to: `${reg.host}/origin:1` });
    const other = tempHome();
    const pulled = await importImage({ paths: other, ref: `${reg.host}/origin:1` });
    expect(pulled.digest).toBe(one.digest);
    const log = counting();
    const r = await pushBuild({
      paths: other,
      build: one.digest,
      to: `${reg.host}/mirror:1`,
      transport: log.transport,
    });
    expect(r).toMatchObject({ blobsPushed: 0, blobsMounted: 3 });
    expect(log.log).toEqual(['POST mount', 'POST mount', 'POST mount', 'PUT manifest']);
  });

  it('uploads a blob the registry cannot mount from the repository recorded for it', async () => {
    const home = tempHome();
    const repo = appRepo();
    const one = await buildImage({ paths: home, repo });
    await pushBuild({ paths: home, build: one.digest, to: `${reg.host}/gone:1` });
    // The source repository loses its large layer (deleted on the registry): the mount POST is
    // answered with an upload session, and the blob is sent through it.
    const big = (await readManifest(new OciLayout(home.oci), one.digest)).layers[0]!;
    const del = await fetch(`http://${reg.host}/v2/gone/blobs/${big.digest}`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    const log = counting();
    const r = await pushBuild({ paths: home, build: one.digest, to: `${reg.host}/kept:1`, transport: log.transport });
    expect(r).toMatchObject({ blobsPushed: 1, blobsSkipped: 2, blobsMounted: 2 });
    expect(log.log.filter((l) => l === 'POST mount')).toHaveLength(3);
    expect(log.log.filter((l) => l === 'POST upload')).toHaveLength(0);
    expect(log.log.filter((l) => l === 'PUT upload')).toHaveLength(1);
    expect(r.bytesSent).toBeGreaterThan(big.size);
    expect(skopeoInspect(`${reg.host}/kept:1`).Digest).toBe(one.digest);
  });

  it('refuses to push a damaged blob it would send, small or large, and the registry never gets it', async () => {
    const home = tempHome();
    const repo = appRepo();
    const layout = new OciLayout(home.oci);
    const one = await buildImage({ paths: home, repo });
    const [big, app] = (await readManifest(layout, one.digest)).layers as [Descriptor, Descriptor];
    writeFileSync(layout.blobPath(app.digest), 'damaged');
    await expect(pushBuild({ paths: home, build: one.digest, to: `${reg.host}/dmg:1` })).rejects.toMatchObject({
      code: 'store_corrupt',
    });
    // The large layer keeps its size and loses one byte: found while it is being sent.
    const home2 = tempHome();
    const two = await buildImage({ paths: home2, repo });
    const layout2 = new OciLayout(home2.oci);
    const bytes = readFileSync(layout2.blobPath(big.digest));
    const mid = bytes.length >> 1;
    bytes[mid] = bytes[mid]! ^ 0xff;
    writeFileSync(layout2.blobPath(big.digest), bytes);
    await expect(pushBuild({ paths: home2, build: two.digest, to: `${reg.host}/dmg2:1` })).rejects.toMatchObject({
      code: 'store_corrupt',
    });
    const head = await fetch(`http://${reg.host}/v2/dmg2/blobs/${big.digest}`, { method: 'HEAD' });
    expect(head.status).toBe(404);
  });
});
