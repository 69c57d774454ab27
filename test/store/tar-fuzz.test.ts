/**
 * Fuzzes the tar extractor, which unpacks layers pulled from registries: seeded random archives
 * and valid archives from our own writer with bytes flipped, tails cut and size fields inflated.
 * Whatever the input, nothing is written outside the target, no symlink in it resolves outside,
 * the extractor ends (the test's own timeout is the budget), a claimed size is never buffered
 * before it is checked, and failures are BrrErrors or clean filesystem refusals.
 */
import { mkdirSync, readdirSync, realpathSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { BrrError } from '../../src/core/errors.js';
import { extractTar, MAX_META_BODY } from '../../src/store/tar-extract.js';
import { BLOCK, blockPadding, encodeHeader, endOfArchive } from '../../src/store/tar-header.js';
import { tarStream } from '../../src/store/tar.js';
import { cleanupTempDirs, tempDir } from '../build/git-fixture.js';

afterAll(cleanupTempDirs);

/** mulberry32: a small seeded PRNG, so a failing case can be replayed from its seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const int = (rnd: () => number, n: number) => Math.floor(rnd() * n);

/** A source tree with the entry kinds the writer emits: PAX long names, symlinks, dirs, files. */
function sourceTree(): string {
  const root = tempDir('fuzz-src');
  const files: Record<string, string> = {
    'a.txt': 'alpha\n',
    'bin/run.sh': '#!/bin/sh\necho run\n',
    [`deep/${'d'.repeat(90)}/${'e'.repeat(80)}.txt`]: 'long name\n',
    'sub/b.bin': 'b'.repeat(3000),
  };
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    writeFileSync(path.join(root, f), text);
  }
  symlinkSync('../a.txt', path.join(root, 'sub/link'));
  symlinkSync(`../deep/${'d'.repeat(90)}`, path.join(root, 'sub/long-link'));
  return root;
}

async function validArchive(dir: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of tarStream(dir, { prefix: 'app', mtime: 1_700_000_000 })) chunks.push(c);
  return Buffer.concat(chunks);
}

function setChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i]!;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
}

/** Offsets of the header blocks of a well-formed archive (walks sizes; stops at the end). */
function headerOffsets(tar: Buffer): number[] {
  const out: number[] = [];
  for (let at = 0; at + BLOCK <= tar.length;) {
    const block = tar.subarray(at, at + BLOCK);
    if (block.every((x) => x === 0)) break;
    out.push(at);
    const size = parseInt(block.toString('ascii', 124, 135), 8) || 0;
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}

/** One mutation of a valid archive; headers keep a correct checksum half of the time. */
function mutate(valid: Buffer, rnd: () => number): Buffer {
  const tar = Buffer.from(valid);
  const heads = headerOffsets(tar);
  const rounds = 1 + int(rnd, 4);
  let out = tar;
  for (let k = 0; k < rounds; k++) {
    const h = pick(rnd, heads);
    const block = out.subarray(h, h + BLOCK);
    switch (int(rnd, 7)) {
      case 0: // random bytes anywhere
        for (let i = 0; i < 1 + int(rnd, 8); i++) out[int(rnd, out.length)] = int(rnd, 256);
        break;
      case 1: // truncate
        out = out.subarray(0, int(rnd, out.length));
        return out;
      case 2: {
        // inflate the size field, octal (up to 8 GiB) or GNU base-256 (far beyond)
        if (rnd() < 0.5) block.write(pick(rnd, ['77777777777', '00004000001', '00000001000', '7777']) + '\0', 124);
        else {
          block.fill(0, 124, 136);
          block[124] = 0x80;
          for (let i = 125; i < 136; i++) block[i] = int(rnd, 256);
        }
        if (rnd() < 0.8) setChecksum(block);
        break;
      }
      case 3: // change the type flag
        block[156] = pick(rnd, [...'0125xgLK7 346'].map((c) => c.charCodeAt(0)).concat(0));
        if (rnd() < 0.8) setChecksum(block);
        break;
      case 4: {
        // hostile name or link target
        const hostile = pick(rnd, ['../escape', '/etc/x', 'app/../../x', 'app/sub/link/x', 'app/a.txt/x', 'app', '..']);
        block.fill(0, rnd() < 0.5 ? 0 : 157, rnd() < 0.5 ? 100 : 257);
        block.write(hostile, rnd() < 0.5 ? 0 : 157);
        setChecksum(block);
        break;
      }
      case 5: // duplicate a slice (entries appear twice, maybe cut mid-way)
        out = Buffer.concat([out.subarray(0, h + BLOCK * int(rnd, 3)), out.subarray(h)]);
        break;
      case 6: // garble a PAX body, if this header has one
        if (block[156] === 0x78 && h + BLOCK + 8 < out.length) {
          for (let i = 0; i < 4; i++) out[h + BLOCK + int(rnd, 8)] = pick(rnd, [0x20, 0x3d, 0x30, 0x39, 0x0a, 0x41]);
        }
        break;
    }
  }
  return out;
}

/** A random archive from scratch: random types, names, link targets, sizes and bodies. */
function randomArchive(rnd: () => number): Buffer {
  const names = ['a', 'a/b', 'a/b/c', 'l', 'l/x', '../up', '/abs', 'a/../../x', '.', 'm', 'm/n', 'a/./b'];
  const targets = ['.', '..', '../..', 'a', 'l/..', 'm/../..', '/etc', 'a/b', 'l', 'm'];
  const parts: Buffer[] = [];
  for (let n = int(rnd, 10); n > 0; n--) {
    const type = pick(rnd, ['file', 'dir', 'symlink'] as const);
    const name = pick(rnd, names) + (rnd() < 0.1 ? '/' + 'z'.repeat(120) : '');
    const linkname = type === 'symlink' ? pick(rnd, targets) : '';
    const data = type === 'file' ? Buffer.alloc(int(rnd, 2000), int(rnd, 256)) : Buffer.alloc(0);
    parts.push(encodeHeader({ name, type, mode: 0o644, size: data.length, mtime: 0, linkname }));
    if (rnd() < 0.1) {
      // a raw extended header of a random kind and size in front of the next entry
      const body = Buffer.from(`${int(rnd, 40)} path=${pick(rnd, names)}\n`);
      const h = encodeHeader({ name: 'x', type: 'file', mode: 0o644, size: body.length, mtime: 0, linkname: '' });
      h[156] = pick(rnd, ['x', 'L', 'K', 'g']).charCodeAt(0);
      setChecksum(h);
      parts.push(h, body, blockPadding(body.length));
    }
    parts.push(data, blockPadding(data.length));
  }
  if (rnd() < 0.8) parts.push(endOfArchive());
  return Buffer.concat(parts);
}

/** Every path under `dir` (not following symlinks). */
function walk(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel)).flatMap((n) => {
    const r = rel ? `${rel}/${n}` : n;
    return lstatSync(path.join(dir, r)).isDirectory() ? [r, ...walk(dir, r)] : [r];
  });
}

/** Chunks of random sizes, so header and body boundaries fall anywhere in the stream. */
function chunked(buf: Buffer, rnd: () => number): Readable {
  const out: Buffer[] = [];
  for (let at = 0; at < buf.length;) {
    const n = 1 + int(rnd, 3000);
    out.push(buf.subarray(at, at + n));
    at += n;
  }
  return Readable.from(out);
}

/** Extracts into `<case>/target`, then checks nothing else under `<case>` appeared. */
async function runCase(root: string, label: string, archive: Buffer, rnd: () => number): Promise<string> {
  const caseDir = path.join(root, label);
  const target = path.join(caseDir, 'target');
  mkdirSync(target, { recursive: true });
  let outcome = 'ok';
  try {
    await extractTar(chunked(archive, rnd), target, { strip: rnd() < 0.3 ? 'app' : undefined });
  } catch (e) {
    const clean =
      e instanceof BrrError || (e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string');
    if (!clean) throw new Error(`${label}: unexpected ${String(e)}`, { cause: e });
    outcome = e instanceof BrrError ? e.code : `errno:${(e as NodeJS.ErrnoException).code}`;
  }
  expect(readdirSync(caseDir), `${label}: wrote beside the target`).toEqual(['target']);
  const real = realpathSync(target);
  for (const rel of walk(target)) {
    const abs = path.join(target, rel);
    if (!lstatSync(abs).isSymbolicLink()) continue;
    let resolved: string;
    try {
      resolved = realpathSync(abs);
    } catch {
      continue; // dangling inside the target: harmless
    }
    expect(resolved === real || resolved.startsWith(real + path.sep), `${label}: ${rel} → ${resolved}`).toBe(true);
  }
  await rm(caseDir, { recursive: true, force: true });
  return outcome;
}

describe('tar extractor fuzz', () => {
  it('survives 150 mutations of valid archives from our own writer', { timeout: 30_000 }, async () => {
    const valid = await validArchive(sourceTree());
    const root = tempDir('fuzz-mut');
    const outcomes = new Map<string, number>();
    for (let seed = 1; seed <= 150; seed++) {
      const rnd = seeded(seed);
      const o = await runCase(root, `mut-${seed}`, mutate(valid, rnd), rnd);
      outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
    }
    // The mutations reach past the checksum: some archives still extract, others are refused.
    expect(outcomes.get('ok')).toBeGreaterThan(0);
    expect(outcomes.get('tar_invalid')).toBeGreaterThan(0);
  });

  it('survives 150 random archives with hostile names and links', { timeout: 30_000 }, async () => {
    const root = tempDir('fuzz-rand');
    for (let seed = 1; seed <= 150; seed++) {
      const rnd = seeded(1000 + seed);
      await runCase(root, `rand-${seed}`, randomArchive(rnd), rnd);
    }
  });

  it('refuses a PAX or long-name header claiming 10 GB before reading its body', async () => {
    for (const flag of ['x', 'L', 'K']) {
      const h = encodeHeader({ name: 'huge', type: 'file', mode: 0o644, size: 0, mtime: 0, linkname: '' });
      h.write((10_000_000_000).toString(8).padStart(11, '0') + '\0', 124, 'ascii');
      h[156] = flag.charCodeAt(0);
      setChecksum(h);
      let pulled = 0;
      // An endless source: buffering the claimed body would read (and hold) it all.
      async function* endless() {
        yield h;
        for (;;) {
          pulled++;
          yield Buffer.alloc(64 * 1024);
        }
      }
      const target = tempDir('fuzz-huge');
      await expect(extractTar(endless(), target)).rejects.toMatchObject({
        code: 'tar_header_too_large',
        details: { entry: 'huge', size: 10_000_000_000 },
      });
      expect(pulled).toBeLessThanOrEqual(1);
    }
  });

  it('reads a long-name body at the cap, and refuses one a byte over', async () => {
    const at = (size: number) => {
      const h = encodeHeader({ name: 'long', type: 'file', mode: 0o644, size, mtime: 0, linkname: '' });
      h[156] = 'L'.charCodeAt(0);
      setChecksum(h);
      const body = Buffer.alloc(size, 0);
      body.write('named-by-gnu');
      const file = encodeHeader({ name: 'short', type: 'file', mode: 0o644, size: 0, mtime: 0, linkname: '' });
      return Buffer.concat([h, body, blockPadding(size), file, endOfArchive()]);
    };
    const ok = tempDir('fuzz-cap');
    await extractTar(Readable.from([at(MAX_META_BODY)]), ok);
    expect(readdirSync(ok)).toEqual(['named-by-gnu']);
    await expect(extractTar(Readable.from([at(MAX_META_BODY + 1)]), tempDir('fuzz-cap'))).rejects.toMatchObject({
      code: 'tar_header_too_large',
    });
  });

  it('refuses a PAX size record that is not a byte count', async () => {
    const pax = Buffer.from('15 size=-12345\n');
    const h = encodeHeader({ name: 'p', type: 'file', mode: 0o644, size: pax.length, mtime: 0, linkname: '' });
    h[156] = 'x'.charCodeAt(0);
    setChecksum(h);
    const file = encodeHeader({ name: 'f', type: 'file', mode: 0o644, size: 0, mtime: 0, linkname: '' });
    const tar = Buffer.concat([h, pax, blockPadding(pax.length), file, endOfArchive()]);
    await expect(extractTar(Readable.from([tar]), tempDir('fuzz-pax'))).rejects.toMatchObject({ code: 'tar_invalid' });
  });
});
