import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { BrrError } from '../core/errors.js';
import type { OciLayout } from '../store/oci-layout.js';
import type { RegistryClient } from './client.js';

/**
 * Blob transfer between the local OCI layout and a registry. Uploads stream from the blob file;
 * downloads stream to a temp file while hashing, and only a blob whose sha256 and size match the
 * descriptor is adopted into the store.
 */

/** Whether the registry already has the blob (HEAD → 200), so a push can skip it. */
export async function hasRemoteBlob(client: RegistryClient, digest: string): Promise<boolean> {
  const res = await client.send('HEAD', client.url(`blobs/${digest}`), { what: `blob ${digest}`, accept: [404] });
  await res.body?.cancel();
  return res.status !== 404;
}

/** Uploads one blob from the layout: POST opens an upload session, PUT sends it whole. */
export async function uploadBlob(
  client: RegistryClient,
  layout: OciLayout,
  digest: string,
  size: number,
): Promise<void> {
  const start = await client.send('POST', client.url('blobs/uploads/'), {
    what: `upload of blob ${digest}`,
    length: 0,
    body: () => new Uint8Array(0),
  });
  await start.body?.cancel();
  const location = start.headers.get('location');
  if (start.status !== 202 || !location) {
    throw new BrrError('registry_error', `${client.registry} did not open an upload session (HTTP ${start.status})`, {
      hint: 'the registry may not support pushes here; check the repository name',
    });
  }
  const url = new URL(location, client.baseUrl);
  url.searchParams.set('digest', digest);
  const file = layout.blobPath(digest);
  const res = await client.send('PUT', url, {
    what: `blob ${digest}`,
    headers: { 'content-type': 'application/octet-stream' },
    length: size,
    body: () => Readable.toWeb(createReadStream(file)) as unknown as BodyInit,
  });
  await res.body?.cancel();
}

function sizeAndHash(expectSize: number | null, onTooBig: () => Error) {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (expectSize !== null && size > expectSize) return cb(onTooBig());
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  return { tap, result: () => ({ digest: `sha256:${hash.digest('hex')}`, size }) };
}

function mismatch(client: RegistryClient, digest: string, got: string): BrrError {
  return new BrrError(
    'registry_digest_mismatch',
    `${client.registry}/${client.repository}: blob ${digest} arrived with content ${got}; discarded`,
    {
      hint: 'the registry or something between you and it altered the data; retry, and tell the registry operator if it repeats',
    },
  );
}

/**
 * Downloads blob `digest` into the layout unless it is already there and intact. Returns true
 * when bytes were transferred.
 */
export async function downloadBlob(
  client: RegistryClient,
  layout: OciLayout,
  digest: string,
  size: number | null,
): Promise<boolean> {
  if ((await layout.verifyBlob(digest)) === 'ok') return false;
  const res = await client.send('GET', client.url(`blobs/${digest}`), { what: `blob ${digest}` });
  if (!res.body) throw mismatch(client, digest, 'an empty body');
  const tmp = layout.tempPath('pull');
  const { tap, result } = sizeAndHash(size, () => mismatch(client, digest, `more than the ${size} bytes announced`));
  try {
    await pipeline(
      Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
      tap,
      createWriteStream(tmp, { flags: 'wx' }),
    );
    const got = result();
    if (got.digest !== digest || (size !== null && got.size !== size))
      throw mismatch(client, digest, `${got.digest} (${got.size} bytes)`);
    await layout.adoptBlob(tmp, digest);
    return true;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Reads a small JSON-ish body (manifests) with a size cap, so a hostile registry cannot exhaust memory. */
export async function readCapped(res: Response, cap: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  if (res.body) {
    for await (const c of Readable.fromWeb(res.body as WebReadableStream<Uint8Array>)) {
      n += (c as Buffer).length;
      if (n > cap) {
        throw new BrrError('registry_error', `${what} is larger than ${cap} bytes; refusing it`, {
          hint: 'manifests are small JSON documents; check the reference',
        });
      }
      chunks.push(c as Buffer);
    }
  }
  return Buffer.concat(chunks);
}
