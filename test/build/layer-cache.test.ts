import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/build/build.js';
import { layerKey, splitDirsOf } from '../../src/build/layer-cache.js';
import { parseManifest } from '../../src/manifest/load.js';
import { readManifest } from '../../src/store/image-read.js';
import { OciLayout } from '../../src/store/oci-layout.js';
import { cleanupTempDirs, commitAll, git, tempDir, tempHome } from './git-fixture.js';

/**
 * The dependency-layer cache (src/build/layer-cache.ts): a code-only commit reuses the stored
 * node_modules blob without reading or compressing it, and the image digest is the one a full
 * build in a fresh home gives. A build command that touches node_modules, or a changed
 * .gitattributes, falls back to packing.
 */

function depsRepo(build = ''): string {
  const repo = tempDir('repo');
  git(repo, ['init', '-q']);
  writeFileSync(path.join(repo, 'brr.yaml'), `app: api\n${build}processes:\n  web: { command: "node server.js" }\n`);
  writeFileSync(path.join(repo, 'server.js'), 'console.log("v1");\n');
  mkdirSync(path.join(repo, 'lib', 'deep'), { recursive: true });
  writeFileSync(path.join(repo, 'lib', 'deep', 'util.js'), 'module.exports = 2;\n');
  mkdirSync(path.join(repo, 'node_modules', 'dep', 'bin'), { recursive: true });
  const chunks: Buffer[] = [];
  let h = Buffer.from('seed');
  for (let i = 0; i < 4096; i++) chunks.push((h = createHash('sha256').update(h).digest()));
  writeFileSync(path.join(repo, 'node_modules', 'dep', 'blob.bin'), Buffer.concat(chunks));
  writeFileSync(path.join(repo, 'node_modules', 'dep', 'index.js'), 'module.exports = 1;\n');
  writeFileSync(path.join(repo, 'node_modules', 'dep', 'bin', 'run'), '#!/bin/sh\n', { mode: 0o755 });
  commitAll(repo, 'v1');
  return repo;
}

function codeChange(repo: string, v: string): void {
  writeFileSync(path.join(repo, 'server.js'), `console.log("${v}");\n`);
  commitAll(repo, v, '2024-05-07T07:08:09Z');
}

/** Overwrites a stored blob with garbage of the same size: any read of it would notice. */
function spoil(layout: OciLayout, digest: string): Buffer {
  const file = layout.blobPath(digest);
  const good = readFileSync(file);
  writeFileSync(file, Buffer.alloc(good.length, 0x5a));
  return good;
}

async function lines(fn: (p: (l: string) => void) => Promise<unknown>): Promise<string[]> {
  const out: string[] = [];
  await fn((l) => out.push(l));
  return out;
}

afterAll(() => cleanupTempDirs());

describe('dependency-layer cache', () => {
  it('a code-only rebuild reuses the node_modules blob unread and gives the full build digest', async () => {
    const home = tempHome();
    const layout = new OciLayout(home.oci);
    const repo = depsRepo();
    const one = await buildImage({ paths: home, repo });
    const depDigest = (await readManifest(layout, one.digest)).layers[0]!.digest;
    codeChange(repo, 'v2');
    const good = spoil(layout, depDigest);
    let two!: Awaited<ReturnType<typeof buildImage>>;
    const log = await lines(async (progress) => (two = await buildImage({ paths: home, repo, progress })));
    expect(log.some((l) => l.includes('node_modules: layer') && l.includes('reused'))).toBe(true);
    // Neither verified nor rewritten: the garbage is still there.
    expect(readFileSync(layout.blobPath(depDigest)).equals(good)).toBe(false);
    writeFileSync(layout.blobPath(depDigest), good);

    const fresh = await buildImage({ paths: tempHome(), repo });
    expect(two.digest).toBe(fresh.digest);
    expect((await readManifest(layout, two.digest)).layers[0]!.digest).toBe(depDigest);
  });

  it('--no-cache packs the dependencies again (same digest)', async () => {
    const home = tempHome();
    const repo = depsRepo();
    await buildImage({ paths: home, repo });
    codeChange(repo, 'v2');
    const log = await lines((progress) => buildImage({ paths: home, repo, noCache: true, progress }));
    expect(log.some((l) => l.includes('reused'))).toBe(false);
  });

  it('a build command that leaves node_modules alone still reuses it', async () => {
    const home = tempHome();
    const repo = depsRepo('build:\n  command: "echo built > built.txt"\n');
    await buildImage({ paths: home, repo });
    codeChange(repo, 'v2');
    let two!: Awaited<ReturnType<typeof buildImage>>;
    const log = await lines(async (progress) => (two = await buildImage({ paths: home, repo, progress })));
    expect(log.some((l) => l.includes('reused'))).toBe(true);
    expect(two.digest).toBe((await buildImage({ paths: tempHome(), repo })).digest);
  });

  it.each([
    ['appends to a file', 'echo x >> node_modules/dep/index.js'],
    ['adds a file', 'touch node_modules/dep/new.js'],
    ['removes a file', 'rm node_modules/dep/index.js'],
    ['chmods a file', 'chmod +x node_modules/dep/index.js'],
  ])('a build command that %s packs node_modules again', async (_what, cmd) => {
    const home = tempHome();
    const repo = depsRepo(`build:\n  command: "${cmd}"\n`);
    const one = await buildImage({ paths: home, repo });
    codeChange(repo, 'v2');
    let two!: Awaited<ReturnType<typeof buildImage>>;
    const log = await lines(async (progress) => (two = await buildImage({ paths: home, repo, progress })));
    expect(log.some((l) => l.includes('reused'))).toBe(false);
    expect(log.some((l) => l.includes('changed by build.command'))).toBe(true);
    expect(two.digest).toBe((await buildImage({ paths: tempHome(), repo })).digest);
    expect(two.digest).not.toBe(one.digest);
  });

  it('a changed .gitattributes above node_modules is a new key', async () => {
    const home = tempHome();
    const repo = depsRepo();
    await buildImage({ paths: home, repo });
    writeFileSync(path.join(repo, '.gitattributes'), 'node_modules/dep/index.js export-ignore\n');
    commitAll(repo, 'attrs', '2024-05-07T07:08:09Z');
    let two!: Awaited<ReturnType<typeof buildImage>>;
    const log = await lines(async (progress) => (two = await buildImage({ paths: home, repo, progress })));
    expect(log.some((l) => l.includes('reused'))).toBe(false);
    expect(two.digest).toBe((await buildImage({ paths: tempHome(), repo })).digest);
  });

  it('a build output below the root reuses output/node_modules', async () => {
    const home = tempHome();
    const repo = depsRepo('build:\n  output: srv\n');
    mkdirSync(path.join(repo, 'srv'));
    writeFileSync(path.join(repo, 'srv', 'x.js'), '1\n');
    git(repo, ['mv', 'node_modules', 'srv/node_modules']);
    commitAll(repo, 'move');
    await buildImage({ paths: home, repo });
    appendFileSync(path.join(repo, 'srv', 'x.js'), '2\n');
    commitAll(repo, 'v2', '2024-05-07T07:08:09Z');
    let two!: Awaited<ReturnType<typeof buildImage>>;
    const log = await lines(async (progress) => (two = await buildImage({ paths: home, repo, progress })));
    expect(log.some((l) => l.includes('reused'))).toBe(true);
    expect(two.digest).toBe((await buildImage({ paths: tempHome(), repo })).digest);
  });

  it('keys and split lists', () => {
    const k = layerKey({ tree: 'a'.repeat(40), prefix: 'app/node_modules', archive: 'x' });
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(layerKey({ tree: 'a'.repeat(40), prefix: 'app/vendor', archive: 'x' })).not.toBe(k);
    expect(layerKey({ tree: 'a'.repeat(40), prefix: 'app/node_modules', archive: 'y' })).not.toBe(k);
    const m = (layers: string) =>
      parseManifest(`app: a\nbuild:\n  layers: ${layers}\nprocesses:\n  web: { command: "x" }\n`);
    expect(splitDirsOf(m('[node_modules]'))).toEqual([{ dir: 'node_modules', sound: true }]);
    // vendor/a is moved out before vendor is packed: vendor's tree id is not its layer.
    expect(splitDirsOf(m('[vendor/a, vendor]'))).toEqual([
      { dir: 'vendor/a', sound: true },
      { dir: 'vendor', sound: false },
    ]);
    expect(splitDirsOf(m('[vendor, vendor/a]'))).toEqual([{ dir: 'vendor', sound: true }]);
  });
});
