import { BrrError } from '../core/errors.js';
import type { BuildRecord, ProcessSpec, ReleasePhaseSpec } from '../core/types.js';
import { IMAGE_LABELS, type ImageConfig } from './image.js';
import { ANNOTATIONS, type Descriptor, type OciLayout } from './oci-layout.js';

/** Reading images back out of the layout: the manifest, its config, and the build record. */

export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

function corrupt(digest: string, what: string, commit: string | undefined): BrrError {
  return new BrrError('store_corrupt', `image blob ${digest} (${what}) is missing or damaged`, {
    hint: `rebuild it: brr build --ref ${commit ?? '<commit>'} --no-cache`,
    details: { blob: digest, what },
  });
}

/** Parses a JSON blob; a missing or unparseable blob is store corruption. */
export async function readJsonBlob<T>(layout: OciLayout, digest: string, what: string, commit?: string): Promise<T> {
  try {
    return JSON.parse((await layout.readBlob(digest)).toString('utf8')) as T;
  } catch (e) {
    if (e instanceof BrrError) throw e;
    throw corrupt(digest, what, commit);
  }
}

export async function readManifest(layout: OciLayout, digest: string, commit?: string): Promise<ImageManifest> {
  const m = await readJsonBlob<ImageManifest>(layout, digest, 'manifest', commit);
  if (!m || typeof m !== 'object' || !m.config || !Array.isArray(m.layers)) throw corrupt(digest, 'manifest', commit);
  return m;
}

export async function readConfig(layout: OciLayout, manifest: ImageManifest, commit?: string): Promise<ImageConfig> {
  const c = await readJsonBlob<ImageConfig>(layout, manifest.config.digest, 'config', commit);
  if (!c || typeof c !== 'object' || !c.rootfs || !Array.isArray(c.rootfs.diff_ids))
    throw corrupt(manifest.config.digest, 'config', commit);
  return c;
}

/** Index entries brr wrote (other tools may share the layout; their entries are left alone). */
export function isBrrEntry(d: Descriptor): boolean {
  return d.annotations?.[ANNOTATIONS.cacheKey] !== undefined && d.annotations?.[ANNOTATIONS.revision] !== undefined;
}

/**
 * The build record of one index entry. Listing must keep working when a blob is damaged (the
 * damage is reported, loudly, when the build is materialized), so unreadable blobs give an
 * empty process map and the index entry's size.
 */
export async function buildRecordOf(layout: OciLayout, d: Descriptor): Promise<BuildRecord> {
  const a = d.annotations ?? {};
  let processes: Record<string, ProcessSpec> = {};
  let release: ReleasePhaseSpec | null = null;
  let base: string | null = null;
  let init: string | null = null;
  let size = d.size;
  try {
    const m = await readManifest(layout, d.digest);
    size += m.config.size + m.layers.reduce((n, l) => n + l.size, 0);
    const c = await readConfig(layout, m);
    const label = c.config?.Labels?.[IMAGE_LABELS.manifest];
    base = c.config?.Labels?.[IMAGE_LABELS.base] ?? null;
    init = c.config?.Labels?.[IMAGE_LABELS.init] ?? null;
    // Release phase first: an image whose release label is unreadable gets no processes either,
    // so it is never run without its migrations.
    release = releasePhaseOf(c.config?.Labels?.[IMAGE_LABELS.release]);
    if (label) processes = JSON.parse(label) as Record<string, ProcessSpec>;
  } catch (e) {
    if (!(e instanceof BrrError && e.code === 'store_corrupt') && !(e instanceof SyntaxError)) throw e;
  }
  return {
    digest: d.digest,
    commit: a[ANNOTATIONS.revision] ?? '',
    app: a[ANNOTATIONS.app] || null,
    source: a[ANNOTATIONS.source] ?? '',
    path: a[ANNOTATIONS.path] ?? '',
    size,
    createdAt: a[ANNOTATIONS.created] ?? '',
    processes,
    release,
    ref: a[ANNOTATIONS.refName] ?? '',
    base,
    // Only present with an init, so records of images without one read as they always did.
    ...(init ? { init } : {}),
    pushed: pushedOf(a[PUSHED_ANNOTATION]),
  };
}

/** The release phase from its image label; SyntaxError when the label is not `{ command: string }`. */
export function releasePhaseOf(label: string | undefined): ReleasePhaseSpec | null {
  if (label === undefined) return null;
  const v = JSON.parse(label) as unknown;
  if (
    typeof v !== 'object' ||
    v === null ||
    typeof (v as ReleasePhaseSpec).command !== 'string' ||
    (v as ReleasePhaseSpec).command.trim() === ''
  ) {
    throw new SyntaxError(`label ${IMAGE_LABELS.release} is not { command: string }`);
  }
  return { command: (v as ReleasePhaseSpec).command };
}

/** Index annotation recording where a build was pushed: a JSON list of `registry/repo[:tag]@sha256:…`. */
export const PUSHED_ANNOTATION = 'dev.brr.pushed';

/** The pushed list of an index entry; a damaged annotation reads as none (it is informational). */
export function pushedOf(annotation: string | undefined): string[] {
  if (!annotation) return [];
  try {
    const v = JSON.parse(annotation) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}
