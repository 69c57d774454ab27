import { sha256Digest } from '../core/canonical-json.js';
import { BrrError } from '../core/errors.js';
import { readCapped } from './blobs.js';
import type { RegistryClient } from './client.js';
import { discard } from './http.js';
import { MANIFEST_ACCEPT, isIndexType, isManifestType } from './media-types.js';

/**
 * Manifests by tag or digest. The digest of a manifest is the sha256 of its exact bytes, so the
 * bytes are kept as received (never re-serialized) and checked against the digest asked for.
 */

export interface RemoteManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
  json: Record<string, unknown>;
}

/** Manifests above this are refused (the distribution spec suggests registries accept 4 MiB). */
const MANIFEST_CAP = 4 * 1024 * 1024;

export async function getManifest(client: RegistryClient, reference: string): Promise<RemoteManifest> {
  const what = `manifest ${reference}`;
  const res = await client.send('GET', client.url(`manifests/${reference}`), {
    what,
    headers: { accept: MANIFEST_ACCEPT.join(', ') },
  });
  const bytes = await readCapped(res, MANIFEST_CAP, `${client.registry}/${client.repository} ${what}`);
  const digest = sha256Digest(bytes);
  if (reference.startsWith('sha256:') && digest !== reference) {
    throw new BrrError(
      'registry_digest_mismatch',
      `${client.registry}/${client.repository}: manifest ${reference} arrived with content ${digest}; discarded`,
      {
        hint: 'the registry or something between you and it altered the data',
      },
    );
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new BrrError('image_unsupported', `${client.registry}/${client.repository} ${what} is not JSON`, {
      hint: 'brr reads OCI and Docker v2 manifests',
    });
  }
  // The body's own mediaType wins over the header: some registries send a generic Content-Type.
  const header = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  const mediaType = typeof json.mediaType === 'string' ? json.mediaType : header;
  if (!isIndexType(mediaType) && !isManifestType(mediaType)) {
    throw new BrrError(
      'image_unsupported',
      `${client.registry}/${client.repository} ${what} has media type "${mediaType || 'none'}"`,
      {
        hint: 'brr reads OCI and Docker v2 manifests and indexes (not Docker schema 1)',
      },
    );
  }
  return { bytes, mediaType, digest, json };
}

/** Uploads manifest bytes under `reference` (a tag or its digest); returns the digest. */
export async function putManifest(
  client: RegistryClient,
  reference: string,
  mediaType: string,
  bytes: Buffer,
): Promise<string> {
  const digest = sha256Digest(bytes);
  const res = await client.send('PUT', client.url(`manifests/${reference}`), {
    what: `manifest ${reference}`,
    headers: { 'content-type': mediaType },
    length: bytes.length,
    body: () => bytes,
  });
  await discard(res);
  const echoed = res.headers.get('docker-content-digest');
  if (echoed && echoed !== digest) {
    throw new BrrError(
      'registry_digest_mismatch',
      `${client.registry}/${client.repository} stored the manifest as ${echoed}, not ${digest}`,
      {
        hint: 'the registry rewrote the manifest; brr needs registries that keep manifests byte for byte',
      },
    );
  }
  return digest;
}

/** Whether the registry has manifest `reference` (HEAD). */
export async function hasManifest(client: RegistryClient, reference: string): Promise<boolean> {
  const res = await client.send('HEAD', client.url(`manifests/${reference}`), {
    what: `manifest ${reference}`,
    headers: { accept: MANIFEST_ACCEPT.join(', ') },
    accept: [404],
  });
  await discard(res);
  return res.status !== 404;
}
