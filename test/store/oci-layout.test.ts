import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Digest } from '../../src/core/canonical-json.js';
import { withFileLock } from '../../src/store/file-lock.js';
import { ANNOTATIONS, MEDIA_TYPES, OciLayout } from '../../src/store/oci-layout.js';
import { cleanupTempDirs, tempDir } from '../build/git-fixture.js';
import { compileForChild } from './compile-for-child.js';

afterAll(cleanupTempDirs);

async function freshLayout(): Promise<OciLayout> {
  const layout = new OciLayout(path.join(tempDir('oci'), 'oci'));
  await layout.init();
  return layout;
}

const entry = (digest: string, ref: string) => ({
  mediaType: MEDIA_TYPES.manifest,
  digest,
  size: 1,
  annotations: { [ANNOTATIONS.refName]: ref },
});

describe('OciLayout', () => {
  it('initializes oci-layout and an empty index.json', async () => {
    const layout = await freshLayout();
    expect(JSON.parse(readFileSync(path.join(layout.root, 'oci-layout'), 'utf8'))).toEqual({
      imageLayoutVersion: '1.0.0',
    });
    expect(JSON.parse(readFileSync(path.join(layout.root, 'index.json'), 'utf8'))).toMatchObject({
      schemaVersion: 2,
      manifests: [],
    });
    await layout.init(); // idempotent
    expect(await layout.listImages()).toEqual([]);
  });

  it('stores blobs by digest, idempotently, and verifies them', async () => {
    const layout = await freshLayout();
    const d = await layout.putBlob('hello', MEDIA_TYPES.config);
    expect(d).toEqual({ mediaType: MEDIA_TYPES.config, digest: sha256Digest('hello'), size: 5 });
    expect(await layout.putBlob('hello', MEDIA_TYPES.config)).toEqual(d);
    expect((await layout.readBlob(d.digest)).toString()).toBe('hello');
    expect(await layout.verifyBlob(d.digest)).toBe('ok');
    expect(await layout.verifyBlob(sha256Digest('absent'))).toBe('missing');
    writeFileSync(layout.blobPath(d.digest), 'hellO');
    expect(await layout.verifyBlob(d.digest)).toBe('mismatch');
    await layout.putBlob('hello', MEDIA_TYPES.config); // a damaged copy is replaced
    expect(await layout.verifyBlob(d.digest)).toBe('ok');
    expect(readdirSync(path.join(layout.root, '.brr-tmp'))).toEqual([]);
    expect(() => layout.blobPath('sha256:../../etc')).toThrow(/not a sha256 digest/);
  });

  it('adds images to index.json, replacing an entry with the same ref name', async () => {
    const layout = await freshLayout();
    await layout.addImage(entry(sha256Digest('a'), 'one'));
    await layout.addImage(entry(sha256Digest('b'), 'two'));
    await layout.addImage(entry(sha256Digest('c'), 'one'));
    const refs = (await layout.listImages()).map((m) => [m.annotations?.[ANNOTATIONS.refName], m.digest]);
    expect(refs).toEqual([
      ['two', sha256Digest('b')],
      ['one', sha256Digest('c')],
    ]);
    expect(existsSync(path.join(layout.root, 'index.json.lock'))).toBe(false);
  });

  it('breaks a lock left by a dead process', async () => {
    const layout = await freshLayout();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(
      path.join(layout.root, 'index.json.lock'),
      `${dead}\n${(await import('node:os')).hostname()}\nstale\n`,
    );
    await layout.addImage(entry(sha256Digest('x'), 'x'));
    expect(await layout.listImages()).toHaveLength(1);
  });

  it('waits for a lock held by a live process, then times out naming it', async () => {
    const dir = tempDir('lock');
    const lock = path.join(dir, 'l.lock');
    let inner = 'not run';
    await withFileLock(lock, async () => {
      await expect(withFileLock(lock, async () => (inner = 'ran'), { timeoutMs: 200 })).rejects.toMatchObject({
        code: 'store_locked',
      });
    });
    expect(inner).toBe('not run');
    expect(await withFileLock(lock, async () => 'free again')).toBe('free again');
  });

  it('keeps every entry when several processes add images at once', async () => {
    const compiled = compileForChild(['store/oci-layout.ts']);
    const layout = await freshLayout();
    const script = `
      import { OciLayout, MEDIA_TYPES } from ${JSON.stringify(path.join(compiled, 'store/oci-layout.js'))};
      import { createHash } from 'node:crypto';
      const [root, who] = process.argv.slice(1);
      const layout = new OciLayout(root);
      for (let i = 0; i < 15; i++) {
        const digest = 'sha256:' + createHash('sha256').update(who + i).digest('hex');
        await layout.addImage({ mediaType: MEDIA_TYPES.manifest, digest, size: 1, annotations: { 'org.opencontainers.image.ref.name': who + '-' + i } });
      }`;
    const run = (who: string) =>
      new Promise<number>((resolve) =>
        spawn(process.execPath, ['--input-type=module', '-e', script, layout.root, who], { stdio: 'inherit' }).on(
          'close',
          (c) => resolve(c ?? 1),
        ),
      );
    expect(await Promise.all(['p1', 'p2', 'p3', 'p4'].map(run))).toEqual([0, 0, 0, 0]);
    expect(await layout.listImages()).toHaveLength(60);
  }, 60_000);
});
