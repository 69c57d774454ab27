import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { BrrError, invalidInput, notFound } from '../core/errors.js';
import type { HomePaths } from '../core/home.js';
import { isValidAppName } from '../manifest/schema.js';
import { APP_DIR, APP_LAYER_ANNOTATION } from './image.js';
import { readConfig, readManifest } from './image-read.js';
import { ANNOTATIONS, MEDIA_TYPES, OciLayout, type Descriptor } from './oci-layout.js';
import { removeTree } from './remove-tree.js';
import { checkTree, snapshotTree, TREE_FILE } from './release-tree.js';
import { extractTar } from './tar-extract.js';

/**
 * Turns a build into the read-only directory a release runs from:
 * `releases/<app>/<releaseId>/` holds the image's `/app` tree. Every blob is verified first; a
 * damaged store is refused, loudly, rather than run.
 *
 * Completion marker: `.brr-materialized` (the digest) inside the release directory. It is
 * written before the temp directory is renamed into place, so the rename is the single commit
 * point: a directory under its final name is always complete.
 *
 * A directory is reused only when it is still exactly as materialized (release-tree.ts: every
 * entry's inode, mode, size and ctime, marker included). One that was edited is moved aside to
 * `releases/<app>/.tampered-<id>-<time>` (kept for a human to look at; gc removes it) and the
 * release is materialized again from the verified store: what runs is always the build.
 */

export const MARKER = '.brr-materialized';
const RELEASE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function checkNames(app: string, releaseId: string): void {
  if (!isValidAppName(app))
    throw invalidInput('app_invalid', `"${app}" is not a valid app name`, 'use lowercase letters, digits and dashes');
  if (!RELEASE_ID_RE.test(releaseId) || releaseId === 'current')
    throw invalidInput(
      'release_id_invalid',
      `"${releaseId}" is not a valid release id`,
      'release ids look like v1, v2, …',
    );
}

function corrupt(blob: string, what: string, commit: string | undefined, problem: string): BrrError {
  return new BrrError('store_corrupt', `${what} blob ${blob} is ${problem}; refusing to run it`, {
    hint: `rebuild the image: brr build --ref ${commit ?? '<commit>'} --no-cache`,
    details: { blob, what, problem },
  });
}

async function readMarker(dir: string): Promise<string | null> {
  return readFile(path.join(dir, MARKER), 'utf8').then(
    (t) => t.trim(),
    () => null,
  );
}

/**
 * Reuses a complete directory when it holds this digest and is unchanged; an edited one is moved
 * aside (false: materialize again); another build there is an error.
 */
async function reuse(dir: string, digest: string): Promise<boolean> {
  const st = await lstat(dir).catch(() => null);
  if (!st) return false;
  const marked = await readMarker(dir);
  if (marked === digest) {
    const changed = await checkTree(dir);
    if (changed === null) return true;
    await moveAside(dir, changed);
    return false;
  }
  throw new BrrError(
    'release_dir_conflict',
    `${dir} exists but holds ${marked ?? 'no complete materialization'}, not ${digest}`,
    {
      hint: `if no process runs from it, remove it (chmod -R u+w ${dir} && rm -rf ${dir}) and retry`,
    },
  );
}

/** Renames an edited release directory out of the way; its processes, if any, keep running from it. */
async function moveAside(dir: string, why: string): Promise<void> {
  const aside = path.join(path.dirname(dir), `.tampered-${path.basename(dir)}-${Date.now()}`);
  try {
    await rename(dir, aside);
  } catch (e) {
    throw new BrrError('release_dir_modified', `${dir} was changed after it was materialized (${why})`, {
      hint: `remove it (chmod -R u+w ${dir} && rm -rf ${dir}) and retry; brr materializes it again from the verified build`,
      cause: e,
    });
  }
}

function hashTap(h: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      h.update(chunk);
      cb(null, chunk);
    },
  });
}

/** Verifies every blob of the image before anything is extracted. */
async function verifyImage(layout: OciLayout, digest: string, commit: string | undefined) {
  const check = async (blob: string, what: string) => {
    const r = await layout.verifyBlob(blob);
    if (r !== 'ok')
      throw corrupt(
        blob,
        what,
        commit,
        r === 'missing' ? 'missing' : 'damaged (its content does not match its digest)',
      );
  };
  await check(digest, 'manifest');
  const manifest = await readManifest(layout, digest, commit);
  await check(manifest.config.digest, 'config');
  const config = await readConfig(layout, manifest, commit);
  for (const l of manifest.layers) await check(l.digest, 'layer');
  // brr's own layers: the annotated ones (image on a base, or split dependencies), else the only one.
  const annotated = manifest.layers.some((l) => l.annotations?.[APP_LAYER_ANNOTATION] !== undefined);
  const app = manifest.layers
    .map((layer, i) => ({ layer, diffId: config.rootfs.diff_ids[i]! }))
    .filter(({ layer }) => !annotated || layer.annotations?.[APP_LAYER_ANNOTATION] !== undefined);
  if (
    (!annotated && app.length !== 1) ||
    app.length === 0 ||
    config.rootfs.diff_ids.length !== manifest.layers.length ||
    app.some((a) => a.layer.mediaType !== MEDIA_TYPES.layerGzip)
  ) {
    throw new BrrError('image_unsupported', `image ${digest} has no brr app layers to run locally`, {
      hint: 'release images built by `brr build` (images from a Dockerfile run on the Kubernetes target)',
    });
  }
  return app;
}

/** Extracts one verified layer's /app tree into `dest` (a fresh directory). */
async function extractLayer(
  layout: OciLayout,
  layer: Descriptor,
  diffId: string,
  dest: string,
  commit: string | undefined,
): Promise<void> {
  // Hash again while extracting, so what lands on disk is exactly what was verified.
  const blobHash = createHash('sha256');
  const tarHash = createHash('sha256');
  await pipeline(
    createReadStream(layout.blobPath(layer.digest)),
    hashTap(blobHash),
    createGunzip(),
    hashTap(tarHash),
    async (tar: AsyncIterable<Buffer>) => {
      await extractTar(tar, dest, { strip: APP_DIR });
    },
  );
  if (`sha256:${blobHash.digest('hex')}` !== layer.digest || `sha256:${tarHash.digest('hex')}` !== diffId) {
    throw corrupt(layer.digest, 'layer', commit, 'changed while it was being extracted');
  }
}

/**
 * Moves a layer's tree into the release tree. Split layers hold disjoint subtrees (only shared
 * parent directories), so anything else present twice is refused. Each layer was extracted into
 * a directory of its own first: no layer's files are ever written through another's symlinks.
 */
async function mergeInto(from: string, into: string): Promise<void> {
  for (const name of await readdir(from)) {
    const src = path.join(from, name);
    const dst = path.join(into, name);
    const [a, b] = await Promise.all([lstat(src), lstat(dst).catch(() => null)]);
    if (!b) await rename(src, dst);
    else if (a.isDirectory() && b.isDirectory()) await mergeInto(src, dst);
    else
      throw new BrrError('image_unsupported', `two app layers both hold ${name}`, {
        hint: 'rebuild the image with brr build',
      });
  }
}

/** Sets files to 0444 (0555 when executable) and directories to 0555, children first. */
async function makeReadOnly(dir: string): Promise<void> {
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) await makeReadOnly(p);
    else if (d.isFile()) await chmod(p, ((await lstat(p)).mode & 0o111) !== 0 ? 0o555 : 0o444);
  }
  await chmod(dir, 0o555);
}

/**
 * Verifies build `digest` and materializes it read-only as `releases/<app>/<releaseId>`;
 * returns that directory. Idempotent.
 */
export async function materializeRelease(
  paths: HomePaths,
  app: string,
  releaseId: string,
  digest: string,
): Promise<string> {
  checkNames(app, releaseId);
  const appDir = path.join(paths.releases, app);
  const dir = path.join(appDir, releaseId);
  if (await reuse(dir, digest)) return dir;

  const layout = new OciLayout(paths.oci);
  const entry = (await layout.listImages()).find((d) => d.digest === digest);
  const commit = entry?.annotations?.[ANNOTATIONS.revision];
  const layers = await verifyImage(layout, digest, commit);

  await mkdir(appDir, { recursive: true });
  const tmp = await mkdtemp(path.join(appDir, `.tmp-${releaseId}-`));
  try {
    if (layers.length === 1) await extractLayer(layout, layers[0]!.layer, layers[0]!.diffId, tmp, commit);
    else {
      for (const [i, l] of layers.entries()) {
        const part = `${tmp}-layer-${i}`;
        try {
          await mkdir(part);
          await extractLayer(layout, l.layer, l.diffId, part, commit);
          await mergeInto(part, tmp);
        } finally {
          await removeTree(part);
        }
      }
    }
    await writeFile(path.join(tmp, MARKER), `${digest}\n`);
    await makeReadOnly(tmp);
    // Snapshot after the last chmod of anything inside, then seal the snapshot in (the top
    // directory itself is not part of it: writing the snapshot and the rename both touch it).
    await chmod(tmp, 0o755);
    const entries = await snapshotTree(tmp);
    await writeFile(path.join(tmp, TREE_FILE), JSON.stringify({ digest, entries }), { mode: 0o444 });
    await chmod(tmp, 0o555);
    try {
      await rename(tmp, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Another process materialized the same release first: use theirs if it is the same build.
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await reuse(dir, digest))) {
        await removeTree(tmp);
        return dir;
      }
      throw e;
    }
    return dir;
  } catch (e) {
    await removeTree(tmp);
    throw e;
  }
}

/** Points `releases/<app>/current` at `<releaseId>`, atomically (symlink to a temp name + rename). */
export async function setCurrentLink(paths: HomePaths, app: string, releaseId: string): Promise<void> {
  checkNames(app, releaseId);
  const appDir = path.join(paths.releases, app);
  if ((await readMarker(path.join(appDir, releaseId))) === null) {
    throw notFound(
      'release_not_materialized',
      `release ${releaseId} of ${app} is not materialized in ${appDir}`,
      `run it first: brr run ${releaseId} --app ${app}`,
    );
  }
  const tmp = path.join(appDir, `.current-${process.pid}-${randomBytes(4).toString('hex')}`);
  await symlink(releaseId, tmp);
  try {
    await rename(tmp, path.join(appDir, 'current'));
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
