/**
 * `brr keys generate|list`: Ed25519 signing keys as files. Private keys are written 0600 into
 * `<home>/keys` by default and never stored in the ledger; brr never overwrites one, since
 * replacing a key silently orphans its signatures.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { conflict } from '../core/errors.js';
import type { HomePaths } from '../core/home.js';
import { generateSigningKey, loadSigner } from '../release/signing.js';

/** Where `brr keys generate` puts private keys by default: private to the user, like the home. */
export function keysDir(paths: HomePaths): string {
  return path.join(paths.root, 'keys');
}

/** Writes a private key 0600, refusing to overwrite. */
function writePrivateKey(file: string, pem: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw conflict(
        'key_exists',
        `${file} already exists; brr never overwrites a key`,
        'choose another --out FILE, or remove the old key yourself if it is truly unused',
      );
    throw e;
  }
  try {
    writeSync(fd, pem);
  } finally {
    closeSync(fd);
  }
}

/** `brr keys generate`: a new key pair; the private key goes to `out` (default `<home>/keys/ed25519-<id>.pem`). */
export function generateKeyFile(paths: HomePaths, out?: string): { keyId: string; publicKey: string; file: string } {
  const key = generateSigningKey();
  const file = path.resolve(out ?? path.join(keysDir(paths), `${key.keyId.replace(':', '-')}.pem`));
  writePrivateKey(file, key.privatePem);
  return { keyId: key.keyId, publicKey: key.publicKey, file };
}

export interface KeyRow {
  keyId: string | null;
  publicKey: string | null;
  file: string;
  /** The key this command signs with (Settings.signingKeyFile). */
  configured: boolean;
  problem: string | null;
}

/** `brr keys list`: the keys in `<home>/keys` and the configured one, each loaded to prove it works. */
export function listKeys(paths: HomePaths, configuredFile: string | null): KeyRow[] {
  const dir = keysDir(paths);
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.pem'))
        .sort()
        .map((f) => path.join(dir, f))
    : [];
  const configured = configuredFile ? path.resolve(configuredFile) : null;
  if (configured && !files.includes(configured)) files.push(configured);
  return files.map((file) => {
    try {
      const s = loadSigner(readFileSync(file, 'utf8'), file);
      return { keyId: s.keyId, publicKey: s.publicKey, file, configured: file === configured, problem: null };
    } catch (e) {
      return {
        keyId: null,
        publicKey: null,
        file,
        configured: file === configured,
        problem: e instanceof Error ? e.message : String(e),
      };
    }
  });
}
