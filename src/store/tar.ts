import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as z, createGzip } from 'node:zlib';
import { BrrError } from '../core/errors.js';
import { blockPadding, encodeHeader, endOfArchive, linkStaysInside, type TarType } from './tar-header.js';

/**
 * Deterministic layer writer: the same directory contents give the same tar bytes and the same
 * gzip bytes, whatever the host, the owner, the clock or the order readdir returns.
 */

export interface LayerOptions {
  /** Directory name the contents are placed under in the archive (`app`); '' for none. */
  prefix: string;
  /** mtime of every entry, seconds since the epoch (the commit time). */
  mtime: number;
}

export interface LayerResult {
  /** `sha256:` of the gzip bytes: the blob digest. */
  digest: string;
  /** `sha256:` of the uncompressed tar: the OCI diff_id. */
  diffId: string;
  /** Bytes of the gzip blob. */
  size: number;
}

interface Entry {
  name: string;
  abs: string;
  type: TarType;
  mode: number;
  size: number;
  linkname: string;
}

/** Gzip header byte 9 is the OS; zlib sets it at compile time (3 on Linux, 19 on macOS). */
const GZIP_OS_UNKNOWN = 255;
const BATCH = 256 * 1024;
const SMALL_FILE = 1024 * 1024;
const READ_AHEAD = 32;

/** Lists the tree (without following symlinks), sorted by archive name. */
async function collect(root: string, opts: LayerOptions): Promise<Entry[]> {
  const prefix = opts.prefix ? `${opts.prefix}/` : '';
  const out: Entry[] = [];
  if (prefix) out.push({ name: prefix, abs: root, type: 'dir', mode: 0o755, size: 0, linkname: '' });
  const links = new Map<string, string>();
  const stack = [''];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    const names = (await readdir(path.join(root, rel))).map((n) => (rel ? `${rel}/${n}` : n));
    // lstat a directory's entries together: sequential syscalls dominate on node_modules trees.
    const stats = await Promise.all(names.map((r) => lstat(path.join(root, r))));
    for (const [i, r] of names.entries()) {
      const abs = path.join(root, r);
      const st = stats[i]!;
      // Only the executable bit survives: umask and owner details must not change the digest.
      const exec = (st.mode & 0o111) !== 0;
      if (st.isDirectory()) {
        out.push({ name: `${prefix}${r}/`, abs, type: 'dir', mode: 0o755, size: 0, linkname: '' });
        stack.push(r);
      } else if (st.isFile()) {
        out.push({ name: `${prefix}${r}`, abs, type: 'file', mode: exec ? 0o755 : 0o644, size: st.size, linkname: '' });
      } else if (st.isSymbolicLink()) {
        const target = await readlink(abs);
        links.set(r, target);
        out.push({ name: `${prefix}${r}`, abs, type: 'symlink', mode: 0o777, size: 0, linkname: target });
      } else {
        throw new BrrError(
          'tar_unsupported_entry',
          `${abs}: only files, directories and symlinks can go into an image`,
          {
            hint: 'remove sockets, FIFOs and device files from the build output',
          },
        );
      }
    }
  }
  for (const [r, target] of links) {
    if (!linkStaysInside(r, target, links)) {
      throw new BrrError(
        'tar_unsafe_entry',
        `${path.join(root, r)}: symlink to "${target}" points outside the packed directory`,
        {
          hint: 'make the link relative and keep its target inside build.output',
        },
      );
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function* fileData(e: Entry, prefetched: Promise<Buffer> | undefined): AsyncGenerator<Buffer> {
  let seen = 0;
  const chunks = prefetched ? [await prefetched] : createReadStream(e.abs, { highWaterMark: BATCH });
  for await (const c of chunks as AsyncIterable<Buffer>) {
    seen += c.length;
    if (seen > e.size) break;
    yield c;
  }
  if (seen !== e.size) {
    throw new BrrError('tar_file_changed', `${e.abs} changed size while it was being packed`, {
      hint: 'make sure no process writes into the build output, then build again',
    });
  }
}

/** The uncompressed tar stream of a directory, in batches of about 256 KiB. */
export async function* tarStream(dir: string, opts: LayerOptions): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let bytes = 0;
  const push = (b: Buffer) => {
    pending.push(b);
    bytes += b.length;
  };
  const flush = () => {
    const b = Buffer.concat(pending, bytes);
    pending = [];
    bytes = 0;
    return b;
  };
  const entries = await collect(dir, opts);
  // Small files are read ahead, a bounded window at a time, and still written in sorted order.
  const ahead = new Map<number, Promise<Buffer>>();
  const readAhead = (from: number) => {
    for (let j = from; j < Math.min(entries.length, from + READ_AHEAD); j++) {
      const e = entries[j]!;
      if (e.type !== 'file' || e.size > SMALL_FILE || ahead.has(j)) continue;
      const p = readFile(e.abs);
      p.catch(() => {}); // rejections surface when the entry is reached
      ahead.set(j, p);
    }
  };
  for (const [i, e] of entries.entries()) {
    readAhead(i);
    push(
      encodeHeader({ name: e.name, type: e.type, mode: e.mode, size: e.size, mtime: opts.mtime, linkname: e.linkname }),
    );
    if (e.type === 'file') {
      const prefetched = ahead.get(i);
      ahead.delete(i);
      for await (const c of fileData(e, prefetched)) {
        push(c);
        if (bytes >= BATCH) yield flush();
      }
      push(blockPadding(e.size));
    }
    if (bytes >= BATCH) yield flush();
  }
  push(endOfArchive());
  yield flush();
}

/**
 * The gzip settings are pinned: a different level or window would change every digest. The
 * deflate bytes also depend on the zlib inside Node (Chromium's fork, which may pick a different
 * match-finding hash on other CPUs): the diff_id is the platform-independent identity of the
 * content, the blob digest is reproducible for one Node build.
 */
export const GZIP_SETTINGS = { level: 6, windowBits: 15, memLevel: 8, strategy: z.Z_DEFAULT_STRATEGY } as const;

export function deterministicGzip() {
  return createGzip({ ...GZIP_SETTINGS });
}

/**
 * Writes `dir` as a gzip'd tar layer to `destFile` (which must not exist), hashing both the tar
 * (diff_id) and the gzip (digest) as the bytes stream through.
 */
export async function writeLayer(dir: string, destFile: string, opts: LayerOptions): Promise<LayerResult> {
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  let size = 0;
  async function* hashed() {
    for await (const c of tarStream(dir, opts)) {
      diff.update(c);
      yield c;
    }
  }
  const pinOs = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (size <= 9 && size + chunk.length > 9) chunk[9 - size] = GZIP_OS_UNKNOWN;
      size += chunk.length;
      blob.update(chunk);
      cb(null, chunk);
    },
  });
  await pipeline(Readable.from(hashed()), deterministicGzip(), pinOs, createWriteStream(destFile, { flags: 'wx' }));
  return { digest: `sha256:${blob.digest('hex')}`, diffId: `sha256:${diff.digest('hex')}`, size };
}
