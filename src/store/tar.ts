import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as z, crc32, createGzip, deflateRaw } from 'node:zlib';
import { BrrError } from '../core/errors.js';
import {
  blockPadding,
  encodeHeader,
  endOfArchive,
  linkStaysInside,
  type TarHeader,
  type TarType,
} from './tar-header.js';

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
 * Input bytes per independently compressed piece. Part of the blob's bytes: a layer of at most
 * one piece is exactly what `deterministicGzip` writes; a larger one differs from it (and is as
 * reproducible), so this number must never change without bumping LAYER_CACHE_VERSION.
 */
export const GZIP_PIECE = 1024 * 1024;
const DICTIONARY = 32 * 1024;
/** Pieces compressed at once: libuv's default thread pool size. */
const PIECES_IN_FLIGHT = 4;
/**
 * zlib's output buffer for one piece: room for all of it (deflate grows incompressible data by
 * well under 1 %). With the default 16 KiB, a piece went back and forth between the thread pool
 * and the main thread some 20 times, each time waiting for a busy main thread (~10 % of a full
 * build). The buffer's size is not part of the bytes: zlib's output depends on the input, the
 * parameters and the flushes only (test/store/parallel-gzip.test.ts compares with 16 KiB).
 */
export const DEFLATE_OUT = GZIP_PIECE + GZIP_PIECE / 8;

function deflatePiece(data: Buffer, dictionary: Buffer | undefined, last: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    deflateRaw(
      data,
      {
        ...GZIP_SETTINGS,
        ...(dictionary ? { dictionary } : {}),
        finishFlush: last ? z.Z_FINISH : z.Z_SYNC_FLUSH,
        chunkSize: DEFLATE_OUT,
      },
      (err, out) => (err ? reject(err) : resolve(out)),
    ),
  );
}

/**
 * gzip compressed on all cores, the way pigz does it: the input is cut into fixed GZIP_PIECE
 * pieces, each deflated on the thread pool with the previous piece's last 32 KiB as its
 * dictionary (so the ratio stays that of one stream) and ended by a sync flush; the final piece
 * finishes the stream. The result is one ordinary gzip member, and the same bytes every time:
 * pieces depend only on input offsets, never on timing. Header: no name, mtime 0, OS "unknown".
 */
export function parallelGzip(): Transform {
  const queue: Array<Promise<Buffer>> = [];
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let tail: Buffer | undefined;
  let crc = 0;
  let total = 0;
  let headerSent = false;
  const dispatch = (piece: Buffer, last: boolean) => {
    crc = crc32(piece, crc);
    total += piece.length;
    const p = deflatePiece(piece, tail, last);
    p.catch(() => {}); // surfaced in order by drain
    queue.push(p);
    tail = piece.length >= DICTIONARY ? piece.subarray(piece.length - DICTIONARY) : Buffer.from(piece);
  };
  const drain = async (self: Transform, keep: number) => {
    if (!headerSent) {
      self.push(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, GZIP_OS_UNKNOWN]));
      headerSent = true;
    }
    while (queue.length > keep) self.push(await queue.shift()!);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      // Strictly more than a piece: the last piece is only known at the end, and is never empty
      // unless the whole input is.
      while (pendingBytes > GZIP_PIECE) {
        const all = Buffer.concat(pending, pendingBytes);
        dispatch(all.subarray(0, GZIP_PIECE), false);
        pending = [all.subarray(GZIP_PIECE)];
        pendingBytes -= GZIP_PIECE;
      }
      drain(this, PIECES_IN_FLIGHT - 1).then(() => cb(), cb);
    },
    flush(cb) {
      dispatch(Buffer.concat(pending, pendingBytes), true);
      pending = [];
      drain(this, 0).then(() => {
        const trailer = Buffer.alloc(8);
        trailer.writeUInt32LE(crc >>> 0, 0);
        trailer.writeUInt32LE(total % 2 ** 32, 4);
        cb(null, trailer);
      }, cb);
    },
  });
}

/**
 * Where a layer's uncompressed tar bytes go: compressed (parallelGzip), hashed both before
 * (diff_id) and after (digest), and written to `destFile` (which must not exist). The tar bytes
 * may arrive in chunks of any size: the blob depends only on their concatenation.
 */
export class LayerFile {
  private readonly diff = createHash('sha256');
  private readonly blob = createHash('sha256');
  private size = 0;
  private readonly gz = parallelGzip();
  private readonly done: Promise<void>;

  constructor(destFile: string) {
    const pinOs = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        if (this.size <= 9 && this.size + chunk.length > 9) chunk[9 - this.size] = GZIP_OS_UNKNOWN;
        this.size += chunk.length;
        this.blob.update(chunk);
        cb(null, chunk);
      },
    });
    this.done = pipeline(this.gz, pinOs, createWriteStream(destFile, { flags: 'wx' }));
    this.done.catch(() => {}); // surfaced by write or end
  }

  /** Takes the next tar bytes; resolves when the compressor can take more. */
  async write(chunk: Buffer): Promise<void> {
    this.diff.update(chunk);
    if (!this.gz.write(chunk)) await Promise.race([once(this.gz, 'drain'), this.done]);
  }

  /** Ends the stream; resolves once the file is written. */
  async end(): Promise<LayerResult> {
    this.gz.end();
    await this.done;
    return {
      digest: `sha256:${this.blob.digest('hex')}`,
      diffId: `sha256:${this.diff.digest('hex')}`,
      size: this.size,
    };
  }

  /** Gives up (the caller removes the file); never throws. */
  async abort(): Promise<void> {
    this.gz.destroy();
    await this.done.catch(() => {});
  }
}

/**
 * Writes `dir` as a gzip'd tar layer to `destFile` (which must not exist), hashing both the tar
 * (diff_id) and the gzip (digest) as the bytes stream through.
 */
export async function writeLayer(dir: string, destFile: string, opts: LayerOptions): Promise<LayerResult> {
  const out = new LayerFile(destFile);
  try {
    for await (const c of tarStream(dir, opts)) await out.write(c);
  } catch (e) {
    await out.abort();
    throw e;
  }
  return out.end();
}

/**
 * A layer written entry by entry, by a caller that already has the entries in archive order
 * (src/build/archive-layers.ts, straight from `git archive`): the same headers and padding as
 * tarStream, batched the same way, so the same entries give the same bytes.
 */
export class TarLayerWriter {
  private readonly out: LayerFile;
  private pending: Buffer[] = [];
  private bytes = 0;

  constructor(destFile: string) {
    this.out = new LayerFile(destFile);
  }

  private async push(b: Buffer): Promise<void> {
    if (b.length === 0) return;
    this.pending.push(b);
    this.bytes += b.length;
    if (this.bytes >= BATCH) await this.flush();
  }

  private async flush(): Promise<void> {
    const b = Buffer.concat(this.pending, this.bytes);
    this.pending = [];
    this.bytes = 0;
    await this.out.write(b);
  }

  /** The header of the next entry; a file's `size` bytes follow through `data`, then `endFile`. */
  header(h: TarHeader): Promise<void> {
    return this.push(encodeHeader(h));
  }

  data(chunk: Buffer): Promise<void> {
    return this.push(chunk);
  }

  endFile(size: number): Promise<void> {
    return this.push(blockPadding(size));
  }

  async end(): Promise<LayerResult> {
    const end = endOfArchive();
    this.pending.push(end);
    this.bytes += end.length;
    await this.flush();
    return this.out.end();
  }

  abort(): Promise<void> {
    return this.out.abort();
  }
}
