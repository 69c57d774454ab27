import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { constants as z, crc32, deflateRawSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DEFLATE_OUT, GZIP_PIECE, GZIP_SETTINGS, deterministicGzip, parallelGzip } from '../../src/store/tar.js';

/**
 * The layer compressor (src/store/tar.ts parallelGzip): one ordinary gzip member whatever the
 * size, the same bytes on every run and whatever sizes the input arrives in, and exactly
 * deterministicGzip's bytes (OS byte pinned) for a layer of one piece, so small layers keep the
 * digests they always had.
 */

/** Compressible but not trivial: text-like lines with pseudo-random numbers. */
function sample(bytes: number): Buffer {
  const parts: Buffer[] = [];
  let h = Buffer.from('gz');
  let n = 0;
  while (n < bytes) {
    h = createHash('sha256').update(h).digest();
    const line = Buffer.from(`const v${h.readUInt16BE(0)} = require("pkg-${h[2]! % 40}") + ${h.readUInt32BE(4)};\n`);
    parts.push(line);
    n += line.length;
  }
  return Buffer.concat(parts).subarray(0, bytes);
}

async function run(gz: () => NodeJS.ReadWriteStream, data: Buffer, slice = 64 * 1024): Promise<Buffer> {
  const out: Buffer[] = [];
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += slice) chunks.push(data.subarray(i, i + slice));
  await pipeline(
    Readable.from(chunks),
    gz(),
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

/**
 * The same pieces, dictionaries and flushes as parallelGzip, deflated one by one with zlib's
 * default 16 KiB output buffer: a reference independent of parallelGzip's buffer size.
 */
function referenceGzip(data: Buffer): Buffer {
  const parts = [Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])];
  let tail: Buffer | undefined;
  for (let at = 0; at === 0 || at < data.length; at += GZIP_PIECE) {
    const piece = data.subarray(at, at + GZIP_PIECE);
    const last = at + GZIP_PIECE >= data.length;
    parts.push(
      deflateRawSync(piece, {
        ...GZIP_SETTINGS,
        ...(tail ? { dictionary: tail } : {}),
        finishFlush: last ? z.Z_FINISH : z.Z_SYNC_FLUSH,
      }),
    );
    tail = piece.subarray(Math.max(0, piece.length - 32 * 1024));
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data) >>> 0, 0);
  trailer.writeUInt32LE(data.length % 2 ** 32, 4);
  return Buffer.concat([...parts, trailer]);
}

describe('parallelGzip', () => {
  it('writes the bytes of piece-by-piece deflate with the default output buffer (its own is larger)', async () => {
    expect(DEFLATE_OUT).toBeGreaterThan(16 * 1024);
    for (const n of [GZIP_PIECE, 3 * GZIP_PIECE + 12345]) {
      const data = sample(n);
      expect((await run(parallelGzip, data)).equals(referenceGzip(data))).toBe(true);
    }
    // Incompressible pieces too: each one's output is larger than its input.
    const noise = Buffer.concat(
      Array.from({ length: (2 * GZIP_PIECE + 999) / 32 + 1 }, (_, i) => createHash('sha256').update(`n${i}`).digest()),
    ).subarray(0, 2 * GZIP_PIECE + 999);
    expect((await run(parallelGzip, noise)).equals(referenceGzip(noise))).toBe(true);
  });

  it.each([0, 1, 1000, GZIP_PIECE])('is deterministicGzip byte for byte for one piece (%i bytes)', async (n) => {
    const data = sample(n);
    const a = await run(parallelGzip, data);
    const b = await run(deterministicGzip, data);
    b[9] = 255; // the OS byte writeLayer pins
    expect(a.equals(b)).toBe(true);
  });

  it.each([GZIP_PIECE + 1, 3 * GZIP_PIECE, 3 * GZIP_PIECE + 12345])(
    'round-trips %i bytes, identical across runs and input chunkings',
    async (n) => {
      const data = sample(n);
      const a = await run(parallelGzip, data, 64 * 1024);
      const b = await run(parallelGzip, data, 1_000_003);
      expect(a.equals(b)).toBe(true);
      expect(gunzipSync(a).equals(data)).toBe(true);
      // The dictionary keeps the ratio of one stream (within a few per cent).
      const single = await run(deterministicGzip, data);
      expect(a.length).toBeLessThan(single.length * 1.03);
    },
  );
});
