import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BrrError, invalidInput } from '../core/errors.js';
import type { Config, Release } from '../core/types.js';

/**
 * Secret config values encrypted at rest (AES-256-GCM) with a key the user provides:
 * BRR_SECRETS_KEY (base64 of 32 bytes) or BRR_SECRETS_KEY_FILE (a file holding that text).
 * brr never stores the key; the ledger holds `enc:v1:<keyId>:<base64 nonce‖ciphertext‖tag>`.
 * Values are decrypted only where a process needs them (the run stage) or to prove they can be
 * (rollback preflight). Errors name config keys and key ids, never values.
 */

export const SEALED_PREFIX = 'enc:v1:';

/** The user's key, split by HKDF into independent subkeys: one key, three jobs, no reuse. */
export interface SecretsKey {
  /** 16 hex; names the key in sealed values and errors without revealing anything of it. */
  id: string;
  encKey: Buffer;
  nonceKey: Buffer;
}

const subkey = (ikm: Buffer, info: string, length: number) =>
  Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), `brr-secrets-v1 ${info}`, length));

/** Derives the subkeys from the 32 raw bytes of a user key. */
export function secretsKey(raw: Buffer): SecretsKey {
  if (raw.length !== 32)
    throw invalidInput(
      'secrets_key_invalid',
      `the secrets key must be 32 bytes, got ${raw.length}`,
      'make one with `head -c 32 /dev/urandom | base64`',
    );
  return {
    id: subkey(raw, 'key-id', 8).toString('hex'),
    encKey: subkey(raw, 'encrypt', 32),
    nonceKey: subkey(raw, 'nonce', 32),
  };
}

/** The configured key, or null when none is. A set but unusable key is an error, not "none". */
export function secretsKeyFromEnv(env: { BRR_SECRETS_KEY?: string; BRR_SECRETS_KEY_FILE?: string }): SecretsKey | null {
  let text = env.BRR_SECRETS_KEY;
  let source = 'BRR_SECRETS_KEY';
  if (!text && env.BRR_SECRETS_KEY_FILE) {
    source = `BRR_SECRETS_KEY_FILE (${env.BRR_SECRETS_KEY_FILE})`;
    try {
      text = readFileSync(env.BRR_SECRETS_KEY_FILE, 'utf8');
    } catch (e) {
      throw invalidInput(
        'secrets_key_invalid',
        `cannot read ${source}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
        'point BRR_SECRETS_KEY_FILE at a readable file holding the base64 key',
      );
    }
  }
  if (!text) return null;
  const t = text.trim();
  const raw = Buffer.from(t, 'base64');
  if (raw.length !== 32 || raw.toString('base64') !== t) {
    throw invalidInput(
      'secrets_key_invalid',
      `${source} is not base64 of 32 bytes`,
      'make a key with `head -c 32 /dev/urandom | base64` and keep it outside brr',
    );
  }
  return secretsKey(raw);
}

export function isSealed(value: string): boolean {
  return value.startsWith(SEALED_PREFIX);
}

/**
 * Encrypts `value` of config key `name`. The nonce is deterministic, HMAC(nonceKey, name‖0‖value)
 * cut to 12 bytes (SIV-style), so setting the same value again yields the same text: the
 * planners see "no change" and diff compares ciphertexts. The price: equal values of one key
 * name under one secrets key are linkable in the ledger. Acceptable, since diff only ever says
 * "changed" anyway. GCM's nonce-reuse failure cannot occur, because one nonce only ever
 * encrypts one (name, value) pair, short of a 96-bit HMAC collision. The name is also the
 * AAD, so a ciphertext moved to another key name fails to open.
 */
export function sealSecret(key: SecretsKey, name: string, value: string): string {
  const nonce = createHmac('sha256', key.nonceKey).update(name).update('\0').update(value).digest().subarray(0, 12);
  const cipher = createCipheriv('aes-256-gcm', key.encKey, nonce);
  cipher.setAAD(Buffer.from(name, 'utf8'));
  const body = Buffer.concat([nonce, cipher.update(value, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${SEALED_PREFIX}${key.id}:${body.toString('base64')}`;
}

/** The key id a sealed value needs, or null for a plain value. */
export function sealedKeyId(value: string): string | null {
  if (!isSealed(value)) return null;
  const rest = value.slice(SEALED_PREFIX.length);
  const colon = rest.indexOf(':');
  return colon > 0 ? rest.slice(0, colon) : '';
}

/** Decrypts a sealed value of config key `name`; a plain value (older releases) is returned as is. */
export function openSecret(key: SecretsKey | null, name: string, value: string): string {
  const needed = sealedKeyId(value);
  if (needed === null) return value;
  if (!key) {
    throw new BrrError(
      'secret_key_missing',
      `config key ${name} is encrypted with secrets key ${needed || '(unknown)'}, and no secrets key is configured`,
      {
        hint: `set BRR_SECRETS_KEY (or BRR_SECRETS_KEY_FILE) to key ${needed}; for the supervisor, in its environment (restart it with \`brr shutdown\`, then \`brr run\`)`,
        details: { key: name, keyId: needed },
      },
    );
  }
  if (needed !== key.id) {
    throw new BrrError(
      'secret_key_mismatch',
      `config key ${name} is encrypted with secrets key ${needed}, but the configured key is ${key.id}`,
      {
        hint: `set BRR_SECRETS_KEY (or BRR_SECRETS_KEY_FILE) to key ${needed}, or set the value again under the new key with \`brr config set --secret\``,
        details: { key: name, keyId: needed, configured: key.id },
      },
    );
  }
  const body = Buffer.from(value.slice(SEALED_PREFIX.length + needed.length + 1), 'base64');
  try {
    if (body.length < 28) throw new Error('short');
    const decipher = createDecipheriv('aes-256-gcm', key.encKey, body.subarray(0, 12));
    decipher.setAAD(Buffer.from(name, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([decipher.update(body.subarray(12, body.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    throw new BrrError(
      'secret_corrupt',
      `config key ${name} does not decrypt with secrets key ${key.id}: the stored value was altered`,
      {
        hint: 'run `brr verify`; set the value again with `brr config set --secret`',
        details: { key: name, keyId: key.id },
      },
    );
  }
}

/**
 * The `set` of a config change with every value that will be secret sealed: those set with
 * `--secret`, and those whose key is already secret in `base` (secrecy is sticky). Without a
 * key, refuses: a plaintext secret in an append-only ledger could never be taken back.
 */
export function sealConfigChange(
  base: Config,
  set: Record<string, string>,
  secret: boolean,
  key: SecretsKey | null,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(set)) {
    if (!secret && !base[name]?.secret) {
      out[name] = value;
      continue;
    }
    if (!key) {
      throw new BrrError(
        'secret_key_missing',
        `config key ${name} is secret, and secrets are stored only encrypted: no secrets key is configured`,
        {
          exitCode: 2,
          hint: 'set BRR_SECRETS_KEY to base64 of 32 random bytes (`head -c 32 /dev/urandom | base64`) or BRR_SECRETS_KEY_FILE to a file holding it; keep it outside brr, every host that runs the app needs it',
          details: { key: name },
        },
      );
    }
    out[name] = sealSecret(key, name, value);
  }
  return out;
}

/**
 * A copy of `config` with sealed secrets decrypted (still marked secret), for code that must
 * recognise secret values in text it prints, e.g. to mask them in a command's output. Masking
 * ciphertext would protect nothing. Keep the result in memory only.
 */
export function openConfig(config: Config, key: SecretsKey | null): Config {
  const out: Config = {};
  for (const [name, v] of Object.entries(config))
    out[name] = { value: v.secret ? openSecret(key, name, v.value) : v.value, secret: v.secret };
  return out;
}

/** Throws the BrrError that running `release` would meet if a secret of it cannot be decrypted. */
export function checkReleaseDecrypts(
  release: Pick<Release, 'config'>,
  env: { BRR_SECRETS_KEY?: string; BRR_SECRETS_KEY_FILE?: string },
): void {
  const sealed = Object.entries(release.config).filter(([, v]) => v.secret && isSealed(v.value));
  if (sealed.length === 0) return;
  const key = secretsKeyFromEnv(env);
  for (const [name, v] of sealed) openSecret(key, name, v.value);
}
