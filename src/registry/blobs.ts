import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BrrError, isBrrError } from '../core/errors.js';
import type { Descriptor, OciLayout } from '../store/oci-layout.js';
import type { RegistryClient } from './client.js';
import { discard, readBody, type HttpResponse } from './http.js';

/**
 * Blob transfer between the local OCI layout and a registry. Uploads check each blob against its
 * digest in the one read that sends it (small blobs are read whole while the upload session
 * opens, large ones hashed as they stream): a damaged blob is never completed on the registry
 * and fails as `store_corrupt`. Downloads stream to a temp file while hashing, and only a blob whose
 * sha256 and size match the descriptor is adopted into the store.
 */

/** Whether the registry already has the blob (HEAD → 200), so a push can skip it. */
export async function hasRemoteBlob(client: RegistryClient, digest: string): Promise<boolean> {
  const res = await client.send('HEAD', client.url(`blobs/${digest}`), { what: `blob ${digest}`, accept: [404] });
  await discard(res);
  return res.status !== 404;
}

export function blobDamaged(digest: string): BrrError {
  return new BrrError('store_corrupt', `blob ${digest} is missing or damaged in the local store; refusing to push it`, {
    hint: 'rebuild the image (brr build --no-cache) or pull it again',
  });
}

const EMPTY = Buffer.alloc(0);
/** Read size for uploads: large writes, few callbacks (the default 64 KiB costs 8× the calls). */
const UPLOAD_CHUNK = 1024 * 1024;

/**
 * Opens an upload session with POST. With `from` (another repository on the same registry that
 * has the blob), the POST asks the registry to mount it from there instead: 201 means mounted,
 * nothing to send; 202 means it could not, and the answer is a fresh session, so a failed mount
 * costs no extra round trip. A mount refused for lack of rights on `from` falls back to a plain
 * session. Returns the session URL, or 'mounted'.
 */
async function startUpload(client: RegistryClient, digest: string, from: string | null): Promise<URL | 'mounted'> {
  const url = client.url('blobs/uploads/');
  if (from) {
    url.searchParams.set('mount', digest);
    url.searchParams.set('from', from);
  }
  let res: HttpResponse;
  try {
    res = await client.send('POST', url, { what: `upload of blob ${digest}`, length: 0, body: () => EMPTY });
  } catch (e) {
    if (from && isBrrError(e) && (e.code === 'registry_unauthorized' || e.code === 'registry_denied'))
      return startUpload(client, digest, null);
    throw e;
  }
  await discard(res);
  if (from && res.status === 201) return 'mounted';
  const location = res.headers.get('location');
  if (res.status !== 202 || !location) {
    throw new BrrError('registry_error', `${client.registry} did not open an upload session (HTTP ${res.status})`, {
      hint: 'the registry may not support pushes here; check the repository name',
    });
  }
  return new URL(location, client.baseUrl);
}

/**
 * The bytes of blob `d` as they are read, checked on the way: more than its size, or a digest
 * that differs at the end, fails the stream (and so aborts the request before it completes).
 */
function verifyingReader(file: string, d: Descriptor): { stream: Transform; damaged: () => boolean } {
  const hash = createHash('sha256');
  let size = 0;
  let bad = false;
  const fail = (cb: (e: Error) => void) => {
    bad = true;
    cb(blobDamaged(d.digest));
  };
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > d.size) return fail(cb);
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      if (size !== d.size || `sha256:${hash.digest('hex')}` !== d.digest) return fail(cb);
      cb();
    },
  });
  const source = createReadStream(file, { highWaterMark: UPLOAD_CHUNK });
  source.on('error', () => {
    bad = true;
    tap.destroy(blobDamaged(d.digest));
  });
  // The file is closed when the request gives up on the body too.
  tap.once('close', () => source.destroy());
  source.pipe(tap);
  return { stream: tap, damaged: () => bad };
}

/** Blobs up to this size are read whole (while the upload session opens) and sent as one write. */
const IN_MEMORY = 1024 * 1024;

/** The blob's bytes if they match its size and digest, else store_corrupt. */
async function readVerified(file: string, d: Descriptor): Promise<Buffer> {
  const bytes = await readFile(file).catch(() => null);
  if (!bytes || bytes.length !== d.size || `sha256:${createHash('sha256').update(bytes).digest('hex')}` !== d.digest)
    throw blobDamaged(d.digest);
  return bytes;
}

/**
 * Uploads blob `d` from the layout (or mounts it from repository `from`, see startUpload):
 * POST opens the session, one PUT sends the blob whole. A small blob is read and checked while
 * the POST is under way and fails before the PUT when damaged; a large one is streamed and
 * checked as it goes. Returns how the blob got there.
 */
export async function uploadBlob(
  client: RegistryClient,
  layout: OciLayout,
  d: Descriptor,
  from: string | null = null,
): Promise<'mounted' | 'uploaded'> {
  const file = layout.blobPath(d.digest);
  const small = d.size <= IN_MEMORY ? readVerified(file, d) : null;
  // Settled here too, so a mount that makes the read moot leaves no unhandled rejection.
  small?.catch(() => {});
  const session = await startUpload(client, d.digest, from);
  if (session === 'mounted') return 'mounted';
  session.searchParams.set('digest', d.digest);
  const put = { what: `blob ${d.digest}`, headers: { 'content-type': 'application/octet-stream' }, length: d.size };
  if (small) {
    const bytes = await small;
    await discard(await client.send('PUT', session, { ...put, body: () => bytes }));
    return 'uploaded';
  }
  // A missing or truncated file fails before any byte is sent; a damaged one while it is sent.
  const st = await stat(file).catch(() => null);
  if (!st?.isFile() || st.size !== d.size) throw blobDamaged(d.digest);
  // The body factory runs once per attempt (again after an auth challenge): the last one counts.
  let damaged = () => false;
  try {
    const res = await client.send('PUT', session, {
      ...put,
      body: () => {
        const reader = verifyingReader(file, d);
        damaged = reader.damaged;
        return reader.stream;
      },
    });
    await discard(res);
  } catch (e) {
    // Whatever the registry said, a blob that did not match its digest is the store's fault.
    if (damaged()) throw blobDamaged(d.digest);
    throw e;
  }
  if (damaged()) throw blobDamaged(d.digest);
  return 'uploaded';
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
  const tmp = layout.tempPath('pull');
  const { tap, result } = sizeAndHash(size, () => mismatch(client, digest, `more than the ${size} bytes announced`));
  try {
    await pipeline(res.body, tap, createWriteStream(tmp, { flags: 'wx' }));
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
export function readCapped(res: HttpResponse, cap: number, what: string): Promise<Buffer> {
  return readBody(
    res,
    cap,
    () =>
      new BrrError('registry_error', `${what} is larger than ${cap} bytes; refusing it`, {
        hint: 'manifests are small JSON documents; check the reference',
      }),
  );
}
