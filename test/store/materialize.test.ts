import {
  chmodSync,
  existsSync,
  lstatSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/build/build.js';
import type { BrrError } from '../../src/core/errors.js';
import type { HomePaths } from '../../src/core/home.js';
import { readManifest } from '../../src/store/image-read.js';
import { MARKER, materializeRelease, setCurrentLink } from '../../src/store/materialize.js';
import { TREE_FILE } from '../../src/store/release-tree.js';
import { OciLayout } from '../../src/store/oci-layout.js';
import { cleanupTempDirs, commitAll, sampleRepo, tempHome } from '../build/git-fixture.js';

afterAll(cleanupTempDirs);

let repo: string;
let commit: string;
let second: string;

beforeAll(() => {
  ({ repo } = sampleRepo());
  writeFileSync(path.join(repo, 'src/run.sh'), '#!/bin/sh\nexec node nf.mjs\n');
  chmodSync(path.join(repo, 'src/run.sh'), 0o755);
  commit = commitAll(repo, 'add run.sh');
  writeFileSync(path.join(repo, 'src/extra.txt'), 'v2\n');
  second = commitAll(repo, 'v2', '2024-07-01T00:00:00Z');
});

async function built(ref = commit): Promise<{ paths: HomePaths; digest: string; layout: OciLayout }> {
  const paths = tempHome();
  const { digest } = await buildImage({ paths, repo, ref });
  return { paths, digest, layout: new OciLayout(paths.oci) };
}

function modes(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (rel: string) => {
    for (const d of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, d.name);
      out[r] = lstatSync(path.join(dir, r)).mode & 0o7777;
      if (d.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

/** Past the file system's coarse clock tick, as any later edit by a person is. */
const tick = () => new Promise((r) => setTimeout(r, 25));

describe('materializeRelease', () => {
  it('extracts the image read-only, keeping the executable bit, and is idempotent', async () => {
    const { paths, digest } = await built();
    const dir = await materializeRelease(paths, 'udp', 'v1', digest);
    expect(dir).toBe(path.join(paths.releases, 'udp', 'v1'));
    const m = modes(dir);
    expect(m['run.sh']).toBe(0o555);
    expect(m['nf.mjs']).toBe(0o444);
    expect(m[MARKER]).toBe(0o444);
    expect(lstatSync(dir).mode & 0o777).toBe(0o555);
    for (const [f, mode] of Object.entries(m)) expect([0o444, 0o555], f).toContain(mode);
    expect(readFileSync(path.join(dir, MARKER), 'utf8')).toBe(`${digest}\n`);
    expect(await materializeRelease(paths, 'udp', 'v1', digest)).toBe(dir);
    expect(readdirSync(path.join(paths.releases, 'udp'))).toEqual(['v1']);
    expect(m[TREE_FILE]).toBe(0o444);
  });

  it('re-materializes an edited release directory from the verified store instead of running it', async () => {
    const { paths, digest } = await built();
    const dir = await materializeRelease(paths, 'udp', 'v1', digest);
    const file = path.join(dir, 'nf.mjs');
    const original = readFileSync(file, 'utf8');
    const ino = lstatSync(dir).ino;
    expect(await materializeRelease(paths, 'udp', 'v1', digest)).toBe(dir);
    expect(lstatSync(dir).ino).toBe(ino); // untouched: reused, not extracted again
    await tick();
    chmodSync(file, 0o644);
    writeFileSync(file, 'console.log("changed code")\n');
    chmodSync(file, 0o444); // the mode put back does not hide the edit
    expect(await materializeRelease(paths, 'udp', 'v1', digest)).toBe(dir);
    expect(readFileSync(file, 'utf8')).toBe(original);
    const aside = readdirSync(path.join(paths.releases, 'udp')).filter((n) => n.startsWith('.tampered-v1-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(path.join(paths.releases, 'udp', aside[0]!, 'nf.mjs'), 'utf8')).toContain('changed code');
  });

  it.each<[string, (dir: string) => void]>([
    ['a file added', (dir) => writeFileSync(path.join(dir, 'extra.js'), 'x')],
    ['the marker rewritten', (dir) => writeFileSync(path.join(dir, MARKER), readFileSync(path.join(dir, MARKER)))],
    ['the snapshot removed (a directory from an older brr)', (dir) => rmSync(path.join(dir, TREE_FILE))],
  ])('re-materializes a release directory with %s', async (_name, edit) => {
    const { paths, digest } = await built();
    const dir = await materializeRelease(paths, 'udp', 'v1', digest);
    await tick();
    chmodSync(dir, 0o755);
    chmodSync(path.join(dir, MARKER), 0o644);
    edit(dir);
    chmodSync(dir, 0o555);
    await materializeRelease(paths, 'udp', 'v1', digest);
    expect(existsSync(path.join(dir, 'extra.js'))).toBe(false);
    expect(existsSync(path.join(dir, TREE_FILE))).toBe(true);
    expect(readdirSync(path.join(paths.releases, 'udp')).filter((n) => n.startsWith('.tampered-'))).toHaveLength(1);
  });

  it('refuses to reuse a release directory that holds another build', async () => {
    const { paths, digest } = await built();
    const other = (await buildImage({ paths, repo, ref: second })).digest;
    await materializeRelease(paths, 'udp', 'v1', digest);
    await expect(materializeRelease(paths, 'udp', 'v1', other)).rejects.toMatchObject({ code: 'release_dir_conflict' });
  });

  it('refuses a damaged layer before extracting anything, with a rebuild hint', async () => {
    const { paths, digest, layout } = await built();
    const layer = (await readManifest(layout, digest)).layers[0]!;
    const file = layout.blobPath(layer.digest);
    const bytes = readFileSync(file);
    bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0xff;
    writeFileSync(file, bytes);
    const err = (await materializeRelease(paths, 'udp', 'v1', digest).catch((e: unknown) => e)) as BrrError;
    expect(err.code).toBe('store_corrupt');
    expect(err.message).toContain(layer.digest);
    expect(err.hint).toBe(`rebuild the image: brr build --ref ${commit} --no-cache`);
    expect(existsSync(path.join(paths.releases, 'udp')) ? readdirSync(path.join(paths.releases, 'udp')) : []).toEqual(
      [],
    );
    // The advertised fix works: a no-cache rebuild replaces the damaged blob.
    await buildImage({ paths, repo, ref: commit, noCache: true });
    expect(existsSync(await materializeRelease(paths, 'udp', 'v1', digest))).toBe(true);
  });

  it('refuses a missing config or manifest blob', async () => {
    const { paths, digest, layout } = await built();
    rmSync(layout.blobPath((await readManifest(layout, digest)).config.digest));
    await expect(materializeRelease(paths, 'udp', 'v1', digest)).rejects.toMatchObject({
      code: 'store_corrupt',
      details: { what: 'config', problem: 'missing' },
    });
    rmSync(layout.blobPath(digest));
    await expect(materializeRelease(paths, 'udp', 'v1', digest)).rejects.toMatchObject({
      code: 'store_corrupt',
      details: { what: 'manifest' },
    });
  });

  it('refuses names that would leave the releases directory', async () => {
    const { paths, digest } = await built();
    await expect(materializeRelease(paths, '../x', 'v1', digest)).rejects.toMatchObject({ code: 'app_invalid' });
    await expect(materializeRelease(paths, 'udp', '../v1', digest)).rejects.toMatchObject({
      code: 'release_id_invalid',
    });
  });
});

describe('setCurrentLink', () => {
  it('swaps releases/<app>/current between materialized releases', async () => {
    const { paths, digest } = await built();
    await materializeRelease(paths, 'udp', 'v1', digest);
    await materializeRelease(paths, 'udp', 'v2', digest);
    await setCurrentLink(paths, 'udp', 'v1');
    const current = path.join(paths.releases, 'udp', 'current');
    expect(readlinkSync(current)).toBe('v1');
    await setCurrentLink(paths, 'udp', 'v2');
    expect(readlinkSync(current)).toBe('v2');
    expect(existsSync(path.join(current, 'nf.mjs'))).toBe(true);
    expect(readdirSync(path.join(paths.releases, 'udp')).sort()).toEqual(['current', 'v1', 'v2']);
    await expect(setCurrentLink(paths, 'udp', 'v9')).rejects.toMatchObject({ code: 'release_not_materialized' });
    expect(readlinkSync(current)).toBe('v2');
  });
});
