import { invalidInput, notFound } from '../core/errors.js';
import type { HomePaths } from '../core/home.js';
import type { BuildRecord } from '../core/types.js';
import { buildRecordOf, isBrrEntry } from './image-read.js';
import { OciLayout } from './oci-layout.js';

/**
 * The builds in the local store, read from the OCI index. One image built for two apps has two
 * index entries (two refs, one digest), so it is listed once per app.
 */

/** Every build, newest first (by the time it was stored). */
export async function listBuilds(paths: HomePaths): Promise<BuildRecord[]> {
  const layout = new OciLayout(paths.oci);
  const entries = (await layout.listImages()).filter(isBrrEntry);
  const records: BuildRecord[] = [];
  for (const d of entries) records.push(await buildRecordOf(layout, d));
  // Reverse first so that among equal times the entry added last comes first (sort is stable).
  return records.reverse().sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
}

const MIN_PREFIX = 7;

/**
 * A build by digest (`sha256:<hex>`) or by a unique hex prefix of at least 7 digits, with or
 * without `sha256:`.
 */
export async function findBuild(paths: HomePaths, digestOrPrefix: string): Promise<BuildRecord> {
  const hex = digestOrPrefix.trim().toLowerCase().replace(/^sha256:/, '');
  if (!/^[0-9a-f]+$/.test(hex) || hex.length > 64 || hex.length < MIN_PREFIX) {
    throw invalidInput('build_ref_invalid', `"${digestOrPrefix}" is not a build digest or a prefix of at least ${MIN_PREFIX} hex digits`, 'copy a digest from `brr builds`');
  }
  const matches = (await listBuilds(paths)).filter((b) => b.digest.slice('sha256:'.length).startsWith(hex));
  const digests = [...new Set(matches.map((b) => b.digest))];
  if (digests.length === 0) throw notFound('build_not_found', `no build ${digestOrPrefix} in the store ${paths.oci}`, 'brr builds');
  if (digests.length > 1) {
    throw invalidInput('build_ambiguous', `"${digestOrPrefix}" matches ${digests.length} builds: ${digests.join(', ')}`, 'give more digits of the digest (see `brr builds`)', { candidates: digests });
  }
  return matches[0]!;
}

/** The newest build recorded for `app`, or null. */
export async function latestBuild(paths: HomePaths, app: string): Promise<BuildRecord | null> {
  return (await listBuilds(paths)).find((b) => b.app === app) ?? null;
}
