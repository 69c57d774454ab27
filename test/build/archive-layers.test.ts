import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { checkoutNeeded } from '../../src/build/archive-layers.js';
import { buildImage, type BuildOptions } from '../../src/build/build.js';
import { parseManifest } from '../../src/manifest/load.js';
import { readManifest } from '../../src/store/image-read.js';
import { OciLayout } from '../../src/store/oci-layout.js';
import { BLOCK, decodeHeader, parsePax } from '../../src/store/tar-header.js';
import { GZIP_PIECE } from '../../src/store/tar.js';
import { cleanupTempDirs, commitAll, git, tempDir, tempHome } from './git-fixture.js';

/**
 * Builds without a build command pack their layers straight from `git archive`
 * (src/build/archive-layers.ts). Each case builds one commit that way and through a checkout on
 * disk (`viaCheckout`, the path every build took before) in fresh homes, and the image digests
 * must be equal: same layer bytes, same config, same manifest. Trees the fast path does not
 * handle must say so and still give the checkout's digest (or its error).
 */

afterAll(cleanupTempDirs);

type Progress = string[];

async function build(repo: string, extra: Partial<BuildOptions> = {}): Promise<{ digest: string; log: Progress }> {
  const log: Progress = [];
  const r = await buildImage({ paths: tempHome(), repo, progress: (l) => log.push(l), ...extra });
  return { digest: r.digest, log };
}

/** Both ways; returns the fast build's digest and progress lines, after checking the digests agree. */
async function both(repo: string, extra: Partial<BuildOptions> = {}) {
  const fast = await build(repo, extra);
  const slow = await build(repo, { ...extra, viaCheckout: true });
  expect(slow.log.some((l) => l.startsWith('checkout '))).toBe(true);
  expect(fast.digest).toBe(slow.digest);
  return fast;
}

const packedFast = (log: Progress) =>
  log.some((l) => l.startsWith('archive ')) && !log.some((l) => l.startsWith('checkout '));

/** Names, types and modes of each layer of an image, from the stored blobs. */
function layerEntries(home: string, layers: Array<{ digest: string }>) {
  const layout = new OciLayout(path.join(home, 'oci'));
  return layers.map((l) => {
    const tar = gunzipSync(readFileSync(layout.blobPath(l.digest)));
    const out: Array<{ name: string; flag: string; mode: number; linkname: string; size: number }> = [];
    let pax: Record<string, string> = {};
    for (let at = 0; at + BLOCK <= tar.length;) {
      const h = decodeHeader(tar.subarray(at, at + BLOCK));
      if (!h) break;
      const body = tar.subarray(at + BLOCK, at + BLOCK + h.size);
      at += BLOCK + Math.ceil(h.size / BLOCK) * BLOCK;
      if (h.flag === 'x') {
        pax = parsePax(body);
        continue;
      }
      out.push({
        name: pax.path ?? h.name,
        flag: h.flag,
        mode: h.mode,
        linkname: pax.linkpath ?? h.linkname,
        size: h.size,
      });
      pax = {};
    }
    return out;
  });
}

/** Pseudo-random bytes (a hash chain): the same every run, incompressible. */
function noise(bytes: number, seed: string): Buffer {
  const chunks: Buffer[] = [];
  let h = Buffer.from(seed);
  for (let n = 0; n < bytes; n += 32) chunks.push((h = createHash('sha256').update(h).digest()));
  return Buffer.concat(chunks).subarray(0, bytes);
}

function write(repo: string, file: string, data: string | Buffer, mode?: number): void {
  mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
  writeFileSync(path.join(repo, file), data);
  if (mode !== undefined) chmodSync(path.join(repo, file), mode);
}

function link(repo: string, file: string, target: string): void {
  mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
  symlinkSync(target, path.join(repo, file));
}

const LONG_DIR = Array.from({ length: 14 }, (_, i) => `level-${i}`).join('/'); // > 100 bytes
const LONG_NAME = `${'n'.repeat(150)}.js`;

/** An app whose node_modules has every kind of entry that makes tar headers interesting. */
function trickyRepo(yamlBuild = '', root = ''): string {
  const repo = tempDir('repo');
  git(repo, ['init', '-q']);
  const at = (f: string) => (root ? `${root}/${f}` : f);
  write(repo, at('brr.yaml'), `app: tricky\n${yamlBuild}processes:\n  web: { command: "node server.js" }\n`);
  write(repo, at('server.js'), 'console.log("v1");\n');
  write(repo, at('bin/start'), '#!/bin/sh\nexec node server.js\n', 0o755);
  write(repo, at('empty.txt'), '');
  link(repo, at('main.js'), 'server.js');
  link(repo, at('dep.js'), 'node_modules/dep/index.js'); // into a split directory, from the app layer
  // Names sorting around "/" ('!' and '-' and '.' come before it, '0' after).
  for (const n of ['a!', 'a-b', 'a.b', 'a0', 'a/x']) write(repo, at(`sort/${n}`), `${n}\n`);
  const nm = (f: string) => at(`node_modules/${f}`);
  write(repo, nm('dep/index.js'), 'module.exports = 1;\n');
  write(repo, nm('dep/cli.js'), '#!/usr/bin/env node\n', 0o755);
  link(repo, nm('.bin/dep'), '../dep/cli.js');
  write(repo, nm('dep/big.bin'), noise(GZIP_PIECE + 300_000, 'big')); // streamed in pieces, over one gzip piece
  write(repo, nm(`deep/${LONG_DIR}/file.js`), 'deep\n'); // PAX path
  write(repo, nm(`long/${LONG_NAME}`), 'long name\n');
  link(repo, nm(`long/link-${'l'.repeat(40)}`), `${LONG_NAME}`); // PAX linkpath
  write(repo, nm('ünïcödé/日本語.js'), 'unicode\n');
  write(repo, nm('ünïcödé/naïve café.js'), 'spaces\n');
  write(repo, nm('emoji/😀.js'), 'astral\n');
  write(repo, nm('dep/.hidden'), 'dot\n');
  for (let i = 0; i < 40; i++) write(repo, nm(`many/p${i}/index.js`), `module.exports = ${i};\n`);
  commitAll(repo, 'tricky');
  return repo;
}

describe('packing straight from git archive', () => {
  it('gives the checkout path digest for a tree of symlinks, exec bits, unicode, long names and big files', async () => {
    const repo = trickyRepo();
    const home = tempHome();
    const log: Progress = [];
    const r = await buildImage({ paths: home, repo, progress: (l) => log.push(l) });
    expect(packedFast(log)).toBe(true);
    const slow = await build(repo, { viaCheckout: true });
    expect(r.digest).toBe(slow.digest);
    // Not vacuous: the layers hold what the tree holds, split as expected.
    const m = await readManifest(new OciLayout(home.oci), r.digest);
    const [deps, app] = layerEntries(home.root, m.layers);
    expect(m.layers.map((l) => l.annotations?.['dev.brr.layer'])).toEqual(['node_modules', 'app']);
    const names = deps!.map((e) => e.name);
    expect(names[0]).toBe('app/node_modules/');
    expect(names).toContain(`app/node_modules/deep/${LONG_DIR}/file.js`);
    expect(names).toContain('app/node_modules/ünïcödé/日本語.js');
    expect(names).toContain('app/node_modules/emoji/😀.js');
    expect(deps!.find((e) => e.name === 'app/node_modules/.bin/dep')).toMatchObject({
      flag: '2',
      linkname: '../dep/cli.js',
    });
    expect(deps!.find((e) => e.name === 'app/node_modules/dep/cli.js')?.mode).toBe(0o755);
    expect(deps!.find((e) => e.name === 'app/node_modules/dep/index.js')?.mode).toBe(0o644);
    expect(deps!.find((e) => e.name.endsWith('big.bin'))?.size).toBe(GZIP_PIECE + 300_000);
    expect([...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(names);
    expect(app!.map((e) => e.name)).toEqual([
      'app/',
      'app/bin/',
      'app/bin/start',
      'app/brr.yaml',
      'app/dep.js',
      'app/empty.txt',
      'app/main.js',
      'app/server.js',
      'app/sort/',
      'app/sort/a!',
      'app/sort/a-b',
      'app/sort/a.b',
      'app/sort/a/',
      'app/sort/a/x',
      'app/sort/a0',
    ]);
  });

  it('a code-only rebuild (node_modules reused, left out of the archive) gives the checkout full build digest', async () => {
    const repo = trickyRepo();
    const home = tempHome();
    await buildImage({ paths: home, repo });
    write(repo, 'server.js', 'console.log("v2");\n');
    commitAll(repo, 'v2', '2024-05-07T07:08:09Z');
    const log: Progress = [];
    const two = await buildImage({ paths: home, repo, progress: (l) => log.push(l) });
    expect(packedFast(log)).toBe(true);
    expect(log.some((l) => l.startsWith('node_modules: layer ') && l.endsWith('reused (same git tree)'))).toBe(true);
    expect(two.digest).toBe((await build(repo, { viaCheckout: true })).digest);
  });

  it('honours .gitattributes export-ignore and text conversion as the checkout does', async () => {
    const repo = trickyRepo();
    write(
      repo,
      '.gitattributes',
      'secret.txt export-ignore\nnode_modules/dep/.hidden export-ignore\n*.crlf text eol=crlf\n',
    );
    write(repo, 'secret.txt', 'not in the image\n');
    write(repo, 'notes.crlf', 'one\ntwo\n');
    commitAll(repo, 'attributes');
    const home = tempHome();
    const log: Progress = [];
    const r = await buildImage({ paths: home, repo, progress: (l) => log.push(l) });
    expect(packedFast(log)).toBe(true);
    expect(r.digest).toBe((await build(repo, { viaCheckout: true })).digest);
    const m = await readManifest(new OciLayout(home.oci), r.digest);
    const [deps, app] = layerEntries(home.root, m.layers);
    expect(app!.map((e) => e.name)).not.toContain('app/secret.txt');
    expect(deps!.map((e) => e.name)).not.toContain('app/node_modules/dep/.hidden');
    expect(app!.find((e) => e.name === 'app/notes.crlf')?.size).toBe('one\r\ntwo\r\n'.length);
  });

  it('builds a subdirectory with a build.output below it, leaving the rest out', async () => {
    const repo = trickyRepo('build:\n  output: public\n', 'svc');
    write(repo, 'svc/public/index.html', '<p>hi</p>\n');
    git(repo, ['mv', 'svc/node_modules', 'svc/public/node_modules']);
    git(repo, ['mv', 'svc/server.js', 'svc/public/server.js']);
    write(repo, 'README.md', 'a monorepo\n');
    commitAll(repo, 'public');
    const fast = await both(repo, { path: 'svc' });
    expect(packedFast(fast.log)).toBe(true);
  });

  it('splits nested build.layers in the order brr.yaml gives, and keeps one layer with build.layers: []', async () => {
    const repo = trickyRepo('build:\n  layers: [vendor/lib, vendor, node_modules]\n');
    write(repo, 'vendor/lib/a.js', 'a\n');
    write(repo, 'vendor/other.js', 'o\n');
    write(repo, 'vendor/lib-not-it.js', 'n\n');
    commitAll(repo, 'vendor');
    const fast = await both(repo);
    expect(packedFast(fast.log)).toBe(true);
    write(repo, 'brr.yaml', 'app: tricky\nbuild:\n  layers: []\nprocesses:\n  web: { command: "node server.js" }\n');
    commitAll(repo, 'one layer');
    const one = await both(repo);
    expect(packedFast(one.log)).toBe(true);
  });

  it('a node_modules symlink pointing out of it goes the checkout way (kept in the app layer), same digest', async () => {
    const repo = trickyRepo();
    link(repo, 'node_modules/escape.js', '../server.js');
    commitAll(repo, 'escape');
    const fast = await both(repo);
    expect(fast.log.some((l) => l.startsWith('packing from a checkout: symlink "node_modules/escape.js"'))).toBe(true);
    expect(fast.log).toContain('node_modules: kept in the app layer (it has symlinks pointing out of it)');
  });

  it('names the checkout order cannot follow (U+FFFF-range against astral) go the checkout way, same digest', async () => {
    const repo = trickyRepo();
    write(repo, 'node_modules/order/\u{e000}.js', 'private use\n');
    write(repo, 'node_modules/order/\u{1f600}.js', 'astral\n');
    // More than a pipe holds after the point where packing gives up: git must not be left hanging.
    write(repo, 'node_modules/zz/after.bin', noise(4 << 20, 'after'));
    commitAll(repo, 'order');
    const fast = await both(repo);
    expect(fast.log.some((l) => l.startsWith('packing from a checkout:') && l.includes('out of the order'))).toBe(true);
  });

  it('a submodule goes the checkout way (which exports it), same digest', async () => {
    const lib = tempDir('lib');
    git(lib, ['init', '-q']);
    write(lib, 'lib.js', 'v1\n');
    commitAll(lib, 'lib');
    const repo = trickyRepo();
    git(repo, ['-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', lib, 'vendor/lib']);
    commitAll(repo, 'add submodule');
    const fast = await both(repo);
    expect(fast.log.some((l) => l.startsWith('packing from a checkout:') && l.includes('empty directory'))).toBe(true);
  });

  it('an absolute symlink fails the same way on both paths', async () => {
    const repo = trickyRepo();
    link(repo, 'host', '/etc/hostname');
    commitAll(repo, 'absolute');
    for (const viaCheckout of [false, true]) {
      await expect(buildImage({ paths: tempHome(), repo, viaCheckout })).rejects.toMatchObject({
        code: 'repo_symlink_outside',
      });
    }
  });

  it('a brr.yaml without processes fails the same way on both paths; a Procfile read from the archive fills them', async () => {
    const repo = trickyRepo();
    write(repo, 'brr.yaml', 'app: tricky\n');
    commitAll(repo, 'no processes');
    for (const viaCheckout of [false, true]) {
      await expect(buildImage({ paths: tempHome(), repo, viaCheckout })).rejects.toMatchObject({
        code: 'manifest_no_processes',
      });
    }
    write(repo, 'Procfile', 'web: node server.js\n');
    commitAll(repo, 'procfile');
    const fast = await both(repo);
    expect(packedFast(fast.log)).toBe(true);
  });

  it('checkoutNeeded sends build commands, Dockerfiles, inits and odd paths to the checkout', () => {
    const m = (y: string) => parseManifest(`app: a\n${y}processes:\n  web: { command: x }\n`);
    expect(checkoutNeeded(m(''))).toBeNull();
    expect(checkoutNeeded(m('build:\n  output: dist/\n'))).toBeNull();
    expect(checkoutNeeded(null)).toContain('no brr.yaml');
    expect(checkoutNeeded(m('build:\n  command: make\n'))).toContain('build.command');
    expect(checkoutNeeded(m('build:\n  dockerfile: Dockerfile\n'))).toContain('Dockerfile');
    expect(checkoutNeeded(m('build:\n  image:\n    init: /usr/bin/tini\n'))).toContain('init');
    // The schema normalizes build.layers; a manifest made some other way is checked anyway.
    const odd = m('');
    expect(checkoutNeeded({ ...odd, build: { ...odd.build, layers: ['./vendor'] } })).toContain('./vendor');
    expect(checkoutNeeded({ ...odd, build: { ...odd.build, output: '../up' } })).toContain('build.output');
  });
});
