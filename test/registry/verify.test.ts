import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/build/build.js';
import { importImage } from '../../src/registry/import.js';
import { pushBuild } from '../../src/registry/push-build.js';
import { readManifest } from '../../src/store/image-read.js';
import { OciLayout } from '../../src/store/oci-layout.js';
import { cleanupTempDirs, sampleRepo, tempHome } from '../build/git-fixture.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { missingTool } from '../helpers/tools.js';

/**
 * Every pulled byte is checked: the registry's own storage is tampered with on disk (a registry
 * serves what it stores without re-hashing it), and the pull refuses the data and keeps nothing.
 */

const skip = missingTool('docker-registry');

/** docker-registry's filesystem layout for a blob's bytes. */
function blobFile(reg: TestRegistry, digest: string): string {
  const hex = digest.slice(7);
  return path.join(reg.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

function flipLastByte(file: string): void {
  const b = readFileSync(file);
  b[b.length - 1] = b[b.length - 1]! ^ 0xff;
  writeFileSync(file, b);
}

describe.skipIf(!!skip)('pulls verify digests', () => {
  let reg: TestRegistry;
  let digest: string;
  let layer: string;
  beforeAll(async () => {
    reg = await startRegistry();
    const home = tempHome();
    const built = await buildImage({ paths: home, repo: sampleRepo().repo });
    digest = built.digest;
    layer = (await readManifest(new OciLayout(home.oci), digest)).layers[0]!.digest;
    await pushBuild({ paths: home, build: digest, to: `${reg.host}/nf:1` });
  });
  afterAll(async () => {
    await reg?.stop();
    cleanupTempDirs();
  });

  it('a layer altered in the registry is refused, and not kept in the store', async () => {
    expect(existsSync(blobFile(reg, layer))).toBe(true);
    flipLastByte(blobFile(reg, layer));
    const home = tempHome();
    await expect(importImage({ paths: home, ref: `${reg.host}/nf@${digest}` })).rejects.toMatchObject({
      code: 'registry_digest_mismatch',
    });
    const layout = new OciLayout(home.oci);
    expect(await layout.verifyBlob(layer)).toBe('missing');
    expect(await layout.listImages()).toEqual([]);
    flipLastByte(blobFile(reg, layer));
    expect((await importImage({ paths: home, ref: `${reg.host}/nf@${digest}` })).digest).toBe(digest);
  });

  it('a manifest altered in the registry does not match the digest asked for', async () => {
    const file = blobFile(reg, digest);
    const original = readFileSync(file, 'utf8');
    // Still valid JSON (the registry parses it before serving): one size digit changed.
    writeFileSync(
      file,
      original.replace(/"size":(\d)/, (_m, d: string) => `"size":${(Number(d) + 1) % 10}`),
    );
    try {
      await expect(importImage({ paths: tempHome(), ref: `${reg.host}/nf@${digest}` })).rejects.toMatchObject({
        code: 'registry_digest_mismatch',
      });
    } finally {
      writeFileSync(file, original);
    }
  });
});
