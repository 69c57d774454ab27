import { PUSHED_ANNOTATION, pushedOf, readManifest } from '../store/image-read.js';
import { ANNOTATIONS, type OciLayout } from '../store/oci-layout.js';
import { parseImageRef } from './reference.js';

/**
 * Where a registry already holds blobs, from the local store's own records: the repositories
 * builds were pushed to (`dev.brr.pushed`) and pulled from (`dev.brr.source`). A push then asks
 * the registry to mount such a blob from there instead of sending it again, or asks with a HEAD
 * whether its own repository has it (push.ts) — what skopeo does with its blob-info cache.
 * These are hints only: a repository deleted or garbage-collected since costs nothing more than
 * the upload the push would have made anyway, since the registry's answer decides.
 */

/** Index entries looked at, newest first: enough for every recent push of an app, bounded reads. */
const ENTRIES = 16;

function repositoryOn(registry: string, ref: string): string | null {
  try {
    const r = parseImageRef(ref);
    return r.registry === registry ? r.repository : null;
  } catch {
    return null;
  }
}

/** Blob digest → repositories of `registry` known to hold it, most recently recorded first. */
export async function blobHomes(layout: OciLayout, registry: string): Promise<Map<string, string[]>> {
  // index.json grows by appending, so its reverse order is newest first.
  const entries = (await layout.listImages()).slice().reverse();
  const repos = new Map<string, string[]>();
  for (const d of entries) {
    if (repos.size >= ENTRIES) break;
    const a = d.annotations ?? {};
    // A built image's source is its git checkout; only a pulled one's names a registry (import.ts).
    const source = a[ANNOTATIONS.cacheKey]?.startsWith('pulled:') ? a[ANNOTATIONS.source] : undefined;
    const refs = [...pushedOf(a[PUSHED_ANNOTATION]).reverse(), ...(source ? [source] : [])];
    for (const ref of refs) {
      const repo = repositoryOn(registry, ref);
      if (!repo) continue;
      const list = repos.get(d.digest) ?? [];
      if (!list.includes(repo)) list.push(repo);
      repos.set(d.digest, list);
    }
  }
  const homes = new Map<string, string[]>();
  const manifests = await Promise.all(
    [...repos.keys()].map((digest) => readManifest(layout, digest).catch(() => null)),
  );
  [...repos.values()].forEach((list, i) => {
    const m = manifests[i];
    if (!m) return;
    for (const b of [m.config, ...m.layers]) {
      if (typeof b?.digest !== 'string') continue;
      const known = homes.get(b.digest) ?? [];
      for (const r of list) if (!known.includes(r)) known.push(r);
      homes.set(b.digest, known);
    }
  });
  return homes;
}
