import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { invalidInput } from '../core/errors.js';
import { MEDIA_TYPES, type Descriptor, type OciLayout } from '../store/oci-layout.js';
import { BLOCK, decodeHeader, parsePax } from '../store/tar-header.js';
import { writeLayer } from '../store/tar.js';
import { initKind } from '../core/init-kind.js';
import { DEPENDENCY_MTIME, type AppLayer } from './layers.js';

/**
 * PID 1 of a brr image on Kubernetes must be a real init (CNTi's specialized_init_system,
 * sig_term_handled, zombie_handled). brr knows every file of the image it writes, so it finds
 * tini or dumb-init in the base layers, or packs the static binary named by `build.image.init`
 * as a layer of its own (fixed mtime, root-owned, mode 0755: the same binary gives the same
 * blob). The path found is recorded in the `dev.brr.init` label, which the render reads.
 */

/** Where inits live in common base images (Debian/Ubuntu packages, Alpine, hand-copied ones). */
export const KNOWN_INITS = [
  'usr/bin/tini',
  'usr/bin/tini-static',
  'sbin/tini',
  'usr/sbin/tini',
  'usr/local/bin/tini',
  'usr/local/bin/tini-static',
  'bin/tini',
  'usr/bin/dumb-init',
  'usr/local/bin/dumb-init',
  'bin/dumb-init',
  'usr/sbin/dumb-init',
];

/** Where `build.image.init` goes in the image: the file's own name, so PID 1's argv names it. */
export const INIT_DIR = 'usr/local/bin';

/**
 * Whether an ELF file is statically linked (no PT_INTERP program header): a dynamic init would
 * not start in an image without the matching libc.
 */
export async function isStaticElf(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(64);
    await fh.read(head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46) return false;
    const is64 = head[4] === 2;
    const le = head[5] === 1;
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const phoff = is64 ? Number(le ? head.readBigUInt64LE(0x20) : head.readBigUInt64BE(0x20)) : u32(head, 0x1c);
    const phentsize = u16(head, is64 ? 0x36 : 0x2a);
    const phnum = u16(head, is64 ? 0x38 : 0x2c);
    const table = Buffer.alloc(phentsize * phnum);
    await fh.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (u32(table, i * phentsize) === 3 /* PT_INTERP */) return false;
    return true;
  } finally {
    await fh.close();
  }
}

/** Paths (no leading slash) of a gzip layer's regular files, symlinks and hard links. */
async function layerPaths(file: string, want: ReadonlySet<string>): Promise<Set<string>> {
  const found = new Set<string>();
  let buf: Buffer = Buffer.alloc(0);
  let skip = 0;
  let paxName: string | null = null;
  let longName: string | null = null;
  let collecting: { kind: 'pax' | 'long'; size: number; data: Buffer[] } | null = null;
  for await (const chunk of createReadStream(file).pipe(createGunzip()) as AsyncIterable<Buffer>) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    let at = 0;
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, buf.length - at);
        if (collecting) collecting.data.push(buf.subarray(at, at + n));
        at += n;
        skip -= n;
        if (skip > 0) break;
        if (collecting) {
          const body = Buffer.concat(collecting.data).subarray(0, collecting.size);
          if (collecting.kind === 'pax') paxName = parsePax(body).path ?? null;
          else longName = body.toString('utf8').replace(/\0.*$/s, '');
          collecting = null;
        }
      }
      if (buf.length - at < BLOCK) break;
      const h = decodeHeader(buf.subarray(at, at + BLOCK));
      at += BLOCK;
      if (!h) return found;
      const padded = Math.ceil(h.size / BLOCK) * BLOCK;
      if (h.flag === 'x' || h.flag === 'L') {
        collecting = { kind: h.flag === 'x' ? 'pax' : 'long', size: h.size, data: [] };
        skip = padded;
        continue;
      }
      const name = (paxName ?? longName ?? h.name).replace(/^(\.\/|\/)+/, '');
      paxName = longName = null;
      if (want.has(name) && ['0', '1', '2', '7'].includes(h.flag)) found.add(name);
      skip = h.flag === '0' || h.flag === '7' ? padded : 0;
    }
    buf = buf.subarray(at);
  }
  return found;
}

/** The first known init present in the layers (bottom first; a later layer may add one), or null. */
export async function findInit(layout: OciLayout, layers: readonly Descriptor[]): Promise<string | null> {
  const want = new Set(KNOWN_INITS);
  const present = new Set<string>();
  for (const l of layers) for (const p of await layerPaths(layout.blobPath(l.digest), want)) present.add(p);
  const hit = KNOWN_INITS.find((p) => present.has(p));
  return hit ? `/${hit}` : null;
}

/**
 * `build.image.init`: the static binary at `source` (absolute, or relative to the built
 * directory) as a layer holding `/usr/local/bin/<name>`. Returns the layer and the in-image path.
 */
export async function writeInitLayer(
  layout: OciLayout,
  source: string,
  builtDir: string,
  scratch: string,
): Promise<{ layer: AppLayer; path: string }> {
  const file = path.isAbsolute(source) ? source : path.join(builtDir, source);
  const hint =
    'point build.image.init at a static tini or dumb-init (Debian: `apt-get install tini` gives /usr/bin/tini-static)';
  if (!initKind(file))
    throw invalidInput(
      'init_invalid',
      `build.image.init ${source}: the file name must contain tini or dumb-init`,
      hint,
    );
  const isStatic = await isStaticElf(file).catch((e: NodeJS.ErrnoException) => {
    throw invalidInput(
      'init_invalid',
      `build.image.init ${source}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`,
      hint,
    );
  });
  if (!isStatic)
    throw invalidInput('init_invalid', `build.image.init ${source}: not a statically linked executable`, hint);
  const root = path.join(scratch, 'init-layer');
  const name = path.basename(file);
  await mkdir(path.join(root, INIT_DIR), { recursive: true });
  const dest = path.join(root, INIT_DIR, name);
  await copyFile(file, dest);
  await chmod(dest, 0o755);
  const tmp = layout.tempPath('layer');
  try {
    const res = await writeLayer(root, tmp, { prefix: '', mtime: DEPENDENCY_MTIME });
    await layout.adoptBlob(tmp, res.digest);
    return {
      layer: {
        descriptor: { mediaType: MEDIA_TYPES.layerGzip, digest: res.digest, size: res.size },
        diffId: res.diffId,
        name: 'init',
      },
      path: `/${INIT_DIR}/${name}`,
    };
  } finally {
    await rm(tmp, { force: true });
    await rm(root, { recursive: true, force: true });
  }
}
