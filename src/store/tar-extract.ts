import { constants } from 'node:fs';
import { mkdir, open, symlink } from 'node:fs/promises';
import path from 'node:path';
import { BrrError } from '../core/errors.js';
import { BLOCK, decodeHeader, linkStaysInside, parsePax, safeRelative } from './tar-header.js';

/**
 * A streaming tar extractor for untrusted archives (git archive output, layers read back from
 * the store). It refuses anything that could write or point outside the target: absolute
 * paths, `..` components, entries below a symlink, and symlinks resolving outside. Symlinks are
 * created last, after every file and directory, so no write ever goes through one.
 */

export interface ExtractOptions {
  /** Extract only entries under this directory, with it removed from their paths (`app`). */
  strip?: string;
  /** Set every file's mtime to this (seconds); default the archive's mtime. */
  mtime?: number;
}

export interface ExtractResult {
  files: number;
  dirs: number;
  symlinks: number;
}

function unsafe(name: string, why: string): BrrError {
  return new BrrError('tar_unsafe_entry', `tar entry "${name}": ${why}; refusing to extract`, {
    hint: 'the archive is malformed or hostile; rebuild it from a trusted commit',
  });
}

function invalidSize(name: string, size: string | number): BrrError {
  return new BrrError('tar_invalid', `tar entry "${name}": size "${size}" is not a byte count`, {
    hint: 'the archive is damaged; rebuild it',
  });
}

/**
 * A PAX or GNU long-name body is held in memory whole, and the header claiming its size comes
 * from an untrusted archive (layers pulled from registries): anything larger than a long path
 * plus a few records is refused before a byte of it is buffered.
 */
export const MAX_META_BODY = 1 << 20;

function truncated(): BrrError {
  return new BrrError('tar_invalid', 'tar archive: unexpected end of data', {
    hint: 'the archive is damaged; rebuild it',
  });
}

/** Reads exact byte counts out of an async stream of chunks (also src/build/archive-layers.ts). */
export class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  private readonly it: AsyncIterator<Buffer>;
  constructor(input: AsyncIterable<Buffer>) {
    this.it = input[Symbol.asyncIterator]();
  }
  async fill(n: number): Promise<boolean> {
    while (this.buf.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    }
    return this.buf.length >= n;
  }
  /** Up to `max` bytes (at least one). */
  async some(max: number): Promise<Buffer> {
    if (!(await this.fill(1))) throw truncated();
    const out = this.buf.subarray(0, Math.min(max, this.buf.length));
    this.buf = this.buf.subarray(out.length);
    return out;
  }
  async exact(n: number): Promise<Buffer> {
    if (!(await this.fill(n))) throw truncated();
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  async skip(n: number): Promise<void> {
    while (n > 0) n -= (await this.some(n)).length;
  }
  /**
   * Reads to the end of the input. Archives carry padding after the end-of-archive blocks (git
   * pads to 10 KiB records); left unread in a child's stdout pipe, the stream never ends, so the
   * child's 'close' never fires and its caller waits forever.
   */
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while (!this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
    }
  }
}

export const padOf = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;
const SMALL_FILE = 1 << 20;

/** mkdir -p, remembered, so thousands of files in one directory cost one mkdir. */
class DirCache {
  private readonly made = new Map<string, Promise<unknown>>();
  ensure(dir: string): Promise<unknown> {
    let p = this.made.get(dir);
    if (!p) this.made.set(dir, (p = mkdir(dir, { recursive: true })));
    return p;
  }
}

/** At most `limit` promises in flight; the first failure is rethrown by add or drain. */
class Bounded {
  private readonly inflight = new Set<Promise<void>>();
  private failure: { error: unknown } | null = null;
  constructor(private readonly limit: number) {}
  async add(p: Promise<void>): Promise<void> {
    const tracked = p
      .catch((error: unknown) => void (this.failure ??= { error }))
      .finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
    if (this.inflight.size >= this.limit) await Promise.race(this.inflight);
    if (this.failure) throw this.failure.error;
  }
  async drain(): Promise<void> {
    await Promise.all(this.inflight);
    if (this.failure) throw this.failure.error;
  }
  /** Waits for everything in flight, ignoring failures (used when already failing). */
  async settle(): Promise<void> {
    await Promise.all(this.inflight);
  }
}

/** Creates a new file; O_EXCL|O_NOFOLLOW: never write through anything already there. */
async function openNew(dirs: DirCache, dest: string, mode: number) {
  await dirs.ensure(path.dirname(dest));
  return open(dest, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
}

async function writeSmallFile(dirs: DirCache, dest: string, mode: number, mtime: number, data: Buffer): Promise<void> {
  const fh = await openNew(dirs, dest, mode);
  try {
    if (data.length > 0) await fh.write(data);
    await fh.utimes(mtime, mtime);
  } finally {
    await fh.close();
  }
}

/** Extracts a tar stream into `target`, which must be a fresh, empty directory. */
export async function extractTar(
  input: AsyncIterable<Buffer>,
  target: string,
  opts: ExtractOptions = {},
): Promise<ExtractResult> {
  const writes = new Bounded(32);
  try {
    return await extract(input, target, opts, writes);
  } catch (e) {
    // No write may land after we return: the caller is about to remove the target.
    await writes.settle();
    throw e;
  }
}

async function extract(
  input: AsyncIterable<Buffer>,
  target: string,
  opts: ExtractOptions,
  writes: Bounded,
): Promise<ExtractResult> {
  const r = new ByteReader(input);
  const links = new Map<string, string>();
  const seen = new Map<string, 'file' | 'dir'>();
  const result: ExtractResult = { files: 0, dirs: 0, symlinks: 0 };
  const dirs = new DirCache();
  let pax: Record<string, string> = {};
  let gnuName: string | undefined;
  let gnuLink: string | undefined;

  while (await r.fill(BLOCK)) {
    const h = decodeHeader(await r.exact(BLOCK));
    if (!h) break;
    if (!Number.isSafeInteger(h.size) || h.size < 0) throw invalidSize(h.name, h.size);
    if (h.flag === 'g') {
      // git archive's commit comment carries nothing brr needs: skipped, never buffered.
      await r.skip(h.size + padOf(h.size));
      continue;
    }
    if (h.flag === 'x' || h.flag === 'L' || h.flag === 'K') {
      // The PAX size record applies to the next file entry, never to another extended header.
      const size = h.size;
      if (size > MAX_META_BODY) {
        throw new BrrError(
          'tar_header_too_large',
          `tar entry "${h.name}": its ${h.flag === 'x' ? 'PAX' : 'GNU long-name'} header claims ${size} bytes, more than the ${MAX_META_BODY} brr reads`,
          {
            hint: 'the archive is malformed or hostile; rebuild it from a trusted source',
            details: { entry: h.name, size },
          },
        );
      }
      const body = await r.exact(size);
      await r.skip(padOf(size));
      if (h.flag === 'x') pax = parsePax(body);
      else if (h.flag === 'L') gnuName = body.toString('utf8').replace(/\0+$/, '');
      else gnuLink = body.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    const size = pax.size !== undefined ? Number(pax.size) : h.size;
    if (pax.size !== undefined && !/^[0-9]{1,15}$/.test(pax.size)) throw invalidSize(pax.path ?? h.name, pax.size);
    const name = pax.path ?? gnuName ?? h.name;
    const linkname = pax.linkpath ?? gnuLink ?? h.linkname;
    pax = {};
    gnuName = gnuLink = undefined;

    let rel = safeRelative(name);
    if (rel === null) throw unsafe(name, 'absolute path or ".." component');
    let wanted = true;
    if (opts.strip) {
      if (rel === opts.strip) rel = '';
      else if (rel.startsWith(`${opts.strip}/`)) rel = rel.slice(opts.strip.length + 1);
      else wanted = false;
    }
    const isFile = h.flag === '0' || h.flag === '\0' || h.flag === '7';
    if (!wanted || rel === '') {
      await r.skip(isFile ? size + padOf(size) : 0);
      continue;
    }
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const up = parts.slice(0, i).join('/');
      if (links.has(up)) throw unsafe(name, `its parent "${up}" is a symlink`);
      if (seen.get(up) === 'file') throw unsafe(name, `its parent "${up}" is a file`);
    }
    const before = seen.get(rel) ?? (links.has(rel) ? 'symlink' : undefined);
    const dest = path.join(target, rel);

    if (h.flag === '5') {
      if (before !== undefined && before !== 'dir') throw unsafe(name, 'appears twice with different types');
      await dirs.ensure(dest);
      seen.set(rel, 'dir');
      result.dirs++;
    } else if (isFile) {
      if (before !== undefined) throw unsafe(name, 'appears twice');
      seen.set(rel, 'file');
      result.files++;
      const mode = h.mode & 0o777;
      const mtime = opts.mtime ?? h.mtime;
      if (size <= SMALL_FILE) {
        // Small files are written in parallel (bounded); their bytes are already in memory.
        const data = await r.exact(size);
        await r.skip(padOf(size));
        await writes.add(writeSmallFile(dirs, dest, mode, mtime, data));
      } else {
        await writes.drain(); // keep memory bounded: one large file streams at a time
        const fh = await openNew(dirs, dest, mode);
        try {
          for (let left = size; left > 0;) {
            const chunk = await r.some(Math.min(left, 1 << 20));
            await fh.write(chunk);
            left -= chunk.length;
          }
          await fh.utimes(mtime, mtime);
        } finally {
          await fh.close();
        }
        await r.skip(padOf(size));
      }
    } else if (h.flag === '2') {
      if (before !== undefined) throw unsafe(name, 'appears twice');
      links.set(rel, linkname);
    } else {
      throw new BrrError(
        'tar_unsupported_entry',
        `tar entry "${name}": type "${h.flag}" is not supported (only files, directories and symlinks)`,
        {
          hint: 'hard links, devices and FIFOs cannot go into a brr image or checkout',
        },
      );
    }
  }

  await writes.drain();
  await r.drain();
  // Every file and directory now exists, so each link can be resolved against the final tree.
  for (const [rel, target_] of [...links].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!linkStaysInside(rel, target_, links)) throw unsafe(rel, `symlink to "${target_}" resolves outside the target`);
    await dirs.ensure(path.dirname(path.join(target, rel)));
    try {
      await symlink(target_, path.join(target, rel));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST')
        throw unsafe(rel, 'a symlink over an existing directory or file');
      throw e;
    }
    result.symlinks++;
  }
  return result;
}
