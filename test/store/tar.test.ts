import { execFileSync } from 'node:child_process';
import {
  createReadStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeHeader, endOfArchive, blockPadding, type TarHeader } from '../../src/store/tar-header.js';
import { extractTar } from '../../src/store/tar-extract.js';
import { writeLayer } from '../../src/store/tar.js';
import { cleanupTempDirs, tempDir } from '../build/git-fixture.js';

afterAll(cleanupTempDirs);

const LONG = `deep/${'d'.repeat(60)}/${'e'.repeat(70)}/${'f'.repeat(120)}.txt`;

/** A tree with every kind of entry the writer supports. */
function makeTree(root: string, reverse = false): void {
  const files: Array<[string, string, number]> = [
    ['a.txt', 'alpha\n', 0o644],
    ['bin/run.sh', '#!/bin/sh\necho run\n', 0o755],
    ['sub/dir/b.bin', 'b'.repeat(70_000), 0o600],
    [LONG, 'long name\n', 0o644],
    ['ünïcode/名前.txt', 'utf8\n', 0o664],
  ];
  for (const [f, text, mode] of reverse ? [...files].reverse() : files) {
    mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    writeFileSync(path.join(root, f), text);
    chmodSync(path.join(root, f), mode);
  }
  mkdirSync(path.join(root, 'empty'));
  symlinkSync('../a.txt', path.join(root, 'sub/link-to-a'));
  symlinkSync(`${'../'.repeat(1)}deep/${'d'.repeat(60)}`, path.join(root, 'sub/long-link'));
}

async function layerOf(dir: string, prefix = 'app', mtime = 1_700_000_000) {
  const file = path.join(tempDir('layer'), 'layer.tgz');
  const res = await writeLayer(dir, file, { prefix, mtime });
  return { file, res, bytes: readFileSync(file) };
}

function tarOf(entries: Array<TarHeader & { data?: string }>): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    parts.push(encodeHeader({ ...e, size: data.length }), data, blockPadding(data.length));
  }
  parts.push(endOfArchive());
  return Buffer.concat(parts);
}

const base = { mode: 0o644, size: 0, mtime: 0, linkname: '' };

describe('writeLayer', () => {
  it('writes a tar that GNU tar lists with fixed owners, modes and mtimes, sorted', async () => {
    const src = tempDir('src');
    makeTree(src);
    const { bytes, res } = await layerOf(src);
    const tar = gunzipSync(bytes);
    expect(res.diffId).toBe(`sha256:${createHash('sha256').update(tar).digest('hex')}`);
    expect(res.digest).toBe(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
    expect(res.size).toBe(bytes.length);
    const tarFile = path.join(tempDir('t'), 'x.tar');
    writeFileSync(tarFile, tar);
    const listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', tarFile], {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC' },
    })
      .trim()
      .split('\n');
    const names = execFileSync('tar', ['-tf', tarFile], { encoding: 'utf8' }).trim().split('\n');
    expect(names).toEqual([...names].sort());
    expect(names).toContain(`app/${LONG}`);
    expect(names[0]).toBe('app/');
    for (const l of listing) expect(l).toMatch(/^\S+ 0\/0 .* 2023-11-14 22:13:20 /);
    expect(listing.find((l) => l.includes('run.sh'))).toMatch(/^-rwxr-xr-x/);
    expect(listing.find((l) => l.includes('b.bin'))).toMatch(/^-rw-r--r--/);
    expect(listing.find((l) => l.includes('link-to-a'))).toMatch(/^lrwxrwxrwx .* -> \.\.\/a\.txt$/);
  });

  it('round-trips through extractTar: contents, exec bits, symlinks, long and unicode names', async () => {
    const src = tempDir('src');
    makeTree(src);
    const { file } = await layerOf(src);
    const out = tempDir('out');
    const { createGunzip } = await import('node:zlib');
    const res = await extractTar(createReadStream(file).pipe(createGunzip()), out, { strip: 'app' });
    expect(res.symlinks).toBe(2);
    for (const f of ['a.txt', 'bin/run.sh', 'sub/dir/b.bin', LONG, 'ünïcode/名前.txt']) {
      expect(readFileSync(path.join(out, f))).toEqual(readFileSync(path.join(src, f)));
    }
    expect(lstatSync(path.join(out, 'bin/run.sh')).mode & 0o111).not.toBe(0);
    expect(lstatSync(path.join(out, 'a.txt')).mode & 0o111).toBe(0);
    expect(readlinkSync(path.join(out, 'sub/link-to-a'))).toBe('../a.txt');
    expect(readFileSync(path.join(out, 'sub/link-to-a'), 'utf8')).toBe('alpha\n');
    expect(existsSync(path.join(out, 'empty'))).toBe(true);
    expect(lstatSync(path.join(out, 'a.txt')).mtimeMs).toBe(1_700_000_000_000);
  });

  it('gives byte-identical layers for the same tree built at another time, order and mode mask', async () => {
    const a = tempDir('a');
    makeTree(a);
    await new Promise((r) => setTimeout(r, 1100));
    const b = tempDir('b');
    makeTree(b, true);
    chmodSync(path.join(b, 'a.txt'), 0o600); // owner-only modes normalize to 0644 too
    const [la, lb] = [await layerOf(a), await layerOf(b)];
    expect(lb.res.digest).toBe(la.res.digest);
    expect(lb.bytes.equals(la.bytes)).toBe(true);
    const other = await layerOf(a, 'app', 1_700_000_001);
    expect(other.res.digest).not.toBe(la.res.digest);
  });

  it('streams many small files and a large one (the read-ahead and streaming paths)', async () => {
    const src = tempDir('many');
    for (let i = 0; i < 40; i++) {
      mkdirSync(path.join(src, `node_modules/pkg${i}`), { recursive: true });
      for (let j = 0; j < 25; j++)
        writeFileSync(path.join(src, `node_modules/pkg${i}/f${j}.js`), `module.exports = ${i * j};\n`);
    }
    const big = Buffer.alloc(3 * 1024 * 1024 + 7);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    writeFileSync(path.join(src, 'big.bin'), big);
    const { file, res } = await layerOf(src);
    const out = tempDir('many-out');
    const { createGunzip } = await import('node:zlib');
    expect(await extractTar(createReadStream(file).pipe(createGunzip()), out, { strip: 'app' })).toEqual({
      files: 1001,
      dirs: 41,
      symlinks: 0,
    });
    expect(readFileSync(path.join(out, 'big.bin')).equals(big)).toBe(true);
    expect(readFileSync(path.join(out, 'node_modules/pkg39/f24.js'), 'utf8')).toBe('module.exports = 936;\n');
    expect((await layerOf(src)).res.digest).toBe(res.digest);
  });

  it('writes a deterministic gzip header: no mtime, no name, OS byte pinned to 255', async () => {
    const src = tempDir('src');
    writeFileSync(path.join(src, 'x'), 'x');
    const { bytes } = await layerOf(src);
    expect([...bytes.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
  });

  it('refuses symlinks that leave the packed directory and special files', async () => {
    const src = tempDir('src');
    symlinkSync('../../etc/passwd', path.join(src, 'escape'));
    await expect(layerOf(src)).rejects.toMatchObject({ code: 'tar_unsafe_entry' });
    const fifo = tempDir('fifo');
    execFileSync('mkfifo', [path.join(fifo, 'pipe')]);
    await expect(layerOf(fifo)).rejects.toMatchObject({ code: 'tar_unsupported_entry' });
  });
});

describe('extractTar refuses entries that escape the target', () => {
  const cases: Array<[string, Array<TarHeader & { data?: string }>]> = [
    ['a ../ path', [{ ...base, name: '../evil', type: 'file', data: 'x' }]],
    ['a nested ../ path', [{ ...base, name: 'ok/../../evil', type: 'file', data: 'x' }]],
    ['an absolute path', [{ ...base, name: '/tmp/evil', type: 'file', data: 'x' }]],
    ['an absolute symlink', [{ ...base, name: 'l', type: 'symlink', linkname: '/etc' }]],
    ['a symlink up and out', [{ ...base, name: 'd/l', type: 'symlink', linkname: '../../x' }]],
    [
      'a symlink escaping through another symlink',
      [
        { ...base, name: 'l', type: 'symlink', linkname: '.' },
        { ...base, name: 'm', type: 'symlink', linkname: 'l/..' },
      ],
    ],
    [
      'a file written below a symlink',
      [
        { ...base, name: 'l', type: 'symlink', linkname: 'd' },
        { ...base, name: 'l/x', type: 'file', data: 'x' },
      ],
    ],
  ];
  it.each(cases)('%s', async (_label, entries) => {
    const parent = tempDir('evil');
    const target = path.join(parent, 'target');
    mkdirSync(target);
    await expect(extractTar(Readable.from([tarOf(entries)]), target)).rejects.toMatchObject({
      code: 'tar_unsafe_entry',
    });
    expect(readdirSync(parent)).toEqual(['target']);
    expect(existsSync(path.join(target, 'm'))).toBe(false);
  });

  it('accepts links that stay inside, including through other links', async () => {
    const target = tempDir('ok');
    const entries = [
      { ...base, name: 'd/', type: 'dir' as const },
      { ...base, name: 'd/f', type: 'file' as const, data: 'hi' },
      { ...base, name: 'l', type: 'symlink' as const, linkname: 'd' },
      { ...base, name: 'm', type: 'symlink' as const, linkname: 'l/f' },
    ];
    await extractTar(Readable.from([tarOf(entries)]), target);
    expect(readFileSync(path.join(target, 'm'), 'utf8')).toBe('hi');
  });
});

describe('extractTar reads archives made by GNU tar', () => {
  it.each(['pax', 'gnu', 'ustar'])('%s format, with a long name', async (format) => {
    const src = tempDir('gnu');
    const name = format === 'ustar' ? `p/${'q'.repeat(80)}/${'s'.repeat(50)}/r.txt` : LONG; // ustar: split into prefix + name
    mkdirSync(path.dirname(path.join(src, name)), { recursive: true });
    writeFileSync(path.join(src, name), 'content\n');
    const tarFile = path.join(tempDir('tf'), 'x.tar');
    execFileSync('tar', [`--format=${format}`, '-cf', tarFile, '-C', src, '.']);
    const out = tempDir('gout');
    await extractTar(createReadStream(tarFile), out);
    expect(readFileSync(path.join(out, name), 'utf8')).toBe('content\n');
  });
});
