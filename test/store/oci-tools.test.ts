import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, type BuildResult } from '../../src/build/build.js';
import type { HomePaths } from '../../src/core/home.js';
import { goArch } from '../../src/store/image.js';
import { missingTool } from '../helpers/tools.js';
import { cleanupTempDirs, sampleRepo, tempDir, tempHome } from '../build/git-fixture.js';

/** The store is a real OCI image layout: the standard tools must read what brr writes. */

afterAll(cleanupTempDirs);

const noSkopeo = missingTool('skopeo');
const noUmoci = missingTool('umoci');

let paths: HomePaths;
let build: BuildResult;

beforeAll(async () => {
  paths = tempHome();
  build = await buildImage({ paths, repo: sampleRepo().repo });
});

describe('the OCI layout under standard tools', () => {
  it.skipIf(!!noSkopeo)('skopeo inspect sees the digest, labels and platform', () => {
    const out = JSON.parse(
      execFileSync('skopeo', ['inspect', `oci:${paths.oci}:${build.record.ref}`], { encoding: 'utf8' }),
    ) as {
      Digest: string;
      Labels: Record<string, string>;
      Architecture: string;
      Os: string;
      Created: string;
      Layers: string[];
    };
    expect(out.Digest).toBe(build.digest);
    expect(out.Labels['org.opencontainers.image.revision']).toBe(build.commit);
    expect(out.Labels['dev.brr.app']).toBe('udp-counter');
    expect(JSON.parse(out.Labels['dev.brr.manifest']!)).toEqual(build.record.processes);
    expect(out.Architecture).toBe(goArch());
    expect(out.Os).toBe('linux');
    expect(out.Created).toBe('2024-05-06T07:08:09Z');
    expect(out.Layers).toHaveLength(1);
  });

  it.skipIf(!!noSkopeo)('skopeo copy verifies every blob and keeps the digest', () => {
    const dest = path.join(tempDir('skopeo'), 'img');
    execFileSync('skopeo', ['copy', '--quiet', `oci:${paths.oci}:${build.record.ref}`, `dir:${dest}`]);
    const manifest = readFileSync(path.join(dest, 'manifest.json'));
    expect(`sha256:${createHash('sha256').update(manifest).digest('hex')}`).toBe(build.digest);
    expect(readdirSync(dest).length).toBeGreaterThanOrEqual(4); // manifest, config, layer, version
  });

  it.skipIf(!!noUmoci)('umoci unpacks the image with the app under /app', () => {
    const bundle = path.join(tempDir('umoci'), 'bundle');
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${paths.oci}:${build.record.ref}`, bundle], {
      stdio: 'pipe',
    });
    expect(existsSync(path.join(bundle, 'rootfs/app/nf.mjs'))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(bundle, 'rootfs/app/build-info.json'), 'utf8')).builtFrom).toBe(
      '2024-05-06T07:08:09.000Z',
    );
    const config = JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8')) as { process: { cwd: string } };
    expect(config.process.cwd).toBe('/app');
  });

  it.skipIf(!!noUmoci)('umoci stat lists the layer history of the ref', () => {
    const out = execFileSync('umoci', ['stat', '--json', '--image', `${paths.oci}:${build.record.ref}`], {
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toHaveProperty('history');
  });
});
