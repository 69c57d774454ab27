import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BrrError } from '../core/errors.js';
import { hostPlatform, isIndexType, selectPlatform, type IndexEntry } from '../registry/media-types.js';
import type { ImageResult } from '../store/image.js';
import type { ImageManifest } from '../store/image-read.js';
import type { Descriptor, OciLayout } from '../store/oci-layout.js';
import { extractTar } from '../store/tar-extract.js';

/**
 * Imports the image of an OCI layout written by a container engine (a directory, or an OCI
 * archive tar) into brr's store. Every blob is hashed while it is copied: the store only ever
 * holds blobs whose content matches their name, whatever wrote the source.
 */

function invalid(src: string, why: string): BrrError {
  return new BrrError('image_import_failed', `${src}: ${why}`, {
    hint: 'the container engine wrote an unexpected OCI layout; see the build log',
  });
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

async function copyBlob(layout: OciLayout, root: string, d: Descriptor): Promise<void> {
  if (!DIGEST_RE.test(d.digest)) throw invalid(root, `"${d.digest}" is not a sha256 digest`);
  if ((await layout.verifyBlob(d.digest)) === 'ok') return;
  const src = path.join(root, 'blobs', 'sha256', d.digest.slice(7));
  const tmp = layout.tempPath('import');
  const h = createHash('sha256');
  const tap = new Transform({
    transform(c: Buffer, _e, cb) {
      h.update(c);
      cb(null, c);
    },
  });
  try {
    await pipeline(createReadStream(src), tap, createWriteStream(tmp, { flags: 'wx' }));
    if (`sha256:${h.digest('hex')}` !== d.digest) throw invalid(root, `blob ${d.digest} does not match its digest`);
    await layout.adoptBlob(tmp, d.digest);
  } finally {
    await rm(tmp, { force: true });
  }
}

async function readJson<T>(root: string, file: string): Promise<T> {
  try {
    return JSON.parse(await readFile(path.join(root, file), 'utf8')) as T;
  } catch {
    throw invalid(root, `cannot read ${file}`);
  }
}

/** Imports the (first, or host-platform) image of the layout at `src`; `scratch` unpacks archives. */
export async function importLayoutImage(layout: OciLayout, src: string, scratch: string): Promise<ImageResult> {
  let root = src;
  if ((await stat(src)).isFile()) {
    await mkdir(scratch, { recursive: true });
    await extractTar(createReadStream(src), scratch);
    root = scratch;
  }
  const index = await readJson<{ manifests?: IndexEntry[] }>(root, 'index.json');
  let entry = index.manifests?.[0];
  if (!entry) throw invalid(root, 'index.json lists no image');
  if (isIndexType(entry.mediaType)) {
    const nested = await readJson<{ manifests?: IndexEntry[] }>(
      root,
      path.join('blobs', 'sha256', entry.digest.slice(7)),
    );
    await copyBlob(layout, root, entry);
    entry = selectPlatform(nested.manifests ?? [], hostPlatform()) ?? undefined;
    if (!entry) throw invalid(root, 'the image index has no image for this platform');
  }
  const manifest = await readJson<ImageManifest>(root, path.join('blobs', 'sha256', entry.digest.slice(7)));
  if (!manifest.config || !Array.isArray(manifest.layers))
    throw invalid(root, `${entry.digest} is not an image manifest`);
  for (const d of [manifest.config, ...manifest.layers]) await copyBlob(layout, root, d);
  await copyBlob(layout, root, entry);
  const size = (await layout.readBlob(entry.digest)).length;
  return {
    manifest: { mediaType: entry.mediaType, digest: entry.digest, size },
    config: manifest.config,
    layers: manifest.layers,
    size: size + manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0),
  };
}
