import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { invalidInput } from '../core/errors.js';
import { sha256Hex } from '../core/canonical-json.js';

/**
 * Release signatures (Ed25519, node:crypto). A signature is a ledger event of type 'signed'
 * appended beside the release, so the drivers stay untouched and the event chain makes the
 * signature itself tamper-evident; forging one still needs the private key.
 *
 * What is signed is a domain-separated text naming app, id and hash, not the bare hash: a
 * signature for v3 of one app must not be replayable as a signature for another app or id
 * whose body happens to hash the same way (it cannot, but the prefix costs nothing and also
 * keeps these signatures from ever being mistaken for signatures of some other protocol).
 */

/** Detail of a 'signed' event. */
export interface SignedDetail {
  /** The release hash the signature covers (the ledger's sha256 of the release body). */
  hash: string;
  /** `ed25519:<16 hex>`, derived from the public key (never trusted as given: see checkSignature). */
  keyId: string;
  /** Base64 of the raw 32-byte Ed25519 public key (SPKI DER base64 is accepted when reading). */
  publicKey: string;
  /** Base64 Ed25519 signature over releaseSigningText(app, id, hash). */
  signature: string;
}

/** A private signing key, loaded. */
export interface Signer {
  keyId: string;
  publicKey: string;
  privateKey: KeyObject;
}

/** The exact bytes a release signature covers. */
export function releaseSigningText(app: string, id: string, hash: string): string {
  return `brr-release-v1:${app}:${id}:${hash}`;
}

/** `ed25519:` + the first 16 hex of sha256 of the raw public key. */
export function keyIdOf(rawPublicKey: Uint8Array): string {
  return `ed25519:${sha256Hex(rawPublicKey).slice(0, 16)}`;
}

/** The raw 32 bytes of an Ed25519 public (or private) key. */
export function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ed25519')
    throw invalidInput(
      'key_not_ed25519',
      `expected an Ed25519 key, got ${pub.asymmetricKeyType ?? 'an unknown key type'}`,
      'create one with `brr keys generate`',
    );
  const { x } = pub.export({ format: 'jwk' });
  return Buffer.from(x as string, 'base64url');
}

export interface PublicKeyInfo {
  keyId: string;
  /** Base64 of the raw 32-byte key: the one stored form. */
  publicKey: string;
  key: KeyObject;
}

/**
 * Reads a public key given as base64 raw (32 bytes), base64 SPKI DER, or PEM (a public key, or
 * a private key whose public half is meant). Anything else is invalid input.
 */
export function parsePublicKey(text: string): PublicKeyInfo {
  const t = text.trim();
  let key: KeyObject;
  try {
    if (t.startsWith('-----BEGIN')) key = createPublicKey(t);
    else {
      const bytes = Buffer.from(t, 'base64');
      if (bytes.length === 0 || bytes.toString('base64').replace(/=+$/, '') !== t.replace(/=+$/, ''))
        throw new Error('not base64');
      key =
        bytes.length === 32
          ? createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: bytes.toString('base64url') }, format: 'jwk' })
          : createPublicKey({ key: bytes, format: 'der', type: 'spki' });
    }
  } catch (e) {
    throw invalidInput(
      'public_key_invalid',
      'not an Ed25519 public key (expected base64 of the raw 32 bytes, base64 SPKI DER, or a PEM file)',
      '`brr keys list` prints public keys in the expected form',
      { cause: e instanceof Error ? e.message : String(e) },
    );
  }
  const raw = rawPublicKey(key);
  return { keyId: keyIdOf(raw), publicKey: raw.toString('base64'), key };
}

/** A fresh key pair: the private key as PKCS#8 PEM, the public key in its stored form. */
export function generateSigningKey(): { privatePem: string; keyId: string; publicKey: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const raw = rawPublicKey(privateKey);
  return {
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    keyId: keyIdOf(raw),
    publicKey: raw.toString('base64'),
  };
}

/** Loads a private key from PEM text; `source` names it in errors (a path, never the key). */
export function loadSigner(pem: string, source: string): Signer {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw invalidInput(
      'signing_key_invalid',
      `${source} is not a PEM private key`,
      'create a signing key with `brr keys generate` and point BRR_SIGNING_KEY (or --signing-key) at it',
    );
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw invalidInput(
      'signing_key_invalid',
      `${source} is a ${privateKey.asymmetricKeyType ?? 'non-Ed25519'} key; brr signs with Ed25519`,
      'create one with `brr keys generate`',
    );
  }
  const raw = rawPublicKey(privateKey);
  return { keyId: keyIdOf(raw), publicKey: raw.toString('base64'), privateKey };
}

/** The 'signed' event detail for one release. */
export function signReleaseHash(signer: Signer, release: { app: string; id: string; hash: string }): SignedDetail {
  const signature = sign(
    null,
    Buffer.from(releaseSigningText(release.app, release.id, release.hash), 'utf8'),
    signer.privateKey,
  );
  return {
    hash: release.hash,
    keyId: signer.keyId,
    publicKey: signer.publicKey,
    signature: signature.toString('base64'),
  };
}

/** What a 'signed' event says about its release, after checking it. */
export interface SignatureCheck {
  /** The key id derived from the event's public key (null when the key is unreadable). */
  keyId: string | null;
  /** The public key in its stored form (null when unreadable). */
  publicKey: string | null;
  valid: boolean;
  /** Why it is not valid, or null. */
  problem: string | null;
}

/**
 * Checks one 'signed' event against the release as the ledger holds it now. The key id is
 * recomputed from the public key: a claimed id is never believed, or anyone could sign with
 * their own key and name a trusted one.
 */
export function checkSignature(
  detail: Record<string, unknown>,
  release: { app: string; id: string; hash: string },
): SignatureCheck {
  const { hash, keyId, publicKey, signature } = detail;
  if (
    typeof hash !== 'string' ||
    typeof keyId !== 'string' ||
    typeof publicKey !== 'string' ||
    typeof signature !== 'string'
  ) {
    return {
      keyId: null,
      publicKey: null,
      valid: false,
      problem: 'signed event is malformed (needs hash, keyId, publicKey, signature)',
    };
  }
  let info: PublicKeyInfo;
  try {
    info = parsePublicKey(publicKey);
  } catch {
    return {
      keyId: null,
      publicKey: null,
      valid: false,
      problem: `signature by ${keyId}: the public key is not an Ed25519 key`,
    };
  }
  const bad = (problem: string): SignatureCheck => ({
    keyId: info.keyId,
    publicKey: info.publicKey,
    valid: false,
    problem,
  });
  if (info.keyId !== keyId) return bad(`signature claims key ${keyId} but its public key is ${info.keyId}`);
  if (hash !== release.hash)
    return bad(
      `signature by ${keyId} covers hash ${hash.slice(0, 12)}…, but ${release.id} hashes to ${release.hash.slice(0, 12)}…`,
    );
  const ok = verify(
    null,
    Buffer.from(releaseSigningText(release.app, release.id, hash), 'utf8'),
    info.key,
    Buffer.from(signature, 'base64'),
  );
  return ok
    ? { keyId: info.keyId, publicKey: info.publicKey, valid: true, problem: null }
    : bad(`signature by ${keyId} does not verify: forged or corrupted`);
}
