import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { MEDIA_TYPES, OciLayout, type Descriptor } from '../../src/store/oci-layout.js';
import { writeLayer } from '../../src/store/tar.js';
import { goArch } from '../../src/store/image.js';
import { cleanupTempDirs, tempDir } from '../build/git-fixture.js';
import { startPodman, type TestPodman } from './podman.js';
import { startRegistry, type TestRegistry } from './registry.js';

/**
 * Base images made in the test from Debian's busybox-static (no internet, no image pulls): an
 * OCI layout with a one-layer busybox image, or an index of several platform variants, pushed
 * to the test's registry with skopeo (a second, independent implementation of the protocol).
 */

export const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'httpd', 'cat', 'echo', 'ls', 'sleep', 'mkdir', 'wget'];

export interface BaseOpts {
  /** OCI architecture recorded in the config (the busybox binary is the host's either way). */
  architecture: string;
  /** A file /etc/brr-base holding this text, so variants differ. */
  marker: string;
}

/** Writes a busybox image into the layout at `dir` under ref name `ref`; returns its manifest descriptor. */
export async function writeBusyboxImage(dir: string, ref: string, opts: BaseOpts): Promise<Descriptor> {
  const layout = new OciLayout(dir);
  await layout.init();
  const rootfs = mkdtempSync(path.join(tmpdir(), 'brr-rootfs-'));
  try {
    mkdirSync(path.join(rootfs, 'bin'));
    mkdirSync(path.join(rootfs, 'etc'));
    copyFileSync(BUSYBOX, path.join(rootfs, 'bin', 'busybox'));
    for (const a of APPLETS) symlinkSync('busybox', path.join(rootfs, 'bin', a));
    writeFileSync(path.join(rootfs, 'etc', 'brr-base'), `${opts.marker}\n`);
    const tmp = layout.tempPath('layer');
    const l = await writeLayer(rootfs, tmp, { prefix: '', mtime: 0 });
    await layout.adoptBlob(tmp, l.digest);
    const created = '1970-01-01T00:00:00.000Z';
    const config = {
      architecture: opts.architecture,
      os: 'linux',
      created,
      config: { Env: ['PATH=/bin', 'BASE_ONLY=1'], Cmd: ['/bin/sh'], Labels: { 'test.base': opts.marker } },
      rootfs: { type: 'layers', diff_ids: [l.diffId] },
      history: [{ created, created_by: 'test: busybox-static' }],
    };
    const configDesc = await layout.putBlob(canonicalJson(config), MEDIA_TYPES.config);
    const layer = { mediaType: MEDIA_TYPES.layerGzip, digest: l.digest, size: l.size };
    const manifest = await layout.putBlob(
      canonicalJson({ schemaVersion: 2, mediaType: MEDIA_TYPES.manifest, config: configDesc, layers: [layer] }),
      MEDIA_TYPES.manifest,
    );
    await layout.addImage({ ...manifest, annotations: { 'org.opencontainers.image.ref.name': ref } });
    return manifest;
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
}

/** Writes an image index over `images` (each with its platform) under ref name `ref`. */
export async function writeIndex(
  dir: string,
  ref: string,
  images: Array<{ desc: Descriptor; architecture: string }>,
): Promise<Descriptor> {
  const layout = new OciLayout(dir);
  const manifests = images.map((i) => ({
    mediaType: i.desc.mediaType,
    digest: i.desc.digest,
    size: i.desc.size,
    platform: { architecture: i.architecture, os: 'linux' },
  }));
  const index = await layout.putBlob(
    canonicalJson({ schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests }),
    MEDIA_TYPES.index,
  );
  await layout.addImage({ ...index, annotations: { 'org.opencontainers.image.ref.name': ref } });
  return index;
}

/** skopeo copy from the layout to a plain-HTTP test registry (`--all` keeps an index whole). */
export function skopeoPush(dir: string, ref: string, dest: string): void {
  execFileSync(
    'skopeo',
    ['copy', '--quiet', '--all', '--dest-tls-verify=false', `oci:${dir}:${ref}`, `docker://${dest}`],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/**
 * What the tests that run a built image start from: a real registry holding a busybox base at
 * `<host>/base:1` (its marker file says `marker`), and podman set up to pull from it.
 */
export async function startBusyboxBaseRegistry(
  marker: string,
): Promise<{ reg: TestRegistry; podman: TestPodman; stop(): Promise<void> }> {
  const reg = await startRegistry();
  const podman = startPodman([reg.host]);
  const dir = tempDir('oci-base');
  await writeBusyboxImage(dir, 'base', { architecture: goArch(), marker });
  skopeoPush(dir, 'base', `${reg.host}/base:1`);
  return {
    reg,
    podman,
    async stop() {
      podman.cleanup();
      await reg.stop();
      cleanupTempDirs();
    },
  };
}
