import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { BrrError, invalidInput } from '../core/errors.js';
import type { Digest } from '../core/types.js';
import { withFileLock } from './file-lock.js';

/**
 * An OCI image layout directory (image-spec "image-layout"): `oci-layout`, `index.json` and
 * content-addressed `blobs/sha256/<hex>`. skopeo, umoci and podman read it as `oci:DIR:REF`.
 * Blobs are written to a temp file inside the layout and renamed, so a reader never sees half a
 * blob; index.json is rewritten under a lock file, so concurrent brr processes never lose an entry.
 */

export const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export const ANNOTATIONS = {
  refName: 'org.opencontainers.image.ref.name',
  revision: 'org.opencontainers.image.revision',
  app: 'dev.brr.app',
  path: 'dev.brr.path',
  source: 'dev.brr.source',
  created: 'dev.brr.created',
  cacheKey: 'dev.brr.cache-key',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
}

interface IndexFile {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

export type BlobCheck = 'ok' | 'missing' | 'mismatch';

const DIGEST_RE = /^sha256:([0-9a-f]{64})$/;
/** Scratch space inside the layout: same filesystem as blobs/, so renames are atomic. */
const TMP_DIR = '.brr-tmp';

export class OciLayout {
  constructor(readonly root: string) {}

  private get indexPath(): string {
    return path.join(this.root, 'index.json');
  }

  /** Creates the layout if missing; cheap when it already exists. */
  async init(): Promise<void> {
    await mkdir(path.join(this.root, 'blobs', 'sha256'), { recursive: true });
    await mkdir(path.join(this.root, TMP_DIR), { recursive: true });
    if (await exists(this.indexPath)) return;
    await this.writeAtomic('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await withFileLock(this.lockPath(), async () => {
      if (!(await exists(this.indexPath)))
        await this.writeIndex({ schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests: [] });
    });
  }

  blobPath(digest: Digest): string {
    const m = DIGEST_RE.exec(digest);
    if (!m)
      throw invalidInput(
        'digest_invalid',
        `"${digest}" is not a sha256 digest`,
        'a digest looks like sha256:<64 hex digits>; see `brr builds`',
      );
    return path.join(this.root, 'blobs', 'sha256', m[1]!);
  }

  /** A fresh path for a temp file inside the layout (for streaming a blob before adoptBlob). */
  tempPath(label: string): string {
    return path.join(this.root, TMP_DIR, `${label}-${process.pid}-${randomBytes(6).toString('hex')}`);
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    return exists(this.blobPath(digest));
  }

  async readBlob(digest: Digest): Promise<Buffer> {
    return readFile(this.blobPath(digest));
  }

  /** Stores bytes as a blob; idempotent (an existing blob that verifies is kept). */
  async putBlob(data: Buffer | string, mediaType: string): Promise<Descriptor> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if ((await this.verifyBlob(digest)) !== 'ok') {
      const tmp = this.tempPath('blob');
      await writeSynced(tmp, bytes);
      await rename(tmp, this.blobPath(digest));
    }
    return { mediaType, digest, size: bytes.length };
  }

  /** Moves a fully written temp file (from tempPath) into place as blob `digest`. */
  async adoptBlob(tmpFile: string, digest: Digest): Promise<void> {
    // A damaged copy left by an earlier crash is replaced; a good one makes the temp file redundant.
    if ((await this.verifyBlob(digest)) === 'ok') await rm(tmpFile, { force: true });
    else await rename(tmpFile, this.blobPath(digest));
  }

  /** Recomputes the blob's sha256 and compares it with its name. */
  async verifyBlob(digest: Digest): Promise<BlobCheck> {
    const file = this.blobPath(digest);
    const h = createHash('sha256');
    try {
      for await (const c of createReadStream(file)) h.update(c as Buffer);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw e;
    }
    return `sha256:${h.digest('hex')}` === digest ? 'ok' : 'mismatch';
  }

  /** Manifest descriptors in index.json, in file order. */
  async listImages(): Promise<Descriptor[]> {
    let text: string;
    try {
      text = await readFile(this.indexPath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    try {
      const idx = JSON.parse(text) as IndexFile;
      if (!Array.isArray(idx.manifests)) throw new TypeError('manifests is not an array');
      return idx.manifests;
    } catch (e) {
      throw new BrrError('store_corrupt', `${this.indexPath} is not a valid OCI index: ${(e as Error).message}`, {
        hint: `restore ${this.indexPath} from a backup, or move the store aside and rebuild`,
      });
    }
  }

  /**
   * Adds an image manifest descriptor to index.json; an entry with the same ref name is replaced
   * (a ref names one image). Safe against concurrent brr processes.
   */
  async addImage(desc: Descriptor): Promise<void> {
    const ref = desc.annotations?.[ANNOTATIONS.refName];
    await withFileLock(this.lockPath(), async () => {
      const manifests = (await this.listImages()).filter(
        (m) => ref === undefined || m.annotations?.[ANNOTATIONS.refName] !== ref,
      );
      manifests.push(desc);
      await this.writeIndex({ schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests });
    });
  }

  /**
   * Rewrites index.json entries under the lock: `fn` gets the current entries and returns the
   * new list (read-modify-write with no lost update between brr processes).
   */
  async updateImages(fn: (manifests: Descriptor[]) => Descriptor[]): Promise<void> {
    await withFileLock(this.lockPath(), async () => {
      await this.writeIndex({ schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests: fn(await this.listImages()) });
    });
  }

  private lockPath(): string {
    return path.join(this.root, 'index.json.lock');
  }

  private async writeIndex(idx: IndexFile): Promise<void> {
    await this.writeAtomic('index.json', JSON.stringify(idx, null, 2) + '\n');
  }

  private async writeAtomic(name: string, text: string): Promise<void> {
    await mkdir(path.join(this.root, TMP_DIR), { recursive: true });
    const tmp = this.tempPath(name);
    await writeSynced(tmp, Buffer.from(text, 'utf8'));
    await rename(tmp, path.join(this.root, name));
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Writes and fsyncs, so a rename after a crash never exposes an empty file. */
async function writeSynced(file: string, bytes: Buffer): Promise<void> {
  const fh = await open(file, 'wx');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
