import { invalidInput, notFound } from '../core/errors.js';
import type { HomePaths } from '../core/home.js';
import type { BuildRecord } from '../core/types.js';
import { buildRecordOf, isBrrEntry, PUSHED_ANNOTATION, pushedOf } from './image-read.js';
import { ANNOTATIONS, OciLayout, type Descriptor } from './oci-layout.js';

/**
 * The builds in the local store, read from the OCI index. One image built for two apps has two
 * index entries (two refs, one digest), so it is listed once per app.
 */

/**
 * brr's index entries, newest first (by the time stored), from index.json alone: app, digest
 * and time are annotations, so picking one build reads the blobs of that build only.
 */
async function entriesNewestFirst(layout: OciLayout): Promise<Descriptor[]> {
  const created = (d: Descriptor) => d.annotations?.[ANNOTATIONS.created] ?? '';
  // Reverse first so that among equal times the entry added last comes first (sort is stable).
  return (await layout.listImages())
    .filter(isBrrEntry)
    .reverse()
    .sort((a, b) => (created(a) < created(b) ? 1 : created(a) > created(b) ? -1 : 0));
}

/** Every build, newest first (by the time it was stored). */
export async function listBuilds(paths: HomePaths): Promise<BuildRecord[]> {
  const layout = new OciLayout(paths.oci);
  const records: BuildRecord[] = [];
  for (const d of await entriesNewestFirst(layout)) records.push(await buildRecordOf(layout, d));
  return records;
}

const MIN_PREFIX = 7;

/**
 * A build by digest (`sha256:<hex>`) or by a unique hex prefix of at least 7 digits, with or
 * without `sha256:`.
 */
export async function findBuild(paths: HomePaths, digestOrPrefix: string): Promise<BuildRecord> {
  const hex = digestOrPrefix
    .trim()
    .toLowerCase()
    .replace(/^sha256:/, '');
  if (!/^[0-9a-f]+$/.test(hex) || hex.length > 64 || hex.length < MIN_PREFIX) {
    throw invalidInput(
      'build_ref_invalid',
      `"${digestOrPrefix}" is not a build digest or a prefix of at least ${MIN_PREFIX} hex digits`,
      'copy a digest from `brr builds`',
    );
  }
  const layout = new OciLayout(paths.oci);
  const matches = (await entriesNewestFirst(layout)).filter((d) => d.digest.slice('sha256:'.length).startsWith(hex));
  const digests = [...new Set(matches.map((b) => b.digest))];
  if (digests.length === 0)
    throw notFound('build_not_found', `no build ${digestOrPrefix} in the store ${paths.oci}`, 'brr builds');
  if (digests.length > 1) {
    throw invalidInput(
      'build_ambiguous',
      `"${digestOrPrefix}" matches ${digests.length} builds: ${digests.join(', ')}`,
      'give more digits of the digest (see `brr builds`)',
      { candidates: digests },
    );
  }
  return buildRecordOf(layout, matches[0]!);
}

/** The newest build recorded for `app`, or null. */
export async function latestBuild(paths: HomePaths, app: string): Promise<BuildRecord | null> {
  const layout = new OciLayout(paths.oci);
  const d = (await entriesNewestFirst(layout)).find((e) => (e.annotations?.[ANNOTATIONS.app] || null) === app);
  return d ? buildRecordOf(layout, d) : null;
}

/**
 * Records that build `digest` was pushed as `reference` on every index entry of that digest
 * (annotation `dev.brr.pushed`, a JSON list), under the store's lock so concurrent pushes of
 * one build both land.
 */
export async function recordPush(paths: HomePaths, digest: string, reference: string): Promise<void> {
  const layout = new OciLayout(paths.oci);
  await layout.updateImages((manifests) =>
    manifests.map((d) => {
      if (d.digest !== digest || !isBrrEntry(d)) return d;
      const pushed = pushedOf(d.annotations?.[PUSHED_ANNOTATION]);
      if (pushed.includes(reference)) return d;
      return { ...d, annotations: { ...d.annotations, [PUSHED_ANNOTATION]: JSON.stringify([...pushed, reference]) } };
    }),
  );
}
