import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GZIP_PIECE, deterministicGzip, parallelGzip } from '../../src/store/tar.js';

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

describe('parallelGzip', () => {
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
